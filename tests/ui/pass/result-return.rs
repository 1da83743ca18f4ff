// The return types main may have: Result with a boxed error (an Err becomes STATUS=).
#![deny(warnings, unused_qualifications)]

use sd_notify_core::sd_service;

fn parse(text: &str) -> Result<u16, Box<dyn std::error::Error + Send + Sync>> {
    Ok(text.parse()?)
}

#[sd_service(running = "listening")]
fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    #[ready]
    let port = parse("8080")?;
    assert_eq!(port, 8080);
    Ok(())
}
