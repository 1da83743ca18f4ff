//! Part 3's comparison and a part 5 baseline: the common hand-written pattern without
//! `#[sd_service]`: a tokio `current_thread` service that listens for SIGTERM with
//! `tokio::signal::unix::signal(SignalKind::terminate())` and sends `STOPPING=1` with the
//! `sd-notify` crate 0.5 once the signal future completes.

use sd_notify::NotifyState;
use tokio::signal::unix::{SignalKind, signal};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut terminate = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bench-handrolled-tokio: SIGTERM handler: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = sd_notify::notify(&[NotifyState::Ready]) {
        eprintln!("bench-handrolled-tokio: READY=1: {e}");
    }
    terminate.recv().await;
    if let Err(e) = sd_notify::notify(&[NotifyState::Stopping]) {
        eprintln!("bench-handrolled-tokio: STOPPING=1: {e}");
    }
}
