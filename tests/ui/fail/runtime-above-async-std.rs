use sd_notify_core::sd_service;

#[async_std::main]
#[sd_service]
async fn main() {
    async_std::task::yield_now().await;
}
