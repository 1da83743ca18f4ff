//! The README's first command: `cargo run -p sd-notify-examples --bin lifecycle-demo`.
//!
//! It plays systemd for an `#[sd_service]` service, no systemd needed: it binds a
//! [`Receiver`], starts itself as the service (the function `demo_service` below) with
//! `NOTIFY_SOCKET` and `WATCHDOG_USEC` set, reloads it with SIGHUP, stops it with SIGTERM,
//! and prints a timeline of every datagram the service sent.

use std::error::Error;
use std::io;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use sd_notify_core::{Receiver, ServiceHandle, sd_service, status};

/// The service: a tokio main that loads its configuration (the `#[ready]` statement),
/// serves until stopped, and reloads on SIGHUP.
#[sd_service(starting = "Loading configuration", running = "Serving", stopping = "Shutting down", reload)]
#[tokio::main(flavor = "current_thread")]
async fn demo_service(service: ServiceHandle) -> io::Result<()> {
    #[ready]
    tokio::time::sleep(Duration::from_millis(400)).await; // load the configuration
    loop {
        tokio::select! {
            () = service.shutdown() => break,
            () = service.reload_requested() => {
                tokio::time::sleep(Duration::from_millis(150)).await; // re-read it
                service.reload_done(); // READY=1: this round's requests are done
            }
        }
    }
    status!("Closing connections").map_err(io::Error::from)?;
    tokio::time::sleep(Duration::from_millis(100)).await;
    Ok(())
}

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("--service") {
        return demo_service();
    }
    match play_systemd() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lifecycle-demo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What the driver does next, once the service reached a point.
enum Step {
    WaitReady,
    ReloadAt(Instant),
    WaitReloaded,
    StopAt(Instant),
    WaitExit,
}

fn play_systemd() -> Result<ExitCode, Box<dyn Error>> {
    let receiver = Receiver::bind_unique_abstract()?;
    let (key, value) = receiver.env();
    println!("lifecycle-demo: playing systemd's part for an #[sd_service] service");
    println!("  NOTIFY_SOCKET={}  WATCHDOG_USEC=1000000 (ping expected every 0.5 s)\n", receiver.address());
    let start = Instant::now();
    let mut child = Command::new(std::env::current_exe()?)
        .arg("--service")
        .env(key, value)
        .env("WATCHDOG_USEC", "1000000")
        .spawn()?;
    let pid = child.id();
    let at = |t: Instant| t.duration_since(start).as_secs_f64();
    println!("[{:7.3}s] started the service, pid {pid}", 0.0);

    let mut step = Step::WaitReady;
    let mut signalled: Option<(Instant, &str)> = None;
    let deadline = start + Duration::from_secs(20);
    loop {
        if let Ok(n) = receiver.recv_timeout(Duration::from_millis(20)) {
            let now = Instant::now();
            let text = String::from_utf8_lossy(n.bytes()).replace('\n', " · ");
            let note = match (&step, &signalled) {
                _ if n.is_barrier() => "barrier: answered, so the manager has read everything".to_owned(),
                (Step::WaitReady, _) if text.starts_with("READY=1") => {
                    step = Step::ReloadAt(now + Duration::from_millis(1200));
                    format!("ready {:.3} s after start, once init succeeded", at(now))
                }
                (Step::WaitReloaded, _) if text.starts_with("READY=1") => {
                    step = Step::StopAt(now + Duration::from_millis(1200));
                    "reload finished".to_owned()
                }
                (_, Some((sent, name)))
                    if text.starts_with("RELOADING=1") || text.starts_with("STOPPING=1") =>
                {
                    format!("{:.0} µs after {name}", now.duration_since(*sent).as_secs_f64() * 1e6)
                }
                _ if text == "WATCHDOG=1" => "watchdog ping from the main task".to_owned(),
                _ => String::new(),
            };
            println!("[{:7.3}s] {text:<48} {note}", at(now));
        }
        let now = Instant::now();
        match step {
            Step::ReloadAt(t) if now >= t => {
                println!("[{:7.3}s] → SIGHUP (systemctl reload)", at(now));
                signalled = Some((Instant::now(), "SIGHUP"));
                send_signal(pid, libc::SIGHUP)?;
                step = Step::WaitReloaded;
            }
            Step::StopAt(t) if now >= t => {
                println!("[{:7.3}s] → SIGTERM (systemctl stop)", at(now));
                signalled = Some((Instant::now(), "SIGTERM"));
                send_signal(pid, libc::SIGTERM)?;
                step = Step::WaitExit;
            }
            _ => {}
        }
        if let Some(status) = child.try_wait()? {
            while let Ok(n) = receiver.recv_timeout(Duration::from_millis(50)) {
                println!(
                    "[{:7.3}s] {}",
                    at(Instant::now()),
                    String::from_utf8_lossy(n.bytes()).replace('\n', " · ")
                );
            }
            println!("[{:7.3}s] exited: {status}", at(Instant::now()));
            return Ok(if status.success() { ExitCode::SUCCESS } else { ExitCode::FAILURE });
        }
        if now > deadline {
            child.kill()?;
            return Err("the service did not finish its life cycle within 20 s".into());
        }
    }
}

fn send_signal(pid: u32, signal: i32) -> io::Result<()> {
    // SAFETY: kill() has no memory preconditions; `pid` is our own child's.
    if unsafe { libc::kill(pid as libc::pid_t, signal) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
