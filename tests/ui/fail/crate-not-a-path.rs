use sd_notify_core::sd_service;

#[sd_service(crate = "sd notify")]
fn main() {}
