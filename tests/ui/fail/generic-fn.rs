use sd_notify_core::sd_service;

#[sd_service]
fn run<T: Default>() {}

fn main() {}
