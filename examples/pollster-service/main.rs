//! `#[sd_service]` with another executor: `pollster`, the smallest `block_on` there is.
//! The handle's futures are runtime-agnostic (they are woken by the service thread), so any
//! executor can await them. See `pollster-service.service` beside this file.

use sd_notify_core::{ServiceHandle, sd_service};

#[sd_service(running = "Waiting for work", stopping = "Finishing")]
#[pollster::main]
async fn main(service: ServiceHandle) {
    // A real service would do its work here; this one waits to be stopped or reloaded.
    service.shutdown().await;
    println!("stop requested; cleaning up");
}
