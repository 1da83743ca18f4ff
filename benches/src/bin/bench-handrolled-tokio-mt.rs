//! Part 3's comparison for `bench-service-async-mt`: `bench-handrolled-tokio` on a tokio
//! `multi_thread` runtime (2 workers): `signal(SignalKind::terminate())`, then `sd-notify`
//! 0.5 sends `STOPPING=1` once the signal future completes.

use sd_notify::NotifyState;
use tokio::signal::unix::{SignalKind, signal};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut terminate = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bench-handrolled-tokio-mt: SIGTERM handler: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = sd_notify::notify(&[NotifyState::Ready]) {
        eprintln!("bench-handrolled-tokio-mt: READY=1: {e}");
    }
    terminate.recv().await;
    if let Err(e) = sd_notify::notify(&[NotifyState::Stopping]) {
        eprintln!("bench-handrolled-tokio-mt: STOPPING=1: {e}");
    }
}
