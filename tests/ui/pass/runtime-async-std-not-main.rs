// #[async_std::main] on a service fn with another name.
#![deny(warnings, unused_qualifications)]

use sd_notify_core::sd_service;

#[sd_service]
#[async_std::main]
async fn serve() {
    async_std::task::yield_now().await;
}

fn main() -> std::process::ExitCode {
    serve()
}
