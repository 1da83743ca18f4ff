//! Test fixture: many tasks on many threads wait on `shutdown()` (issue 13, item 1). Once
//! ready, `THREADS` threads (default 16), each with a current-thread tokio runtime, run
//! `TASKS` (default 2 000) finished connections each (a task selects on a `shutdown()` of its
//! own and ends before any stop, as the documented per-connection pattern does), print
//! `CHURNED <thread>`, then wait on one last `shutdown()` and print `WOKEN <thread>`. `main`
//! returns once every thread has been woken.

use std::time::Duration;

use sd_notify_core::{ServiceHandle, sd_service};
use sd_notify_tests::knob;

#[sd_service]
fn main(service: ServiceHandle) {
    #[ready]
    let threads: Vec<_> =
        (0..knob("THREADS").unwrap_or(16)).map(|t| std::thread::spawn(move || waiter(service, t))).collect();
    for thread in threads {
        thread.join().expect("waiter thread");
    }
}

fn waiter(service: ServiceHandle, t: u64) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
    runtime.block_on(async {
        let mut connections = tokio::task::JoinSet::new();
        for _ in 0..knob("TASKS").unwrap_or(2_000) {
            connections.spawn(async move {
                tokio::select! {
                    () = service.shutdown() => {}
                    () = tokio::time::sleep(Duration::from_micros(100)) => {} // the connection ends
                }
            });
        }
        while connections.join_next().await.is_some() {}
        println!("CHURNED {t}");
        service.shutdown().await;
        println!("WOKEN {t}");
    });
}
