//! A tokio network service: a line-echo server over TCP with graceful shutdown, watchdog
//! and reload, run as `Type=notify-reload` (see `tokio-server.service` beside this file).
//!
//! - start-up: `STATUS=Binding` until the listener is bound, then `READY=1`;
//! - `systemctl reload` (SIGHUP): re-reads the greeting file, then `READY=1` again;
//! - `systemctl stop` (SIGTERM): `STOPPING=1` at once, stop accepting, let open
//!   connections finish (at most 10 s; `STATUS=Draining N open connections` counts those
//!   still open), exit 0;
//! - `WatchdogSec=`: pings go out while the main task keeps being polled.
//!
//! Environment: `ECHO_LISTEN` (default `127.0.0.1:7878`), `ECHO_GREETING_FILE` (optional).

use std::error::Error;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use sd_notify_core::{ServiceHandle, sd_service, status};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

type BoxError = Box<dyn Error + Send + Sync>;

#[sd_service(
    starting = "Binding",
    running = "Accepting connections",
    stopping = "Draining connections",
    reload
)]
#[tokio::main]
async fn main(service: ServiceHandle) -> Result<(), BoxError> {
    let listen = std::env::var("ECHO_LISTEN").unwrap_or_else(|_| "127.0.0.1:7878".into());
    let greeting = Arc::new(RwLock::new(load_greeting()?));
    #[ready]
    let listener = TcpListener::bind(&listen).await?;
    status!("Accepting connections on {}", listener.local_addr()?)?;

    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = service.shutdown() => break,
            () = service.reload_requested() => {
                // (The answers return whether a reload was pending: here one always is.)
                match load_greeting() {
                    Ok(new) => {
                        *greeting.write().unwrap_or_else(|p| p.into_inner()) = new;
                        service.reload_done();
                    }
                    Err(e) => {
                        service.reload_failed(e);
                    }
                }
            }
            accepted = listener.accept() => {
                let (stream, peer) = accepted?;
                let greeting = greeting.read().unwrap_or_else(|p| p.into_inner()).clone();
                connections.spawn(async move { (peer, echo(stream, greeting).await) });
            }
            // Reap connections as they end: the set then holds the open ones only.
            Some(ended) = connections.join_next(), if !connections.is_empty() => {
                if let Ok((peer, result)) = ended {
                    let how = result.err().map_or_else(String::new, |e| format!(": {e}"));
                    println!("{peer}: connection closed{how}; {} open", connections.len());
                }
            }
        }
    }
    drop(listener);
    // Those that ended since the loop last looked.
    while connections.try_join_next().is_some() {}
    let open = connections.len();
    status!("Draining {open} open connection{}", if open == 1 { "" } else { "s" })?;
    let drained = tokio::time::timeout(Duration::from_secs(10), async {
        while connections.join_next().await.is_some() {}
    });
    if drained.await.is_err() {
        connections.abort_all();
    }
    Ok(())
}

/// The greeting sent to each new connection, from `ECHO_GREETING_FILE` if set.
fn load_greeting() -> Result<String, BoxError> {
    match std::env::var_os("ECHO_GREETING_FILE") {
        Some(path) => Ok(std::fs::read_to_string(path)?.trim().to_owned()),
        None => Ok("hello".to_owned()),
    }
}

async fn echo(stream: TcpStream, greeting: String) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    write.write_all(format!("{greeting}\n").as_bytes()).await?;
    let mut lines = BufReader::new(read).lines();
    while let Some(line) = lines.next_line().await? {
        write.write_all(format!("{line}\n").as_bytes()).await?;
    }
    Ok(())
}
