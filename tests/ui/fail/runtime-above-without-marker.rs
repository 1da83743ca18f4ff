use sd_notify_core::sd_service;

// Compiled silently as a sync service before: no marker to give it away.
#[tokio::main]
#[sd_service]
async fn main() {
    tokio::task::yield_now().await;
}
