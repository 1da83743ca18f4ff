//! What `#[sd_service(starting = "Loading", running = "Serving", reload)]` on an async
//! `main(service: Service)` under `#[tokio::main]` expands to, written by hand. Read it to
//! see exactly what the attribute does; the other examples use the attribute.

use std::process::ExitCode;
use std::time::Duration;

use sd_notify_core::Service;

fn main() -> ExitCode {
    static CONFIG: sd_notify_core::__private::Config = sd_notify_core::__private::Config {
        starting: Some("Loading"),
        running: Some("Serving"),
        stopping: None,
        reload: true,
        takes_handle: true,
        ready_marker: true,
    };
    // Signals and the service thread are set up here, before the runtime's threads exist.
    sd_notify_core::__private::run_async(&CONFIG, run, |result: &Result<(), std::io::Error>| {
        sd_notify_core::__private::failure_of!(result)
    })
}

#[tokio::main]
async fn run(service: Service) -> sd_notify_core::__private::Supervised<Result<(), std::io::Error>> {
    sd_notify_core::__private::supervise(body(service)).await
}

/// The user's `main`, unchanged but for the READY call after the `#[ready]` statement.
async fn body(service: Service) -> Result<(), std::io::Error> {
    let delay = std::env::var("INIT_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    tokio::time::sleep(Duration::from_millis(delay)).await;
    if std::env::var_os("FAIL_INIT").is_some() {
        return Err(std::io::Error::from_raw_os_error(libc::ENOENT));
    }
    sd_notify_core::__private::ready();
    loop {
        tokio::select! {
            () = service.shutdown() => break,
            () = service.reload_requested() => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                service.reload_done().ok();
            }
        }
    }
    Ok(())
}
