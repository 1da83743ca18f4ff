//! Test fixture for the watchdog stress case (tests/e2e/cases/stress.sh): an async
//! `#[sd_service]` on a multi-thread tokio runtime (2 workers) whose workers are kept busy
//! by `BUSY_TASKS` (default 4) spinning tasks (about 2 ms of arithmetic between yields), while
//! the main task pings the watchdog (an async `main` pings whenever it is polled). Every 5 s
//! it sets `STATUS=Running; busy rounds: N` (the spinning tasks' progress).
//!
//! The stall on command: once the file named by `STALL_FILE` exists (polled every 50 ms),
//! the main task records `stall <CLOCK_MONOTONIC µs>` in `STRESS_LOG` and blocks its thread
//! for `STALL_MS` (default 10000): no ping goes out from then on.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sd_notify_core::{ServiceHandle, sd_service};
use sd_notify_tests::{knob, stress_record};

#[sd_service(running = "Running")]
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main(service: ServiceHandle) {
    let rounds = Arc::new(AtomicU64::new(0));
    for _ in 0..knob("BUSY_TASKS").unwrap_or(4) {
        let rounds = Arc::clone(&rounds);
        tokio::spawn(async move {
            let mut x: u64 = 1;
            loop {
                let until = Instant::now() + Duration::from_millis(2);
                while Instant::now() < until {
                    for _ in 0..1000 {
                        x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
                    }
                }
                rounds.fetch_add(1, Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
        });
    }
    let stall_file = std::env::var_os("STALL_FILE");
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    let mut last_status = Instant::now();
    loop {
        tokio::select! {
            () = service.shutdown() => break,
            _ = tick.tick() => {
                if stall_file.as_ref().is_some_and(|f| std::path::Path::new(f).exists()) {
                    stress_record("stall");
                    // The main task's thread blocks: not polled, so no watchdog ping.
                    std::thread::sleep(Duration::from_millis(knob("STALL_MS").unwrap_or(10_000)));
                    stress_record("stall-end");
                }
                if last_status.elapsed() >= Duration::from_secs(5) {
                    last_status = Instant::now();
                    let n = rounds.load(Ordering::Relaxed);
                    let _ = service.set_status(&format!("Running; busy rounds: {n}"));
                }
            }
        }
    }
}
