//! Test fixture: what a `ServiceHandle` does before, during and after its service (issue 13,
//! item 7). A plain `main` calls two annotated fns one after the other. `first` keeps its
//! handle, and leaves a thread waiting on its `shutdown()`; it returns by itself (no stop).
//! `main` then uses the kept handle, and `second` uses it again while it runs. Every
//! observation goes out as `X_…` lines through the process-wide `notify` (no service needed);
//! the kept handle's own sends (`STATUS=late…`, `WATCHDOG=trigger`) must never appear.

use std::process::ExitCode;
use std::sync::{OnceLock, mpsc};
use std::time::Duration;

use sd_notify_core::{NotifyState, ServiceHandle, notify, sd_service};

static KEPT: OnceLock<ServiceHandle> = OnceLock::new();
/// Told by `first`'s waiter thread when its `shutdown()` completed.
static WOKEN: OnceLock<mpsc::Sender<()>> = OnceLock::new();

fn send(lines: &[(&'static str, String)]) {
    let states: Vec<_> = lines.iter().map(|(key, value)| NotifyState::Extension { key, value }).collect();
    if let Err(e) = notify(&states) {
        eprintln!("fixture: {e}");
    }
}

fn main() -> ExitCode {
    send(&[("X_BEFORE_CURRENT", ServiceHandle::current().is_some().to_string())]);
    let (tx, woken) = mpsc::channel();
    let _ = WOKEN.set(tx);
    let first = first();
    let kept = *KEPT.get().expect("first ran");
    let woken = woken.recv_timeout(Duration::from_secs(5)).is_ok();
    send(&[
        ("X_AFTER_CURRENT", ServiceHandle::current().is_some().to_string()),
        ("X_AFTER_STOPPING", kept.is_stopping().to_string()),
        ("X_AFTER_WATCHDOG", format!("{:?}", kept.watchdog())),
        ("X_WAITER_WOKEN", woken.to_string()),
    ]);
    let refused = kept.set_status("late\nline").is_err();
    let _ = kept.set_status("late after first");
    kept.trigger_watchdog();
    kept.stop();
    send(&[("X_LATE_REFUSED", refused.to_string())]);
    if first != ExitCode::SUCCESS {
        return first;
    }
    second()
}

#[sd_service(running = "first running", stopping = "first stopping")]
fn first(service: ServiceHandle) {
    let _ = KEPT.set(service);
    send(&[
        ("X_FIRST_CURRENT", ServiceHandle::current().is_some().to_string()),
        ("X_FIRST_WATCHDOG", format!("{:?}", service.watchdog())),
    ]);
    // A thread that outlives `first`, waiting for the stop.
    let tx = WOKEN.get().expect("set by main").clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        runtime.block_on(service.shutdown());
        let _ = tx.send(());
    });
}

#[sd_service(running = "second running", stopping = "second stopping")]
fn second(service: ServiceHandle) {
    let old = *KEPT.get().expect("first ran");
    send(&[
        ("X_OLD_STOPPING", old.is_stopping().to_string()),
        ("X_NEW_STOPPING", service.is_stopping().to_string()),
    ]);
    old.stop();
    old.mark_unhealthy();
    let _ = old.set_status("late in second");
    send(&[
        ("X_NEW_STOPPING_AFTER_OLD_STOP", service.is_stopping().to_string()),
        ("X_NEW_HEALTHY_AFTER_OLD_MARK", service.is_healthy().to_string()),
    ]);
}
