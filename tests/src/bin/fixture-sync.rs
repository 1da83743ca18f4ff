//! Test fixture: a sync `#[sd_service]` worker loop with a handle. Knobs as in
//! fixture-async: `INIT_MS`, `FAIL_INIT`, `BLOCK_MS`, `SHUTDOWN_MS`, `PANIC`; and
//! `CHILD_SIGNALS`: after READY, spawn a process and report its blocked, ignored and caught
//! signal masks (from its /proc status) as `X_SIGBLK=`, `X_SIGIGN=`, `X_SIGCGT=`.

use std::io;
use std::time::Duration;

use sd_notify_core::{ServiceHandle, sd_service};
use sd_notify_tests::knob;

#[sd_service(running = "Working")]
fn main(service: ServiceHandle) -> Result<(), io::Error> {
    #[ready]
    init()?;
    if knob("PANIC").is_some() {
        panic!("fixture panicked on purpose");
    }
    if knob("CHILD_SIGNALS").is_some() {
        report_child_signal_masks()?;
    }
    // From here on the pings follow this loop's heartbeats.
    service.heartbeat();
    if let Some(ms) = knob("BLOCK_MS") {
        // The loop is stuck: it does not call heartbeat(), so no watchdog ping goes out.
        std::thread::sleep(Duration::from_millis(ms));
    }
    while !service.is_stopping() {
        service.heartbeat();
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(knob("SHUTDOWN_MS").unwrap_or(0)));
    Ok(())
}

fn init() -> Result<(), io::Error> {
    std::thread::sleep(Duration::from_millis(knob("INIT_MS").unwrap_or(0)));
    if knob("FAIL_INIT").is_some() {
        return Err(io::Error::from_raw_os_error(13));
    }
    Ok(())
}

/// What a process we spawn inherits: its signal masks, read by itself from /proc.
fn report_child_signal_masks() -> Result<(), io::Error> {
    let out = std::process::Command::new("cat").arg("/proc/self/status").output()?;
    let status = String::from_utf8_lossy(&out.stdout);
    let mask = |name: &str| {
        status.lines().find_map(|l| l.strip_prefix(name)).map(str::trim).unwrap_or("missing").to_owned()
    };
    let (blocked, ignored, caught) = (mask("SigBlk:"), mask("SigIgn:"), mask("SigCgt:"));
    sd_notify_core::notify(&[
        sd_notify_core::NotifyState::Extension { key: "X_SIGBLK", value: &blocked },
        sd_notify_core::NotifyState::Extension { key: "X_SIGIGN", value: &ignored },
        sd_notify_core::NotifyState::Extension { key: "X_SIGCGT", value: &caught },
    ])
    .map_err(io::Error::from)
}
