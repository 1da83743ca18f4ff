use sd_notify_core::{Service, sd_service};

#[tokio::main(flavor = "current_thread")]
#[sd_service]
async fn serve(service: Service) {
    service.shutdown().await;
}

fn main() -> std::process::ExitCode {
    serve()
}
