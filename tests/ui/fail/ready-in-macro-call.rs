use sd_notify_core::{ServiceHandle, sd_service};

#[sd_service]
#[tokio::main]
async fn main(service: ServiceHandle) {
    tokio::select! {
        () = service.shutdown() => {}
        () = tokio::task::yield_now() => {
            #[ready]
            println!("ready");
        }
    }
}
