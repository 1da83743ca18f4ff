//! A sync service fn with the handle, returning `ExitCode`, called from `main`.
#![deny(clippy::all, clippy::pedantic)]

use std::process::ExitCode;

use sd_notify_core::{ServiceHandle, sd_service};

#[sd_service(reload)]
fn serve(service: ServiceHandle) -> ExitCode {
    while !service.is_stopping() {
        service.heartbeat();
        if service.reload_pending() {
            service.reload_done();
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    serve()
}
