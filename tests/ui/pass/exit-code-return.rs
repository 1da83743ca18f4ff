// A main that returns ExitCode (any Termination type works).
#![deny(warnings, unused_qualifications)]

use std::process::ExitCode;

use sd_notify_core::sd_service;

#[sd_service(stopping = "exiting")]
fn main() -> ExitCode {
    ExitCode::SUCCESS
}
