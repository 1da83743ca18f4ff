// Attributes on the fn: docs, cfg, lint levels (they reach the user's code), inner
// attributes, a `mut` handle pattern, a path to `ServiceHandle`, a raw identifier as name.
#![deny(warnings, unused_qualifications, missing_docs)]
//! A binary with an attribute-heavy service fn.
#![allow(clippy::mixed_attributes_style)] // outer and inner attributes, on purpose

use sd_notify_core::sd_service;

/// The service.
#[sd_service]
#[cfg(unix)]
#[allow(clippy::needless_return)]
#[inline(never)]
pub fn r#loop(mut service: sd_notify_core::ServiceHandle) -> Result<(), String> {
    #![allow(unused_variables)]
    let unused = 1;
    let stopping = service.is_stopping();
    #[ready]
    service = sd_notify_core::ServiceHandle::current().expect("inside the service");
    if stopping || service.is_stopping() {
        return Err("stopped early".to_owned());
    }
    return Ok(());
}

fn main() -> std::process::ExitCode {
    r#loop()
}
