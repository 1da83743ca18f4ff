//! Part 5 baseline: `bench-service-async` without the attribute — a tokio `current_thread`
//! main that sends `READY=1` with `sd_notify_core::notify` and then idles (no signal
//! handling: SIGTERM ends it with the default action).

use sd_notify_core::NotifyState;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    if let Err(e) = sd_notify_core::notify(&[NotifyState::Ready]) {
        eprintln!("bench-baseline-async: READY=1: {e}");
    }
    std::future::pending::<()>().await;
}
