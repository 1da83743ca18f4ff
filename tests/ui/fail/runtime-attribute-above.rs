use sd_notify_core::sd_service;

#[tokio::main]
#[sd_service]
async fn main() {
    #[ready]
    tokio::task::yield_now().await;
}
