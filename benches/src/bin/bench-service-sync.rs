//! Parts 3 and 5: the sync `#[sd_service]` service with a handle that `bench-all` measures.
//! Its loop checks `service.is_stopping()` every `BENCH_LOOP_MS` milliseconds (default 100),
//! as a sync worker between jobs would; `STOPPING=1` itself is sent by the attribute's signal
//! handler, whatever the loop is doing.

use std::time::Duration;

use sd_notify_core::{ServiceHandle, sd_service};

#[sd_service]
fn main(service: ServiceHandle) {
    #[ready]
    let period = loop_period();
    while !service.is_stopping() {
        std::thread::sleep(period);
    }
}

fn loop_period() -> Duration {
    let ms = std::env::var("BENCH_LOOP_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    Duration::from_millis(ms)
}
