//! Part 3's comparison for `bench-service-sync`: the common hand-written sync pattern. A
//! SIGTERM handler sets a flag (all a handler may safely do without preparing more); the
//! loop checks it every `BENCH_LOOP_MS` milliseconds (default 100), as `bench-service-sync`
//! checks `is_stopping()`, and then sends `STOPPING=1` with `sd-notify` 0.5.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sd_notify::NotifyState;

static TERM: AtomicBool = AtomicBool::new(false);

extern "C" fn on_term(_: libc::c_int) {
    TERM.store(true, Ordering::SeqCst);
}

fn main() {
    // SAFETY: sigaction is plain old data (all-zero is valid, then filled in); the handler
    // only stores to an atomic, which is async-signal-safe.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_term as *const () as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(libc::SIGTERM, &action, std::ptr::null_mut()) != 0 {
            eprintln!("bench-handrolled-sync: sigaction: {}", std::io::Error::last_os_error());
            std::process::exit(1);
        }
    }
    if let Err(e) = sd_notify::notify(&[NotifyState::Ready]) {
        eprintln!("bench-handrolled-sync: READY=1: {e}");
    }
    let ms = std::env::var("BENCH_LOOP_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    while !TERM.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(ms));
    }
    if let Err(e) = sd_notify::notify(&[NotifyState::Stopping]) {
        eprintln!("bench-handrolled-sync: STOPPING=1: {e}");
    }
}
