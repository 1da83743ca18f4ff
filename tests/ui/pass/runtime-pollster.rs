// #[pollster::main] below #[sd_service], without the handle, on a fn that is not `main`.
#![deny(warnings, unused_qualifications)]

use sd_notify_core::sd_service;

#[sd_service(running = "up")]
#[pollster::main]
async fn serve() {
    #[ready]
    std::future::ready(()).await;
}

fn main() -> std::process::ExitCode {
    serve()
}
