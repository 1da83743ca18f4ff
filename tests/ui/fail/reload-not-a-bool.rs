use sd_notify_core::{ServiceHandle, sd_service};

#[sd_service(reload = "yes")]
fn main(_service: ServiceHandle) {}
