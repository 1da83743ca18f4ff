//! Test fixture: a sync `#[sd_service]` worker loop with a handle. Knobs as in
//! fixture-async: `INIT_MS`, `FAIL_INIT`, `BLOCK_MS`, `SHUTDOWN_MS`, `PANIC`.

use std::io;
use std::time::Duration;

use sd_notify_core::{Service, sd_service};
use sd_notify_tests::knob;

#[sd_service(running = "Working")]
fn main(service: Service) -> Result<(), io::Error> {
    #[ready]
    init()?;
    if knob("PANIC").is_some() {
        panic!("fixture panicked on purpose");
    }
    if let Some(ms) = knob("BLOCK_MS") {
        // The loop is stuck: it does not call is_stopping(), so no watchdog ping goes out.
        std::thread::sleep(Duration::from_millis(ms));
    }
    while !service.is_stopping() {
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
