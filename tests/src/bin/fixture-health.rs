//! Test fixture for the health-gated watchdog: a sync `#[sd_service]` whose loop calls
//! `heartbeat()` every 10 ms, and which obeys commands on stdin, one a line: `unhealthy`
//! (`mark_unhealthy()`), `healthy` (`mark_healthy()`), `trigger` (`trigger_watchdog()`);
//! after each it sends `X_DONE=<command>` and `X_HEALTHY=<is_healthy()>` in one datagram.

use std::io::BufRead;
use std::time::Duration;

use sd_notify_core::{NotifyState, ServiceHandle, notify, sd_service};

#[sd_service]
fn main(service: ServiceHandle) {
    std::thread::spawn(move || {
        for command in std::io::stdin().lock().lines().map_while(Result::ok) {
            match command.as_str() {
                "unhealthy" => service.mark_unhealthy(),
                "healthy" => service.mark_healthy(),
                "trigger" => service.trigger_watchdog(),
                other => {
                    eprintln!("fixture-health: unknown command {other:?}");
                    continue;
                }
            }
            let healthy = service.is_healthy().to_string();
            let states = [
                NotifyState::Extension { key: "X_DONE", value: &command },
                NotifyState::Extension { key: "X_HEALTHY", value: &healthy },
            ];
            if let Err(e) = notify(&states) {
                eprintln!("fixture-health: {e}");
            }
        }
    });
    while !service.is_stopping() {
        service.heartbeat();
        std::thread::sleep(Duration::from_millis(10));
    }
}
