// #[tokio::main(flavor = "current_thread")] below #[sd_service], with the handle.
#![deny(warnings, unused_qualifications)]

use sd_notify_core::{Service, sd_service};

#[sd_service(running = "up")]
#[tokio::main(flavor = "current_thread")]
async fn main(service: Service) {
    #[ready]
    tokio::task::yield_now().await;
    assert!(!service.is_stopping());
}
