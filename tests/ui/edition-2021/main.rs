//! Built by `tests/compile.rs` as a crate of its own: Rust 2021, with sd-notify-core
//! renamed to `sd` in its manifest, so `sd_notify_core` does not exist here and every path
//! of the expansion must go through `crate = "sd"`. Compiled under `#![deny(warnings)]`,
//! then run (without `NOTIFY_SOCKET`: the services just run their bodies).
#![deny(warnings, unused_qualifications)]

use std::process::ExitCode;

use sd::{Service, sd_service};

#[sd_service(crate = "sd", starting = "starting", running = "running", stopping = "stopping", reload)]
fn sync_service(service: Service) -> Result<(), std::io::Error> {
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
    if sync_service() != ExitCode::SUCCESS {
        return ExitCode::FAILURE;
    }
    async_service()
}
