//! Restriction lints about the return type are reported once, on the type as written: the
//! `#[expect]` on the fn covers that place, and the copies of the type in the generated
//! code (outside the user's fn) must not be reported again.
#![deny(clippy::all, clippy::pedantic, clippy::absolute_paths, clippy::std_instead_of_core)]

use std::env;
use std::process::ExitCode;

use sd_notify_core::sd_service;

#[sd_service]
#[tokio::main(flavor = "current_thread")]
#[expect(clippy::absolute_paths, clippy::std_instead_of_core)]
async fn serve() -> Result<(), std::fmt::Error> {
    Ok(())
}

#[sd_service]
#[expect(clippy::absolute_paths)]
fn run() -> Result<(), std::io::Error> {
    std::fs::metadata("/").map(drop)
}

fn main() -> ExitCode {
    if env::args().count() > 1 { run() } else { serve() }
}
