use sd_notify_core::sd_service;

#[sd_service]
#[tokio::main]
async fn main() {
    let task = tokio::spawn(async {
        #[ready]
        tokio::task::yield_now().await;
    });
    task.await.unwrap();
}
