//! An async service fn with the handle, returning `ExitCode`, on a multi-thread runtime.
#![deny(clippy::all, clippy::pedantic)]

use std::process::ExitCode;

use sd_notify_core::{ServiceHandle, sd_service};

#[sd_service(running = "serving")]
#[tokio::main]
async fn serve(service: ServiceHandle) -> ExitCode {
    #[ready]
    let mut ticks = tokio::time::interval(std::time::Duration::from_millis(10));
    loop {
        tokio::select! {
            () = service.shutdown() => return ExitCode::SUCCESS,
            _ = ticks.tick() => {}
        }
    }
}

fn main() -> ExitCode {
    serve()
}
