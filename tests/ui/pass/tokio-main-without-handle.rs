// An async main without the handle: a stop signal drops the body at its next `.await`.
// The marker is on an expression statement.
#![deny(warnings, unused_qualifications)]

use sd_notify_core::sd_service;

#[sd_service(running = "up")]
#[tokio::main(flavor = "current_thread")]
async fn main() {
    #[ready]
    tokio::task::yield_now().await;
    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
}
