use sd_notify_core::sd_service;

#[sd_service(starting = "loading", running = "up", starting = "loading again")]
fn main() {}
