//! What `#[sd_service(starting = "Loading", running = "Serving", reload)]` on an async
//! `main(service: ServiceHandle)` under `#[tokio::main]` expands to, written by hand. Read it to
//! see exactly what the attribute does; the other examples use the attribute.
//!
//! Everything is nested inside the fn with the user's name, so nothing new appears in the
//! module; the generated items sit in a block of their own, which the user's code (in
//! `__sd_service_body`) cannot see.

use std::process::ExitCode;
use std::time::Duration;

use sd_notify_core::ServiceHandle;

fn main() -> ExitCode {
    // The user's `main`, unchanged but for its name and the READY call after the `#[ready]`
    // statement. As a runtime's `main` (made sync) it would not draw `unused_async`, so that
    // one lint, and only that one, is allowed.
    #[allow(clippy::unused_async)]
    async fn __sd_service_body(service: ServiceHandle) -> Result<(), std::io::Error> {
        let delay = std::env::var("INIT_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        if std::env::var_os("FAIL_INIT").is_some() {
            return Err(std::io::Error::from_raw_os_error(libc::ENOENT));
        }
        sd_notify_core::__private_0_1::ready();
        loop {
            tokio::select! {
                () = service.shutdown() => break,
                () = service.reload_requested() => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    service.reload_done();
                }
            }
        }
        Ok(())
    }

    {
        static __SD_SERVICE_CONFIG: sd_notify_core::__private_0_1::Config =
            sd_notify_core::__private_0_1::Config {
                name: "main",
                starting: Some("Loading"),
                running: Some("Serving"),
                stopping: None,
                reload: true,
                takes_handle: true,
                ready_marker: true,
            };
        // The runtime's attribute on a fn named `main` without parameters, which every
        // runtime accepts.
        #[tokio::main]
        async fn main() -> sd_notify_core::__private_0_1::Supervised<Result<(), std::io::Error>> {
            sd_notify_core::__private_0_1::supervise(__sd_service_body(
                sd_notify_core::__private_0_1::handle(),
            ))
            .await
        }
        // Signals and the service thread are set up here, before the runtime's threads exist.
        sd_notify_core::__private_0_1::run_async(
            &__SD_SERVICE_CONFIG,
            main,
            |result: &Result<(), std::io::Error>| sd_notify_core::__private_0_1::failure_of!(result),
        )
    }
}
