use sd_notify_core::sd_service;

#[sd_service]
unsafe fn main() {}
