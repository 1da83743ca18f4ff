use sd_notify_core::sd_service;

// Every problem is reported in one build.
#[sd_service(reload)]
const unsafe fn main<T>() {}
