//! Test fixture: a sync `#[sd_service]` without a handle and without a marker: READY goes
//! out at start, and SIGTERM ends the process (exit 0) after STOPPING.

use std::time::Duration;

use sd_notify_core::sd_service;

#[sd_service(stopping = "Bye")]
fn main() {
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}
