//! Test fixture: an async `#[sd_service]` with a handle. The lifecycle tests choose its
//! behaviour through environment variables (all optional):
//! `INIT_MS` (init duration), `FAIL_INIT` (init fails with ENOENT), `PANIC` (panic after
//! ready), `BLOCK_MS` (after ready, block the main task's thread for that long), `RELOAD_MS`
//! (reload duration), `FAIL_RELOAD` (reload fails), `SHUTDOWN_MS` (graceful shutdown
//! duration), `EXTEND_MS` (during init, ask the manager for this much more time every
//! second with `EXTEND_TIMEOUT_USEC=`), `INJECT` (during init, try to put this untrusted text
//! into STATUS: the strict API refuses it, then it is sent sanitised), `STOP_AFTER_MS` (after
//! READY, another thread asks the service to stop with `ServiceHandle::stop`, no signal).

use std::io;
use std::time::Duration;

use sd_notify_core::{ServiceHandle, sd_service};
use sd_notify_tests::knob;

#[sd_service(starting = "Starting", running = "Running", stopping = "Stopping", reload)]
#[tokio::main(flavor = "current_thread")]
async fn main(service: ServiceHandle) -> Result<(), io::Error> {
    #[ready]
    init().await?;
    if knob("PANIC").is_some() {
        panic!("fixture panicked on purpose");
    }
    if let Some(ms) = knob("STOP_AFTER_MS") {
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(ms));
            ServiceHandle::current().expect("spawned by the service").stop();
        });
    }
    if let Some(ms) = knob("BLOCK_MS") {
        // A main task stuck in blocking code: it is not polled, so no watchdog ping goes out.
        std::thread::sleep(Duration::from_millis(ms));
    }
    loop {
        tokio::select! {
            () = service.shutdown() => break,
            () = service.reload_requested() => {
                tokio::time::sleep(Duration::from_millis(knob("RELOAD_MS").unwrap_or(20))).await;
                match knob("FAIL_RELOAD") {
                    Some(_) => service.reload_failed("bad config line 3"),
                    None => service.reload_done(),
                };
            }
        }
    }
    tokio::time::sleep(Duration::from_millis(knob("SHUTDOWN_MS").unwrap_or(0))).await;
    Ok(())
}

async fn init() -> Result<(), io::Error> {
    if let Ok(untrusted) = std::env::var("INJECT") {
        // Refused whole (typed error, nothing sent) when it holds a line break...
        if let Err(e) = sd_notify_core::status!("user said: {untrusted}") {
            eprintln!("fixture: status refused: {e}");
        }
        // ... and shown harmlessly once sanitised.
        let shown = format!("user said: {}", sd_notify_core::sanitize_status(&untrusted));
        ServiceHandle::current()
            .expect("called by the service")
            .set_status(&shown)
            .map_err(io::Error::from)?;
    }
    let init = Duration::from_millis(knob("INIT_MS").unwrap_or(0));
    match knob("EXTEND_MS") {
        Some(extend) => {
            let started = std::time::Instant::now();
            while started.elapsed() < init {
                sd_notify_core::notify(&[sd_notify_core::NotifyState::extend_timeout(
                    Duration::from_millis(extend),
                )])
                .map_err(io::Error::from)?;
                tokio::time::sleep(Duration::from_secs(1).min(init.saturating_sub(started.elapsed()))).await;
            }
        }
        None => tokio::time::sleep(init).await,
    }
    if knob("FAIL_INIT").is_some() {
        return Err(io::Error::from_raw_os_error(2));
    }
    Ok(())
}
