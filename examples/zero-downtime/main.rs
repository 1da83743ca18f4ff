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
//! - `systemctl stop`/`restart` (SIGTERM): stop accepting (every accepted connection was
//!   answered already), exit 0. Connections that arrive meanwhile wait in the kernel's
//!   backlog of the socket, which the manager keeps open, for the next run to accept.
//!
//! Environment: `ZERO_DOWNTIME_LISTEN` (default `127.0.0.1:7880`);
//! `ZERO_DOWNTIME_PLAIN_BIND=1` binds the ordinary way instead (no store), for comparison:
//! then every restart refuses the connections that arrive while no process listens, and
//! resets those waiting in the backlog of the old socket.

use std::io::{self, Write};

use sd_notify_core::{ServiceHandle, sd_service, status};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

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
    // The socket is blocking, as one fresh from bind; tokio wants it non-blocking. A server
    // that serves requests would now make it a `tokio::net::TcpListener::from_std(listener)?`;
    // this one waits for readiness through tokio and accepts and answers with plain system
    // calls (accept4, write, close), so that the time a connection spends accepted but
    // unanswered, which a SIGKILL would lose, is as short as it can be.
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    // SAFETY: the AsyncFd owns the listener, so its descriptor stays open, the same socket,
    // and `as_raw_fd` returns the same number until the AsyncFd is dropped.
    let listener = unsafe { AsyncFd::register_with_interest(listener, Interest::READABLE)? };
    status!("Accepting connections on {addr}{}", if plain { " (plain bind)" } else { "" })
        .map_err(io::Error::from)?;

    let greeting = format!("hello from {}\n", std::process::id());
    loop {
        tokio::select! {
            biased;
            () = service.shutdown() => break,
            ready = listener.readable() => {
                let mut ready = ready?;
                // Every connection waiting, each answered as it is taken.
                loop {
                    match ready.get_inner().accept() {
                        Ok((mut stream, _)) => {
                            // A fresh socket's buffer takes one short line at once; a client
                            // that went away already is no concern of the others.
                            let _ = stream.write_all(greeting.as_bytes());
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            ready.clear_ready();
                            break;
                        }
                        // Out of descriptors, a connection reset before it was accepted, …
                        Err(e) => {
                            eprintln!("accept: {e}");
                            break;
                        }
                    }
                }
            }
        }
    }
    // Every accepted connection was answered in the loop. Our copy of the socket closes; the
    // manager's keeps it listening, its backlog waiting for the next run.
    drop(listener);
    Ok(())
}
