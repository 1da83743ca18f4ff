// The smallest service: a sync main, no handle, no options. READY=1 is sent at start.
#![deny(warnings, unused_qualifications)]

use sd_notify_core::sd_service;

#[sd_service]
fn main() {}
