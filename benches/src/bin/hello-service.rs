//! Part 5 (binary size): `hello-plain` with `#[sd_service]` and a `#[ready]` marker.

use sd_notify_core::sd_service;

#[sd_service]
fn main() {
    #[ready]
    println!("hello");
}
