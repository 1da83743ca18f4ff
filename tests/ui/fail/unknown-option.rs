use sd_notify_core::sd_service;

#[sd_service(watchdog = "30s")]
fn main() {}
