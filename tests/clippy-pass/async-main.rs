//! An async `main` without the handle that never awaits and always returns `Ok`: as a
//! runtime's `main` it draws neither `unused_async` nor `unnecessary_wraps`, and the
//! attribute must not change that.
#![deny(clippy::all, clippy::pedantic)]
#![deny(clippy::allow_attributes)] // the `#[allow]` the attribute generates is not the user's

use sd_notify_core::sd_service;

#[sd_service]
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), std::io::Error> {
    println!("started");
    Ok(())
}
