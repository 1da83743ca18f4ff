//! Part 3: `bench-service-async` on a tokio `multi_thread` runtime (2 workers, as on the
//! 2-CPU bench machine). Ready at once, then it waits for the stop signal; `STOPPING=1` is
//! sent by the attribute's signal handler.

use sd_notify_core::{ServiceHandle, sd_service};

#[sd_service]
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main(service: ServiceHandle) {
    #[ready]
    let shutdown = service.shutdown();
    shutdown.await;
}
