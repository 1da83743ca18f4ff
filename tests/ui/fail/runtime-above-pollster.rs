use sd_notify_core::sd_service;

#[pollster::main]
#[sd_service(running = "up")]
async fn main() {
    #[ready]
    std::future::ready(()).await;
}
