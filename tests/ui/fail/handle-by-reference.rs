use sd_notify_core::{ServiceHandle, sd_service};

#[sd_service]
fn main(_service: &ServiceHandle) {}
