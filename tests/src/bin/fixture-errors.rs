//! Test fixture for the exit report: `ERROR` picks an annotated fn that fails before its
//! `#[ready]` marker with `string` (`Result<(), String>`), `boxed` (`Box<dyn Error + Send>`
//! holding an io::Error ENOENT), `chain` (an error whose `source()` is an io::Error EACCES)
//! or `included` (the same, its Display already containing the source's text); without
//! `ERROR`, `EXIT` picks an `ExitCode` fn returning `from(EXIT)` or, for `failure`,
//! `ExitCode::FAILURE` (`0`: ready, then SUCCESS).

use std::error::Error;
use std::fmt;
use std::io;
use std::process::ExitCode;

use sd_notify_core::sd_service;

fn main() -> ExitCode {
    match std::env::var("ERROR").as_deref() {
        Ok("string") => string(),
        Ok("boxed") => boxed(),
        Ok("chain") => chain(),
        Ok("included") => included(),
        Ok(other) => panic!("unknown ERROR={other}"),
        Err(_) => exit_code(),
    }
}

#[sd_service]
fn string() -> Result<(), String> {
    #[ready]
    Err::<(), _>("config is \"bad\"".to_owned())?;
    Ok(())
}

#[sd_service]
fn boxed() -> Result<(), Box<dyn Error + Send>> {
    #[ready]
    Err::<(), Box<dyn Error + Send>>(Box::new(io::Error::from_raw_os_error(libc::ENOENT)))?;
    Ok(())
}

/// "opening config", caused by an io::Error.
#[derive(Debug)]
struct ConfigError {
    source: io::Error,
    /// Whether the Display text already contains the source's.
    included: bool,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.included {
            true => write!(f, "opening config: {}", self.source),
            false => f.write_str("opening config"),
        }
    }
}

impl Error for ConfigError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.source)
    }
}

#[sd_service]
fn chain() -> Result<(), ConfigError> {
    #[ready]
    Err(ConfigError { source: io::Error::from_raw_os_error(libc::EACCES), included: false })?;
    Ok(())
}

#[sd_service]
fn included() -> Result<(), ConfigError> {
    #[ready]
    Err(ConfigError { source: io::Error::from_raw_os_error(libc::EACCES), included: true })?;
    Ok(())
}

#[sd_service]
fn exit_code() -> ExitCode {
    let code = match std::env::var("EXIT").as_deref() {
        Ok("failure") => ExitCode::FAILURE,
        Ok(n) => ExitCode::from(n.parse::<u8>().expect("EXIT=<u8>|failure")),
        Err(_) => ExitCode::SUCCESS,
    };
    if code != ExitCode::SUCCESS {
        return code;
    }
    #[ready]
    eprintln!("fixture-errors: ready");
    code
}
