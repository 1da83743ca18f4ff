use sd_notify_core::sd_service;

#[actix_rt::main]
#[sd_service]
async fn main() {}
