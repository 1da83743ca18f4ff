//! Test fixture: two `#[sd_service]` fns run one after the other by a plain `main`: `first`
//! (sync) until it is stopped, then `second` (async, with `reload`) until it is stopped.
//! Knob `NESTED`: `first`, once ready, also calls the annotated `inner` while it runs (a
//! misuse: `inner` must refuse) and sends `X_INNER_FAILED=<returned ExitCode::FAILURE>`;
//! `inner`'s body, if it ever ran, would send `X_INNER_BODY=ran`.

use std::process::ExitCode;
use std::time::Duration;

use sd_notify_core::{NotifyState, ServiceHandle, notify, sd_service};
use sd_notify_tests::knob;

fn main() -> ExitCode {
    let first = first();
    if first != ExitCode::SUCCESS {
        return first;
    }
    second()
}

fn send(key: &'static str, value: &str) {
    if let Err(e) = notify(&[NotifyState::Extension { key, value }]) {
        eprintln!("fixture: {e}");
    }
}

#[sd_service(running = "first running", stopping = "first stopping")]
fn first(service: ServiceHandle) {
    if knob("NESTED").is_some() {
        let code = inner();
        send("X_INNER_FAILED", &(code == ExitCode::FAILURE).to_string());
    }
    while !service.is_stopping() {
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[sd_service(running = "inner running")]
fn inner() {
    send("X_INNER_BODY", "ran");
}

#[sd_service(running = "second running", stopping = "second stopping", reload)]
#[tokio::main(flavor = "current_thread")]
async fn second(service: ServiceHandle) {
    loop {
        tokio::select! {
            () = service.shutdown() => break,
            () = service.reload_requested() => {
                let _ = service.reload_done();
            }
        }
    }
}
