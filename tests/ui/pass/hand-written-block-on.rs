// A sync service fn that runs its own runtime is not mistaken for a runtime attribute
// above #[sd_service]: the `async` block is the user's.
#![deny(warnings, unused_qualifications)]

use sd_notify_core::{ServiceHandle, sd_service};

#[sd_service]
fn main(service: ServiceHandle) {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    runtime.block_on(async {
        tokio::task::yield_now().await;
    });
    pollster::block_on(async move { assert!(!service.is_stopping()) });
}
