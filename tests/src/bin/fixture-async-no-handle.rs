//! Test fixture: an async `#[sd_service]` without a handle, so the attribute stops it: on
//! SIGTERM the body future is dropped (its guard prints "body dropped") and main exits 0.

use std::time::Duration;

use sd_notify_core::sd_service;
use sd_notify_tests::knob;

struct Guard;
impl Drop for Guard {
    fn drop(&mut self) {
        println!("body dropped");
    }
}

#[sd_service]
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let _guard = Guard;
    #[ready]
    tokio::time::sleep(Duration::from_millis(knob("INIT_MS").unwrap_or(0))).await;
    std::future::pending::<()>().await;
}
