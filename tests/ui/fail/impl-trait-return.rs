use sd_notify_core::sd_service;

#[sd_service]
fn main() -> impl std::process::Termination {}
