//! A socket-activated service: systemd owns the listening socket (`socket-activated.socket`
//! beside this file) and starts the service on the first connection; the service takes the
//! socket with [`sd_notify_core::listen_fds_with_names`].
//!
//! What it listens on, decided once at start:
//! - **socket-activated** (`LISTEN_FDS` is set): the socket systemd passed, and nothing
//!   else. One descriptor is used whatever its name (without `FileDescriptorName=` systemd
//!   names it after the socket unit, e.g. `socket-activated.socket`); among several, the
//!   one named `http`. Anything else — `LISTEN_FDS` set for another process (a wrapper that
//!   did not `exec`), announcing descriptors that were not passed, several without an
//!   `http` one, a socket that is not TCP — is an error: `main` fails before `READY=1`, and
//!   systemd shows the reason (`StatusText=`, `Result=exit-code`). It never binds a port of
//!   its own then: that would report READY while the clients of the real socket hang.
//! - **not socket-activated** (no `LISTEN_FDS`, e.g. started by hand): it binds
//!   `127.0.0.1:7879` itself, and says so on stdout.

use std::error::Error;
use std::net::TcpListener as StdListener;

use sd_notify_core::{ListenFd, ServiceHandle, listen_fds_with_names, sd_service};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

/// Where it listens when it is not socket-activated.
const OWN_ADDRESS: &str = "127.0.0.1:7879";
/// The name to pick among several passed sockets (`FileDescriptorName=http`).
const NAME: &str = "http";

#[sd_service(running = "Serving the activated socket")]
#[tokio::main(flavor = "current_thread")]
async fn main(service: ServiceHandle) -> Result<(), Box<dyn Error>> {
    #[ready]
    let listener = take_listener()?;
    loop {
        tokio::select! {
            () = service.shutdown() => return Ok(()),
            accepted = listener.accept() => {
                let (mut stream, peer) = accepted?;
                stream.write_all(format!("hello {peer} from a socket-activated service\n").as_bytes()).await?;
            }
        }
    }
}

/// The socket systemd passed, or, only when not socket-activated at all, one we bind.
fn take_listener() -> Result<TcpListener, Box<dyn Error>> {
    let std_listener = if std::env::var_os("LISTEN_FDS").is_some() {
        let passed = listen_fds_with_names().map_err(|e| format!("socket activation: {e}"))?;
        let (fd, name) = pick(passed)?.into_parts();
        let listener = StdListener::from(fd);
        let address = listener
            .local_addr()
            .map_err(|e| format!("socket activation: the passed socket `{name}` is not a TCP socket: {e}"))?;
        println!("socket-activated: serving the socket systemd passed (`{name}`, {address})");
        listener
    } else {
        let listener = StdListener::bind(OWN_ADDRESS)?;
        println!("not socket-activated (no LISTEN_FDS): listening on {OWN_ADDRESS} myself");
        listener
    };
    std_listener.set_nonblocking(true)?;
    Ok(TcpListener::from_std(std_listener)?)
}

/// Which of the passed sockets to serve: the only one, or the one named [`NAME`].
fn pick(mut passed: Vec<ListenFd>) -> Result<ListenFd, String> {
    match passed.len() {
        0 => Err(format!(
            "socket activation: LISTEN_FDS is set, but no socket was passed to this process \
             (LISTEN_FDS={:?}, LISTEN_PID={:?}, our PID {}: started through a wrapper that did not exec?)",
            std::env::var("LISTEN_FDS").unwrap_or_default(),
            std::env::var("LISTEN_PID").unwrap_or_default(),
            std::process::id(),
        )),
        1 => Ok(passed.remove(0)),
        n => match passed.iter().position(|fd| fd.name() == NAME) {
            Some(i) => Ok(passed.swap_remove(i)),
            None => {
                let names: Vec<&str> = passed.iter().map(ListenFd::name).collect();
                Err(format!(
                    "socket activation: {n} sockets passed ({}), none named `{NAME}` (FileDescriptorName={NAME} in the .socket unit)",
                    names.join(", ")
                ))
            }
        },
    }
}
