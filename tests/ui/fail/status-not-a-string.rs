use sd_notify_core::sd_service;

#[sd_service(running = 42)]
fn main() {}
