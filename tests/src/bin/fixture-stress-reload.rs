//! Test fixture for the stress cases (tests/e2e/cases/stress.sh): an async `#[sd_service]`
//! with `reload` that keeps a record of what it did in the file named by `STRESS_LOG`
//! (one line per event, `EVENT N USEC`, `USEC` = `CLOCK_MONOTONIC` in µs, the clock of
//! `MONOTONIC_USEC=` and of the manager's `…TimestampMonotonic` properties):
//! `init-start 0 T`, `ready 0 T` (init done), `reload-start N T` (the N-th reload round
//! began: `reload_requested()` completed), `reload-done N T` (after `reload_done()`),
//! `stopping N T` (shutdown seen, N reloads performed), `exit N T`.
//!
//! Knobs: `INIT_MS` (init duration; a stop during init ends it at once), `RELOAD_MS` (each
//! reload's duration, default 200), `SHUTDOWN_MS` (graceful shutdown, default 0). After each
//! reload it sets `STATUS=Running; reloads performed: N` (unless stopping by then).

use std::time::Duration;

use sd_notify_core::{ServiceHandle, sd_service};
use sd_notify_tests::{knob, stress_record};

#[sd_service(starting = "Starting", running = "Running", reload)]
#[tokio::main(flavor = "current_thread")]
async fn main(service: ServiceHandle) {
    record("init-start", 0);
    #[ready]
    let stopped = tokio::select! {
        () = service.shutdown() => true,
        () = tokio::time::sleep(Duration::from_millis(knob("INIT_MS").unwrap_or(0))) => false,
    };
    if stopped {
        record("stopping", 0);
        record("exit", 0);
        return;
    }
    record("ready", 0);
    let reload = Duration::from_millis(knob("RELOAD_MS").unwrap_or(200));
    let mut reloads = 0;
    loop {
        tokio::select! {
            () = service.shutdown() => break,
            () = service.reload_requested() => {
                reloads += 1;
                record("reload-start", reloads);
                tokio::time::sleep(reload).await;
                if !service.reload_done() {
                    eprintln!("fixture-stress-reload: reload {reloads}: reload_done() answered nothing");
                }
                record("reload-done", reloads);
                if !service.is_stopping() {
                    let _ = service.set_status(&format!("Running; reloads performed: {reloads}"));
                }
            }
        }
    }
    record("stopping", reloads);
    tokio::time::sleep(Duration::from_millis(knob("SHUTDOWN_MS").unwrap_or(0))).await;
    record("exit", reloads);
}

/// Appends `EVENT N USEC` to `STRESS_LOG` (nothing without it).
fn record(event: &str, n: u64) {
    stress_record(&format!("{event} {n}"));
}
