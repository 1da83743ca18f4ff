use sd_notify_core::{Service, sd_service};

#[sd_service]
#[tokio::main]
async fn main(service: Service) {
    tokio::select! {
        () = service.shutdown() => {}
        () = tokio::task::yield_now() => {
            #[ready]
            println!("ready");
        }
    }
}
