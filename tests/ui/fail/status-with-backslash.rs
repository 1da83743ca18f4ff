use sd_notify_core::sd_service;

#[sd_service(stopping = r"saving to C:\state")]
fn main() {}
