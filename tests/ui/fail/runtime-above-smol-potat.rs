use sd_notify_core::sd_service;

#[smol_potat::main]
#[sd_service]
async fn main() {}
