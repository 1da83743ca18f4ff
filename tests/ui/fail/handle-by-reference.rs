use sd_notify_core::{Service, sd_service};

#[sd_service]
fn main(_service: &Service) {}
