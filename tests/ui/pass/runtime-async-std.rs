// #[async_std::main] accepts only a fn named `main`: the runtime fn is always named so.
#![deny(warnings, unused_qualifications)]

use sd_notify_core::{ServiceHandle, sd_service};

#[sd_service(running = "up")]
#[async_std::main]
async fn main(service: ServiceHandle) -> std::io::Result<()> {
    #[ready]
    async_std::task::yield_now().await;
    assert!(!service.is_stopping());
    Ok(())
}
