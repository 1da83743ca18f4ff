//! A sync `main` without the handle that always returns `Ok`: clippy spares the entry
//! point `unnecessary_wraps`, and the attribute must not change that.
#![deny(clippy::all, clippy::pedantic)]
#![deny(clippy::allow_attributes)] // the `#[allow]` the attribute generates is not the user's

use sd_notify_core::sd_service;

#[sd_service(running = "up")]
fn main() -> Result<(), std::io::Error> {
    #[ready]
    let answer = 42;
    println!("{answer}");
    Ok(())
}
