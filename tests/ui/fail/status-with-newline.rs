use sd_notify_core::sd_service;

#[sd_service(running = "up\nMAINPID=1")]
fn main() {}
