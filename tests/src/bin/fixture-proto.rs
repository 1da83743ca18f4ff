//! Test fixture for the protocol lines whose support differs between systemd releases (the
//! feature × version table of `tests/e2e/README.md`): a plain `Type=notify` service that
//! sends, with [`Notifier`] and typed [`NotifyState`]s, what the knob `PROTO` names, then
//! `READY=1` and waits for SIGTERM (or, for `exit-status`, exits). Each step is printed.
//!
//! - `notify-access`: `READY=1` + `NOTIFYACCESS=all` (the unit says `NotifyAccess=main`).
//! - `mainpidfd`: spawns `sleep`, sends `READY=1` + `MAINPIDFD=1` with a pidfd of it.
//! - `exit-status`: `READY=1`, later `STOPPING=1` + `EXIT_STATUS=7`, a barrier, exit 0.
//! - `errors`: `READY=1` + `STATUS=` + `ERRNO=5` + `BUSERROR=` + `VARLINKERROR=`.
//! - `fdstore-remove`: stores the read ends of two pipes (`a`, `b`), `READY=1`; when the
//!   file `$GATE` appears, `FDSTOREREMOVE=1` + `FDNAME=a`.
//! - `fdpoll`: stores the read ends of two pipes (`polled`, and `unpolled` with `FDPOLL=0`),
//!   `READY=1`, then closes both write ends: the manager sees a hang-up on both.
//! - `watchdog-usec`: `READY=1` + `WATCHDOG_USEC=30000000` (the unit says `WatchdogSec=1`),
//!   no ping ever.
//! - `restart-reset`: the first run (no file `$GATE` yet) creates it, sends `READY=1` and
//!   exits 1; the next run (`Restart=on-failure`) sends `READY=1` + `RESTART_RESET=1`.

use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

use sd_notify_core::{Message, Notifier, NotifyAccess, NotifyState, SendOptions};

fn say(line: &str) {
    eprintln!("fixture-proto: {line}");
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded: both are fresh descriptors owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn send(
    notifier: &Notifier,
    states: &[NotifyState<'_>],
    fds: &[std::os::fd::BorrowedFd<'_>],
) -> io::Result<()> {
    let msg = Message::from_states(states).map_err(io::Error::other)?;
    notifier.send_with(&msg, SendOptions::new().fds(fds)).map_err(io::Error::other)?;
    say(&format!("sent {:?} with {} fd(s)", String::from_utf8_lossy(msg.as_bytes()), fds.len()));
    Ok(())
}

fn wait_for_term() -> ! {
    // SIGTERM keeps its default action: the manager's stop ends the process.
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn main() -> io::Result<()> {
    let notifier = Notifier::from_env()
        .map_err(io::Error::other)?
        .ok_or_else(|| io::Error::other("no NOTIFY_SOCKET"))?;
    let proto = std::env::var("PROTO").unwrap_or_default();
    match proto.as_str() {
        "notify-access" => {
            send(notifier, &[NotifyState::Ready, NotifyState::NotifyAccess(NotifyAccess::All)], &[])?;
            wait_for_term();
        }
        "mainpidfd" => {
            let child = std::process::Command::new("sleep").arg("infinity").spawn()?;
            let pid = libc::pid_t::try_from(child.id()).map_err(io::Error::other)?;
            // SAFETY: pidfd_open(pid, 0) takes two integers; a negative result is an error.
            let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
            if raw < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: a fresh descriptor from pidfd_open, owned by nobody else.
            let pidfd = unsafe { OwnedFd::from_raw_fd(i32::try_from(raw).map_err(io::Error::other)?) };
            say(&format!("child sleep is pid {pid}"));
            send(notifier, &[NotifyState::Ready, NotifyState::MainPidFd], &[pidfd.as_fd()])?;
            notifier.barrier(Duration::from_secs(5)).map_err(io::Error::other)?;
            say("barrier passed");
            wait_for_term();
        }
        "exit-status" => {
            send(notifier, &[NotifyState::Ready], &[])?;
            std::thread::sleep(Duration::from_millis(300));
            send(notifier, &[NotifyState::Stopping, NotifyState::ExitStatus(7)], &[])?;
            notifier.barrier(Duration::from_secs(5)).map_err(io::Error::other)?;
            say("barrier passed; exit 0");
            Ok(())
        }
        "errors" => {
            send(
                notifier,
                &[
                    NotifyState::Ready,
                    NotifyState::Status("degraded"),
                    NotifyState::Errno(5),
                    NotifyState::BusError("org.freedesktop.DBus.Error.TimedOut"),
                    NotifyState::VarlinkError("io.systemd.Example.Failed"),
                ],
                &[],
            )?;
            wait_for_term();
        }
        "fdstore-remove" => {
            let (a, _a_w) = pipe()?;
            let (b, _b_w) = pipe()?;
            send(notifier, &[NotifyState::FdStore, NotifyState::FdName("a")], &[a.as_fd()])?;
            send(notifier, &[NotifyState::FdStore, NotifyState::FdName("b")], &[b.as_fd()])?;
            send(notifier, &[NotifyState::Ready, NotifyState::Status("stored a and b")], &[])?;
            let gate = std::env::var_os("GATE").ok_or_else(|| io::Error::other("no GATE"))?;
            while !Path::new(&gate).exists() {
                std::thread::sleep(Duration::from_millis(20));
            }
            send(notifier, &[NotifyState::FdStoreRemove, NotifyState::FdName("a")], &[])?;
            send(notifier, &[NotifyState::Status("removed a")], &[])?;
            wait_for_term();
        }
        "fdpoll" => {
            let (polled, polled_w) = pipe()?;
            let (unpolled, unpolled_w) = pipe()?;
            send(notifier, &[NotifyState::FdStore, NotifyState::FdName("polled")], &[polled.as_fd()])?;
            send(
                notifier,
                &[NotifyState::FdStore, NotifyState::FdName("unpolled"), NotifyState::FdPollDisable],
                &[unpolled.as_fd()],
            )?;
            notifier.barrier(Duration::from_secs(5)).map_err(io::Error::other)?;
            say(&format!("closing the write ends {} and {}", polled_w.as_raw_fd(), unpolled_w.as_raw_fd()));
            drop((polled_w, unpolled_w));
            send(notifier, &[NotifyState::Ready, NotifyState::Status("write ends closed")], &[])?;
            wait_for_term();
        }
        "watchdog-usec" => {
            send(notifier, &[NotifyState::Ready, NotifyState::WatchdogUsec(30_000_000)], &[])?;
            wait_for_term();
        }
        "restart-reset" => {
            // First run: mark, READY=1, exit 1 (Restart=on-failure); the second run resets.
            let mark = std::env::var_os("GATE").ok_or_else(|| io::Error::other("no GATE"))?;
            if Path::new(&mark).exists() {
                send(notifier, &[NotifyState::Ready, NotifyState::RestartReset], &[])?;
                wait_for_term();
            }
            std::fs::write(&mark, b"1")?;
            send(notifier, &[NotifyState::Ready], &[])?;
            notifier.barrier(Duration::from_secs(5)).map_err(io::Error::other)?;
            say("first run: exit 1");
            std::process::exit(1);
        }
        other => Err(io::Error::other(format!("unknown PROTO {other:?}"))),
    }
}
