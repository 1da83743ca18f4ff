//! A socket-activated service: systemd owns the listening socket (`socket-activated.socket`
//! beside this file) and starts the service on the first connection; the service takes the
//! socket with [`sd_notify_core::listen_fds_with_names`]. Started by hand (no `LISTEN_FDS`),
//! it binds `127.0.0.1:7879` itself.

use std::error::Error;
use std::net::TcpListener as StdListener;

use sd_notify_core::{Service, listen_fds_with_names, sd_service};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

#[sd_service(running = "Serving the activated socket")]
#[tokio::main(flavor = "current_thread")]
async fn main(service: Service) -> Result<(), Box<dyn Error>> {
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

/// The socket systemd passed (named `http` in the .socket unit), or one we bind.
fn take_listener() -> Result<TcpListener, Box<dyn Error>> {
    let passed = listen_fds_with_names()?.into_iter().find(|fd| fd.name == "http" || fd.name == "unknown");
    let std_listener = match passed {
        Some(fd) => StdListener::from(fd.fd),
        None => StdListener::bind("127.0.0.1:7879")?,
    };
    std_listener.set_nonblocking(true)?;
    Ok(TcpListener::from_std(std_listener)?)
}
