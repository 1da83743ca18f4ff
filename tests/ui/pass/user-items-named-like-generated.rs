// The expansion adds nothing to the user's module: items named like the generated ones
// (`__sd_service_main` and `__sd_service_main_body` before, `__SD_SERVICE_CONFIG` and
// the runtime's `main` now) do not collide, and the body sees the user's own.
#![deny(warnings, unused_qualifications)]

use sd_notify_core::{ServiceHandle, sd_service};

static __SD_SERVICE_CONFIG: u8 = 1;

fn __sd_service_main() -> u8 {
    2
}

fn __sd_service_main_body() -> u8 {
    3
}

#[sd_service]
#[tokio::main(flavor = "current_thread")]
async fn main(service: ServiceHandle) {
    assert!(!service.is_stopping());
    assert_eq!(__SD_SERVICE_CONFIG + __sd_service_main() + __sd_service_main_body(), 6);
    // The module's `main` (the generated one, which returns ExitCode), not the runtime's.
    let _: fn() -> std::process::ExitCode = main;
}
