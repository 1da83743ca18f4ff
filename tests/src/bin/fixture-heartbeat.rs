//! Test fixture for progress-tied pings of a sync `#[sd_service]`: its loop calls
//! `service.heartbeat()` every 10 ms for `HEARTBEAT_MS` (default 1000), then sends
//! `X_STALLED=1` and stops calling it (a stall: it only checks `is_stopping()` from then on).

use std::time::{Duration, Instant};

use sd_notify_core::{NotifyState, ServiceHandle, notify, sd_service};
use sd_notify_tests::knob;

#[sd_service]
fn main(service: ServiceHandle) {
    let beating = Instant::now();
    while beating.elapsed() < Duration::from_millis(knob("HEARTBEAT_MS").unwrap_or(1000)) {
        service.heartbeat();
        std::thread::sleep(Duration::from_millis(10));
    }
    if let Err(e) = notify(&[NotifyState::Extension { key: "X_STALLED", value: "1" }]) {
        eprintln!("fixture: {e}");
    }
    while !service.is_stopping() {
        std::thread::sleep(Duration::from_millis(10));
    }
}
