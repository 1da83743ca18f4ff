//! Restriction lints about the return type are reported once, on the type as written: the
//! `#[expect]` on the fn covers that place, and the copies of the type in the generated
//! code (outside the user's fn) must not be reported again. The `#[allow]` the attribute
//! generates is not the user's: `allow_attributes` does not report it.
#![deny(clippy::all, clippy::pedantic)]
#![deny(clippy::absolute_paths, clippy::std_instead_of_core)]
#![deny(clippy::allow_attributes, clippy::allow_attributes_without_reason)]

use std::env;
use std::process::ExitCode;

use sd_notify_core::sd_service;

#[sd_service]
#[tokio::main(flavor = "current_thread")]
#[expect(clippy::absolute_paths, clippy::std_instead_of_core, reason = "the case under test")]
async fn serve() -> Result<(), std::fmt::Error> {
    Ok(())
}

#[sd_service]
#[expect(clippy::absolute_paths, reason = "the case under test")]
fn run() -> Result<(), std::io::Error> {
    std::fs::metadata("/").map(drop)
}

fn main() -> ExitCode {
    if env::args().count() > 1 { run() } else { serve() }
}
