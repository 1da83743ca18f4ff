// #[smol_potat::main] accepts only a fn named `main`, as async-std's does.
#![deny(warnings, unused_qualifications)]

use sd_notify_core::{ServiceHandle, sd_service};

#[sd_service(running = "up")]
#[smol_potat::main]
async fn main(service: ServiceHandle) {
    #[ready]
    let stopping = service.is_stopping();
    assert!(!stopping);
}
