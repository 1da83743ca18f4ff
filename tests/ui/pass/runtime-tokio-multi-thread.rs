// #[tokio::main] (multi-thread flavour, with a worker count) below #[sd_service], on a fn
// that is not `main`: the runtime's attribute lands on a fn named `main` either way.
#![deny(warnings, unused_qualifications)]

use sd_notify_core::{ServiceHandle, sd_service};

#[sd_service]
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn serve(service: ServiceHandle) {
    #[ready]
    tokio::task::spawn(async {}).await.unwrap();
    assert!(!service.is_stopping());
}

fn main() -> std::process::ExitCode {
    serve()
}
