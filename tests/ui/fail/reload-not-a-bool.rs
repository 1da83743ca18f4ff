use sd_notify_core::{Service, sd_service};

#[sd_service(reload = "yes")]
fn main(_service: Service) {}
