// A sync main that takes the handle, marks readiness and handles reloads.
#![deny(warnings, unused_qualifications)]

use sd_notify_core::{ServiceHandle, sd_service};

fn load_config() -> Result<u32, std::io::Error> {
    Ok(3)
}

#[sd_service(starting = "loading", running = "working", stopping = "finishing", reload)]
fn main(service: ServiceHandle) -> Result<(), std::io::Error> {
    let jobs = load_config()?;
    #[ready]
    let mut left = jobs;
    while left > 0 && !service.is_stopping() {
        if service.reload_pending() {
            service.reload_done();
        }
        left -= 1;
    }
    Ok(())
}
