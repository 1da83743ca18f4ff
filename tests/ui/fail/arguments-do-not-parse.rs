use sd_notify_core::sd_service;

#[sd_service(running = "up" stopping = "down")]
fn main() {}
