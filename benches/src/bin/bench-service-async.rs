//! Parts 3 and 5: the async `#[sd_service]` service that `bench-all` measures (tokio
//! `current_thread`). Ready at once, then it waits for the stop signal; `STOPPING=1` is sent
//! by the attribute's signal handler, before `shutdown()` completes.

use sd_notify_core::{ServiceHandle, sd_service};

#[sd_service]
#[tokio::main(flavor = "current_thread")]
async fn main(service: ServiceHandle) {
    #[ready]
    let shutdown = service.shutdown();
    shutdown.await;
}
