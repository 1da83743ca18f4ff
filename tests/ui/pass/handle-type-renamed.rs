// The handle's type is checked by rustc, not by how it is written: an alias works.
#![deny(warnings, unused_qualifications)]

use sd_notify_core::ServiceHandle as SdService;
use sd_notify_core::sd_service;

type Handle = sd_notify_core::ServiceHandle;

#[sd_service(reload)]
fn sync_service(service: SdService) {
    assert!(!service.is_stopping());
}

#[sd_service]
#[tokio::main(flavor = "current_thread")]
async fn async_service(service: Handle) {
    assert!(!service.is_stopping());
}

fn main() -> std::process::ExitCode {
    if std::env::args().count() > 1 { sync_service() } else { async_service() }
}
