// #[actix_rt::main] below #[sd_service].
#![deny(warnings, unused_qualifications)]

use sd_notify_core::{ServiceHandle, sd_service};

#[sd_service(running = "up")]
#[actix_rt::main]
async fn main(service: ServiceHandle) {
    #[ready]
    actix_rt::task::yield_now().await;
    assert!(!service.is_stopping());
}
