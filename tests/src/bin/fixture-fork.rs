//! Test fixture for fork() without exec: a sync `#[sd_service]` (with `reload`) that, once
//! ready, forks `FORKS` children (default 1) that only sleep (30 s at most, then `_exit(7)`),
//! and prints `CHILD <pid>` for each; a thread reaps them and prints `REAPED <pid> SIGNAL <n>`
//! or `REAPED <pid> EXIT <n>`. The parent runs until it is asked to stop.

use std::time::Duration;

use sd_notify_core::{ServiceHandle, sd_service};
use sd_notify_tests::knob;

#[sd_service(reload)]
fn main(service: ServiceHandle) {
    #[ready]
    let children: Vec<libc::pid_t> = (0..knob("FORKS").unwrap_or(1)).map(|_| fork_sleeper()).collect();
    for child in &children {
        println!("CHILD {child}");
    }
    std::thread::spawn(move || {
        for child in children {
            let mut status = 0;
            // SAFETY: waitpid on our own child, with a valid out pointer.
            if unsafe { libc::waitpid(child, &mut status, 0) } == child {
                if libc::WIFSIGNALED(status) {
                    println!("REAPED {child} SIGNAL {}", libc::WTERMSIG(status));
                } else {
                    println!("REAPED {child} EXIT {}", libc::WEXITSTATUS(status));
                }
            }
        }
    });
    while !service.is_stopping() {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A child that only sleeps: async-signal-safe calls only (the parent has threads).
fn fork_sleeper() -> libc::pid_t {
    // SAFETY: the child calls nothing but sleep() and _exit(), both async-signal-safe.
    match unsafe { libc::fork() } {
        -1 => panic!("fork: {}", std::io::Error::last_os_error()),
        0 => {
            for _ in 0..30 {
                // SAFETY: plain libc calls without memory arguments.
                unsafe { libc::sleep(1) };
            }
            // SAFETY: as above; never returns.
            unsafe { libc::_exit(7) }
        }
        pid => pid,
    }
}
