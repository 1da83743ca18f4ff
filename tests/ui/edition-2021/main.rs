//! Built by `tests/compile.rs` as a crate of its own: Rust 2021, with sd-notify-core
//! renamed to `sd` in its manifest, so `sd_notify_core` does not exist here and every path
//! of the expansion must go through `crate = "sd"`. Compiled under `#![deny(warnings)]`,
//! then run once per service (one service per process; without `NOTIFY_SOCKET` it just
//! runs its body).
#![deny(warnings, unused_qualifications)]

use std::process::ExitCode;

use sd::{ServiceHandle, sd_service};

#[sd_service(crate = "sd", starting = "starting", running = "running", stopping = "stopping", reload)]
fn sync_service(service: ServiceHandle) -> Result<(), std::io::Error> {
    #[ready]
    let stopping = service.is_stopping();
    assert!(!stopping);
    Ok(())
}

#[sd_service(crate = "::sd")]
#[tokio::main(flavor = "current_thread")]
async fn async_service() -> ExitCode {
    #[ready]
    tokio::task::yield_now().await;
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        Some("sync") => sync_service(),
        Some("async") => async_service(),
        _ => ExitCode::from(2),
    }
}
