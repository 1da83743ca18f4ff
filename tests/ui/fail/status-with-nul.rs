use sd_notify_core::sd_service;

#[sd_service(starting = "loading\0")]
fn main() {}
