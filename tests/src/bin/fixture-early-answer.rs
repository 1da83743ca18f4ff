//! Test fixture: a sync `#[sd_service]` with `reload` that answers a reload nobody asked for:
//! before its `#[ready]` marker (then `INIT_MS`, default 300, of init) and again once ready.
//! Each time it sends what `reload_done()` and `reload_failed()` returned (their Debug
//! text) as `X_<WHEN>_DONE=` and `X_<WHEN>_FAILED=` in one datagram, WHEN = EARLY / LATE.

use std::time::Duration;

use sd_notify_core::{NotifyState, ServiceHandle, notify, sd_service};
use sd_notify_tests::knob;

#[sd_service(running = "Running", reload)]
fn main(service: ServiceHandle) {
    answer(service, "X_EARLY_DONE", "X_EARLY_FAILED");
    #[ready]
    std::thread::sleep(Duration::from_millis(knob("INIT_MS").unwrap_or(300)));
    answer(service, "X_LATE_DONE", "X_LATE_FAILED");
    while !service.is_stopping() {
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn answer(service: ServiceHandle, done_key: &'static str, failed_key: &'static str) {
    let done = format!("{:?}", service.reload_done());
    let failed = format!("{:?}", service.reload_failed("nothing to reload"));
    let states = [
        NotifyState::Extension { key: done_key, value: &done },
        NotifyState::Extension { key: failed_key, value: &failed },
    ];
    if let Err(e) = notify(&states) {
        eprintln!("fixture: {e}");
    }
}
