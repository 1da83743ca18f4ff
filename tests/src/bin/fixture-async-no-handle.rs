//! Test fixture: an async `#[sd_service]` without a handle, so the attribute stops it: on
//! SIGTERM the body future is dropped (its guard then sends `X_BODY=dropped`, which the test
//! looks for) and main exits 0.

use std::time::Duration;

use sd_notify_core::sd_service;
use sd_notify_tests::knob;

struct Guard;
impl Drop for Guard {
    fn drop(&mut self) {
        let dropped = sd_notify_core::NotifyState::Extension { key: "X_BODY", value: "dropped" };
        if let Err(e) = sd_notify_core::notify(&[dropped]) {
            eprintln!("fixture: {e}");
        }
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
