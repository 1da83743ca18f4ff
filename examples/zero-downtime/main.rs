//! Restarts without refusing a connection: a tokio server whose listening socket survives
//! `systemctl restart` and crashes, through the manager's file-descriptor store (see
//! `zero-downtime.service` beside this file).
//!
//! - start-up: `service.listener("http", …)` takes the socket the manager passed under the
//!   name `http` (stored by the previous run, or from a `.socket` unit), or binds a new one
//!   and hands it to the store; then `READY=1`;
//! - each connection gets one line, `hello from <pid>`, written the moment it is accepted
//!   (no request to read: the shorter the time between `accept` and the answer, the fewer
//!   connections a `SIGKILL` can catch half-served), then it is closed;
//! - `systemctl stop`/`restart` (SIGTERM): stop accepting, finish the answers still being
//!   written (at most 5 s), exit 0. Connections that arrive meanwhile wait in the kernel's
//!   backlog of the socket, which the manager keeps open, for the next run to accept.
//!
//! Environment: `ZERO_DOWNTIME_LISTEN` (default `127.0.0.1:7880`);
//! `ZERO_DOWNTIME_PLAIN_BIND=1` binds the ordinary way instead (no store), for comparison:
//! then every restart refuses the connections that arrive while no process listens, and
//! resets those waiting in the backlog of the old socket.

use std::io;
use std::time::Duration;

use sd_notify_core::{ServiceHandle, sd_service, status};
use tokio::io::AsyncWriteExt;
use tokio::task::JoinSet;

#[sd_service(
    starting = "Binding",
    running = "Accepting connections",
    stopping = "Answering open connections"
)]
#[tokio::main]
async fn main(service: ServiceHandle) -> io::Result<()> {
    let addr = std::env::var("ZERO_DOWNTIME_LISTEN").unwrap_or_else(|_| "127.0.0.1:7880".into());
    let plain = std::env::var_os("ZERO_DOWNTIME_PLAIN_BIND").is_some_and(|v| v == "1");
    #[ready]
    let listener = if plain {
        std::net::TcpListener::bind(&addr)?
    } else {
        // The one line that keeps the socket across restarts.
        service.listener("http", addr.as_str(), std::net::TcpListener::bind)?
    };
    // The socket is blocking, as one fresh from bind; tokio wants it non-blocking.
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    status!(
        "Accepting connections on {}{}",
        listener.local_addr()?,
        if plain { " (plain bind)" } else { "" }
    )
    .map_err(io::Error::from)?;

    let greeting = format!("hello from {}\n", std::process::id());
    // Answers that did not fit the socket's buffer at once (never, for one short line).
    let mut writing = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            () = service.shutdown() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => answer(stream, &greeting, &mut writing),
                // Out of descriptors, a connection reset before it was accepted, …: the next.
                Err(e) => eprintln!("accept: {e}"),
            },
            Some(_) = writing.join_next(), if !writing.is_empty() => {}
        }
    }
    // Our copy of the socket closes; the manager's keeps it listening for the next run.
    drop(listener);
    let finished =
        tokio::time::timeout(Duration::from_secs(5), async { while writing.join_next().await.is_some() {} });
    if finished.await.is_err() {
        writing.abort_all();
    }
    Ok(())
}

/// Writes the greeting now if the socket takes it (it always does: an empty buffer), else
/// in a task; dropping the stream closes it.
fn answer(stream: tokio::net::TcpStream, greeting: &str, writing: &mut JoinSet<()>) {
    let rest = match stream.try_write(greeting.as_bytes()) {
        Ok(n) => &greeting[n..],
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => greeting,
        Err(_) => return, // the client is gone
    };
    if !rest.is_empty() {
        let rest = rest.to_owned();
        let mut stream = stream;
        writing.spawn(async move {
            let _ = stream.write_all(rest.as_bytes()).await;
        });
    }
}
