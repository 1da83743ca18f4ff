// The full async form: tokio below #[sd_service], the handle, a marker, every option.
#![deny(warnings, unused_qualifications)]

use std::time::Duration;

use sd_notify_core::{ServiceHandle, sd_service};

#[derive(Debug)]
struct ConfigError;

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("bad config")
    }
}

impl std::error::Error for ConfigError {}

async fn load() -> Result<Duration, ConfigError> {
    Ok(Duration::from_millis(1))
}

#[sd_service(starting = "loading config", running = "serving", stopping = "draining", reload = true)]
#[tokio::main]
async fn main(service: ServiceHandle) -> Result<(), ConfigError> {
    let tick = load().await?;
    #[ready]
    let mut interval = tokio::time::interval(tick);
    for _ in 0..3 {
        tokio::select! {
            () = service.shutdown() => break,
            () = service.reload_requested() => {
                service.reload_done();
            }
            _ = interval.tick() => {}
        }
    }
    Ok(())
}
