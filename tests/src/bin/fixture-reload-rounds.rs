//! Test fixture for reload rounds: an async `#[sd_service]` with `reload` whose reload
//! prints `T reload-started-<n> <µs>`, then waits for the file named by `RELOAD_GATE` to
//! exist (10 s at most; without the knob it takes `RELOAD_MS`, default 300), then calls
//! `reload_done()` and prints `T reload-done-<n> <µs>`. After `shutdown()` it sends
//! `X_RELOADS=<reloads performed>` (so the test can count them in order with the rest).

use std::time::{Duration, Instant};

use sd_notify_core::{NotifyState, ServiceHandle, notify, sd_service};
use sd_notify_tests::{knob, mark};

#[sd_service(running = "Running", reload)]
#[tokio::main(flavor = "current_thread")]
async fn main(service: ServiceHandle) {
    let mut reloads = 0;
    loop {
        tokio::select! {
            () = service.shutdown() => break,
            () = service.reload_requested() => {
                reloads += 1;
                mark(&format!("reload-started-{reloads}"));
                match std::env::var_os("RELOAD_GATE") {
                    Some(gate) => {
                        let deadline = Instant::now() + Duration::from_secs(10);
                        while !std::path::Path::new(&gate).exists() && Instant::now() < deadline {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                    None => tokio::time::sleep(Duration::from_millis(knob("RELOAD_MS").unwrap_or(300))).await,
                }
                let _ = service.reload_done();
                mark(&format!("reload-done-{reloads}"));
            }
        }
    }
    let reloads = reloads.to_string();
    if let Err(e) = notify(&[NotifyState::Extension { key: "X_RELOADS", value: &reloads }]) {
        eprintln!("fixture: {e}");
    }
}
