use sd_notify_core::sd_service;

#[sd_service]
struct Main;

fn main() {}
