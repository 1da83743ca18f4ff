//! Part 5 baseline: `bench-service-sync` without the attribute — `READY=1` with
//! `sd_notify_core::notify`, then the same loop sleeping `BENCH_LOOP_MS` milliseconds
//! (default 100) per turn (no signal handling: SIGTERM ends it with the default action).

use std::time::Duration;

use sd_notify_core::NotifyState;

fn main() {
    if let Err(e) = sd_notify_core::notify(&[NotifyState::Ready]) {
        eprintln!("bench-baseline-sync: READY=1: {e}");
    }
    let ms = std::env::var("BENCH_LOOP_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    loop {
        std::thread::sleep(Duration::from_millis(ms));
    }
}
