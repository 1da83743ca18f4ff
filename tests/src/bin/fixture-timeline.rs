//! Test fixture: an async `#[sd_service]` (not `main`) that prints time stamps of its life
//! cycle on stdout (`T <label> <CLOCK_MONOTONIC µs>`, see `sd_notify_tests::mark`): `main`
//! (before the service starts), `ready` (first statement after the `#[ready]` marker),
//! `shutdown` (`shutdown()` completed), `returning` (the body returns). Knobs: `INIT_MS`
//! (init before the marker), `SHUTDOWN_MS` (graceful shutdown after `shutdown()`).
//! Used for a manager that never reads, one that appears late, and repeated stop signals.

use std::process::ExitCode;
use std::time::Duration;

use sd_notify_core::{ServiceHandle, sd_service};
use sd_notify_tests::{knob, mark};

fn main() -> ExitCode {
    mark("main");
    run()
}

#[sd_service(starting = "Starting", running = "Running", stopping = "Stopping")]
#[tokio::main(flavor = "current_thread")]
async fn run(service: ServiceHandle) {
    #[ready]
    tokio::time::sleep(Duration::from_millis(knob("INIT_MS").unwrap_or(0))).await;
    mark("ready");
    service.shutdown().await;
    mark("shutdown");
    tokio::time::sleep(Duration::from_millis(knob("SHUTDOWN_MS").unwrap_or(0))).await;
    mark("returning");
}
