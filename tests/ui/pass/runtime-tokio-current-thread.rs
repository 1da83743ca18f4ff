// #[tokio::main(flavor = "current_thread")] below #[sd_service], with the handle.
#![deny(warnings, unused_qualifications)]

use sd_notify_core::{ServiceHandle, sd_service};

#[sd_service(running = "up")]
#[tokio::main(flavor = "current_thread")]
async fn main(service: ServiceHandle) {
    #[ready]
    tokio::task::yield_now().await;
    assert!(!service.is_stopping());
}
