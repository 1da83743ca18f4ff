use sd_notify_core::sd_service;

// Every bad option is reported, each with the option it most likely meant.
#[sd_service(reloads, runing = "x", stopping = 1, watchdog = "30s")]
fn main() {}
