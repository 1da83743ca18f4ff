// Any runtime attribute whose path ends in `main` works below #[sd_service].
#![deny(warnings, unused_qualifications)]

use sd_notify_core::{ServiceHandle, sd_service};

#[sd_service]
#[pollster::main]
async fn main(service: ServiceHandle) {
    #[ready]
    let stopping = service.is_stopping();
    assert!(!stopping);
}
