//! Test fixture for the `MAINPID=` hand-over: spawns a child process (`sleep 300`, or the
//! program and arguments in `MAINPID_CHILD`, split on spaces), sends `READY=1`,
//! `MAINPID=<child pid>` and a status naming both PIDs in one datagram, waits until the
//! manager has read it (barrier), then exits 0. The child stays and is the unit's main
//! process from then on.

use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use sd_notify_core::{NotifyState, barrier, notify};

fn main() -> ExitCode {
    let spec = std::env::var("MAINPID_CHILD").unwrap_or_else(|_| "sleep 300".to_owned());
    let mut words = spec.split(' ').filter(|w| !w.is_empty());
    let program = words.next().unwrap_or("sleep");
    let child = match Command::new(program).args(words).stdin(Stdio::null()).spawn() {
        Ok(child) => child,
        Err(e) => {
            eprintln!("fixture-mainpid: cannot spawn {spec}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let me = std::process::id();
    let child_pid = child.id();
    let status = format!("main pid handed over from {me} to {child_pid}");
    if let Err(e) =
        notify(&[NotifyState::Ready, NotifyState::MainPid(child_pid), NotifyState::Status(&status)])
    {
        eprintln!("fixture-mainpid: notify failed: {e}");
        return ExitCode::FAILURE;
    }
    // The manager drops messages whose sender has already exited: wait until it read ours.
    if let Err(e) = barrier(Duration::from_secs(5)) {
        eprintln!("fixture-mainpid: barrier failed: {e}");
    }
    println!("fixture-mainpid: pid {me} handed over to child {child_pid} ({spec}), exiting");
    // The child is not waited for: it outlives us (re-parented to the service manager).
    drop(child);
    ExitCode::SUCCESS
}
