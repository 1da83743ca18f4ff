use sd_notify_core::{ServiceHandle, sd_service};

#[tokio::main(flavor = "current_thread")]
#[sd_service]
async fn serve(service: ServiceHandle) {
    service.shutdown().await;
}

fn main() -> std::process::ExitCode {
    serve()
}
