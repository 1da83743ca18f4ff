//! Signal handlers for `#[sd_service]`: the only code that runs in signal context.
//!
//! Everything a handler touches was prepared before it was installed and is reached
//! through atomics: the connected notification socket, the pre-encoded `STOPPING=1`
//! datagram and the write end of a wake-up pipe. A handler only calls async-signal-safe
//! functions (`send`, `write`, `clock_gettime`, `_exit`) and saves/restores `errno`.
//!
//! Dispositions set to a handler are reset to the default by `execve`, and no signal is
//! blocked, so processes the service spawns start with a clean mask and default dispositions.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicUsize, Ordering};

use super::{cvt, pipe};

/// Connected notification socket, or -1 when the process is not supervised.
static SOCKET: AtomicI32 = AtomicI32::new(-1);
/// Write end of the wake-up pipe, or -1 before [`install`].
static WAKE: AtomicI32 = AtomicI32::new(-1);
/// The `STOPPING=1…` datagram (leaked, so it lives as long as the handlers).
static STOPPING_PTR: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static STOPPING_LEN: AtomicUsize = AtomicUsize::new(0);

/// SIGTERM/SIGINT received so far (a second one exits at once).
static STOP_SIGNALS: AtomicU32 = AtomicU32::new(0);
/// Whether `STOPPING=1` was sent (by a handler or the service thread), so it goes out once.
static STOPPING_SENT: AtomicBool = AtomicBool::new(false);
/// SIGHUP received so far.
static RELOAD_SIGNALS: AtomicU32 = AtomicU32::new(0);
/// Handler `RELOADING=1` sends that failed (the service thread then resends).
static RELOADING_FAILED: AtomicU32 = AtomicU32::new(0);

/// Prepares the handlers' data and installs them for SIGTERM and SIGINT (and SIGHUP with
/// `reload`). Returns the read end of the wake-up pipe: one byte arrives per signal.
///
/// `socket` must stay open for the rest of the process (the process-wide notifier's).
pub(crate) fn install(
    socket: Option<BorrowedFd<'static>>,
    stopping: &'static [u8],
    reload: bool,
) -> io::Result<OwnedFd> {
    let (read, write) = pipe()?;
    // SAFETY: F_SETFL on a descriptor we own; the write end must never block a handler.
    cvt(unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) })?;
    SOCKET.store(socket.map_or(-1, |s| s.as_raw_fd()), Ordering::SeqCst);
    STOPPING_PTR.store(stopping.as_ptr().cast_mut(), Ordering::SeqCst);
    STOPPING_LEN.store(stopping.len(), Ordering::SeqCst);
    // The write end is used by the handlers for the rest of the process: never closed.
    WAKE.store(std::os::fd::IntoRawFd::into_raw_fd(write), Ordering::SeqCst);

    let mut signals = vec![libc::SIGTERM, libc::SIGINT];
    if reload {
        signals.push(libc::SIGHUP);
    }
    for signo in signals {
        // SAFETY: sigaction is plain old data; all-zero is a valid value, then filled in.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        // SAFETY: `action.sa_mask` is a valid sigset_t to initialise.
        unsafe { libc::sigemptyset(&mut action.sa_mask) };
        // SAFETY: `action` is fully initialised; the handler is async-signal-safe (see
        // `on_signal`) and its data was published above, before installation.
        cvt(unsafe { libc::sigaction(signo, &action, std::ptr::null_mut()) })?;
    }
    Ok(read)
}

/// SIGTERM/SIGINT received so far.
pub(crate) fn stop_signals() -> u32 {
    STOP_SIGNALS.load(Ordering::SeqCst)
}

/// SIGHUP received so far.
pub(crate) fn reload_signals() -> u32 {
    RELOAD_SIGNALS.load(Ordering::SeqCst)
}

/// `RELOADING=1` sends a handler could not make since the last call (the caller resends).
pub(crate) fn take_failed_reloading_sends() -> u32 {
    RELOADING_FAILED.swap(0, Ordering::SeqCst)
}

/// Marks STOPPING as sent, by a handler or by other means; returns whether it already was,
/// so that exactly one caller sends it.
pub(crate) fn mark_stopping_sent() -> bool {
    STOPPING_SENT.swap(true, Ordering::SeqCst)
}

/// Wakes the service thread from normal (non-signal) context.
pub(crate) fn wake() {
    wake_from_handler();
}

fn wake_from_handler() {
    let fd = WAKE.load(Ordering::SeqCst);
    if fd >= 0 {
        let byte = 1u8;
        // SAFETY: write() of one byte from a valid local; `fd` is the never-closed,
        // non-blocking pipe end. A full pipe (EAGAIN) already guarantees a wake-up.
        unsafe { libc::write(fd, (&raw const byte).cast(), 1) };
    }
}

/// Sends `bytes` on the handlers' socket without blocking; `true` on success.
fn send_from_handler(bytes: &[u8]) -> bool {
    let fd = SOCKET.load(Ordering::SeqCst);
    if fd < 0 {
        return true; // not supervised: nothing to send
    }
    // SAFETY: `bytes` is valid for its length; send() is async-signal-safe; MSG_DONTWAIT
    // because a handler must never block.
    let sent = unsafe {
        libc::send(fd, bytes.as_ptr().cast(), bytes.len(), libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT)
    };
    sent == bytes.len() as isize
}

extern "C" fn on_signal(signo: libc::c_int) {
    // SAFETY: __errno_location() returns this thread's errno slot, valid for the thread's life.
    let errno = unsafe { *libc::__errno_location() };
    match signo {
        libc::SIGTERM | libc::SIGINT => {
            if STOP_SIGNALS.fetch_add(1, Ordering::SeqCst) > 0 {
                // The second stop signal: the user insists. Exit now, as a shell would report it.
                // SAFETY: _exit is async-signal-safe and never returns.
                unsafe { libc::_exit(128 + signo) };
            }
            let ptr = STOPPING_PTR.load(Ordering::SeqCst);
            let len = STOPPING_LEN.load(Ordering::SeqCst);
            // Claim the send first, so that no other path sends it too; give the claim back
            // when the send failed, so that the service thread sends it instead.
            if !ptr.is_null()
                && STOPPING_SENT.compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst).is_ok()
            {
                // SAFETY: ptr/len describe the leaked &'static [u8] published in `install`.
                let msg = unsafe { std::slice::from_raw_parts(ptr, len) };
                if !send_from_handler(msg) {
                    STOPPING_SENT.store(false, Ordering::SeqCst);
                }
            }
        }
        libc::SIGHUP => {
            RELOAD_SIGNALS.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 64];
            let len = encode_reloading(&mut buf, super::monotonic_usec());
            if !send_from_handler(&buf[..len]) {
                RELOADING_FAILED.fetch_add(1, Ordering::SeqCst);
            }
        }
        _ => {}
    }
    wake_from_handler();
    // SAFETY: as above; restoring errno keeps the interrupted code's view intact.
    unsafe { *libc::__errno_location() = errno };
}

/// `RELOADING=1\nMONOTONIC_USEC=<usec>` without allocating or formatting machinery (this
/// runs in a signal handler). Returns the length written.
pub(crate) fn encode_reloading(buf: &mut [u8; 64], usec: u64) -> usize {
    const PREFIX: &[u8] = b"RELOADING=1\nMONOTONIC_USEC=";
    buf[..PREFIX.len()].copy_from_slice(PREFIX);
    let mut digits = [0u8; 20];
    let mut n = usec;
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let count = digits.len() - i;
    buf[PREFIX.len()..PREFIX.len() + count].copy_from_slice(&digits[i..]);
    PREFIX.len() + count
}

#[cfg(test)]
mod tests {
    #[test]
    fn reloading_encoding_matches_the_formatter() {
        for usec in [0, 7, 10, 123_456_789, u64::MAX] {
            let mut buf = [0; 64];
            let len = super::encode_reloading(&mut buf, usec);
            assert_eq!(&buf[..len], format!("RELOADING=1\nMONOTONIC_USEC={usec}").as_bytes());
        }
    }
}
