//! Signal handlers for `#[sd_service]`: the only code that runs in signal context.
//!
//! Everything a handler touches was prepared before it was installed and is reached
//! through atomics: the connected notification socket, the pre-encoded `STOPPING=1`
//! datagram and the write end of a wake-up pipe. A handler only calls async-signal-safe
//! functions (`getpid`, `send`, `write`, `clock_gettime`, `sigaction`, `raise`, `_exit`) and
//! saves/restores `errno`. What a handler cannot finish (no socket yet, a full queue) it
//! leaves to the service thread, which it wakes through the pipe.
//!
//! Dispositions set to a handler are reset to the default by `execve`, and no signal is
//! blocked, so processes the service spawns start with a clean mask and default dispositions.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use super::{FdRole, Setup, cvt, getpid, register_crate_fd};

/// Connected notification socket, or -1 when there is none (unsupervised, vsock, or the
/// socket could not be created).
static SOCKET: AtomicI32 = AtomicI32::new(-1);
/// `NOTIFY_SOCKET` names a manager: a handler that has no socket must leave its send to the
/// service thread rather than count it as done.
static SUPERVISED: AtomicBool = AtomicBool::new(false);
/// The process that installed the handlers. A child made by `fork()` without `exec`
/// inherits them; there they act as the default disposition and send nothing.
static SERVICE_PID: AtomicU32 = AtomicU32::new(0);
/// Write end of the wake-up pipe, or -1 before the first [`install`].
static WAKE: AtomicI32 = AtomicI32::new(-1);
/// The `STOPPING=1…` datagram (leaked, so it lives as long as the handlers).
static STOPPING_PTR: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static STOPPING_LEN: AtomicUsize = AtomicUsize::new(0);

/// SIGTERM/SIGINT received since [`install`].
static STOP_SIGNALS: AtomicU32 = AtomicU32::new(0);
/// Whether `STOPPING=1` was sent (by a handler or the service thread), so it goes out once.
static STOPPING_SENT: AtomicBool = AtomicBool::new(false);
/// SIGHUP received since [`install`].
static RELOAD_SIGNALS: AtomicU32 = AtomicU32::new(0);
/// Handler `RELOADING=1` sends that failed (the service thread then resends).
static RELOADING_FAILED: AtomicU32 = AtomicU32::new(0);

/// The dispositions [`install`] replaced, restored by [`uninstall`].
static REPLACED: Mutex<Vec<(libc::c_int, libc::sigaction)>> = Mutex::new(Vec::new());

/// Publishes the handlers' data, resets the counters and installs the handlers for SIGTERM
/// and SIGINT (and SIGHUP with `reload`). Returns the read end of the wake-up pipe (one
/// per process, reused by later services): one byte arrives per signal.
pub(crate) fn install(setup: Setup) -> io::Result<BorrowedFd<'static>> {
    let wake = wake_pipe()?;
    SOCKET.store(setup.socket.map_or(-1, |s| s.as_raw_fd()), Ordering::SeqCst);
    SUPERVISED.store(setup.supervised, Ordering::SeqCst);
    SERVICE_PID.store(setup.pid, Ordering::SeqCst);
    STOPPING_PTR.store(setup.stopping.as_ptr().cast_mut(), Ordering::SeqCst);
    STOPPING_LEN.store(setup.stopping.len(), Ordering::SeqCst);
    STOP_SIGNALS.store(0, Ordering::SeqCst);
    STOPPING_SENT.store(false, Ordering::SeqCst);
    RELOAD_SIGNALS.store(0, Ordering::SeqCst);
    RELOADING_FAILED.store(0, Ordering::SeqCst);

    let mut signals = vec![libc::SIGTERM, libc::SIGINT];
    if setup.reload {
        signals.push(libc::SIGHUP);
    }
    let mut replaced = REPLACED.lock().unwrap_or_else(|p| p.into_inner());
    for signo in signals {
        // SAFETY: sigaction is plain old data; all-zero is a valid value, then filled in.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        // SAFETY: `action.sa_mask` is a valid sigset_t to initialise.
        unsafe { libc::sigemptyset(&mut action.sa_mask) };
        // SAFETY: as above, for the previous disposition sigaction writes.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: `action` is fully initialised, `old` is writable; the handler is
        // async-signal-safe (see `on_signal`) and its data was published above.
        cvt(unsafe { libc::sigaction(signo, &action, &mut old) })?;
        replaced.push((signo, old));
    }
    Ok(wake)
}

/// Puts back the dispositions [`install`] replaced: after a service returns, its signals
/// behave as they did before it started.
pub(crate) fn uninstall() {
    let mut replaced = REPLACED.lock().unwrap_or_else(|p| p.into_inner());
    for (signo, old) in replaced.drain(..) {
        // SAFETY: `old` is the disposition sigaction returned for this signal.
        unsafe { libc::sigaction(signo, &old, std::ptr::null_mut()) };
    }
    SOCKET.store(-1, Ordering::SeqCst);
}

/// The process's wake-up pipe, created on first use and never closed (the handlers write
/// to it at any time). Returns its read end.
fn wake_pipe() -> io::Result<BorrowedFd<'static>> {
    static READ: OnceLock<OwnedFd> = OnceLock::new();
    if let Some(read) = READ.get() {
        return Ok(read.as_fd());
    }
    let mut fds = [-1; 2];
    // Both ends non-blocking in the one call (one system call fewer on the way to READY):
    // the write end must never block a handler, and the service thread reads only after
    // `poll` said there is something to read.
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) })?;
    // SAFETY: pipe2 just returned these descriptors; nobody else owns them.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    register_crate_fd(read.as_fd(), FdRole::WakePipe);
    register_crate_fd(write.as_fd(), FdRole::WakePipe);
    let read = READ.get_or_init(|| read);
    // The write end is used by the handlers for the rest of the process: never closed.
    WAKE.store(std::os::fd::IntoRawFd::into_raw_fd(write), Ordering::SeqCst);
    Ok(read.as_fd())
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

/// Sends `bytes` on the handlers' socket without blocking; `true` when nothing is left to
/// do (sent, or nobody to tell), `false` when the service thread must send it.
fn send_from_handler(bytes: &[u8]) -> bool {
    let fd = SOCKET.load(Ordering::SeqCst);
    if fd < 0 {
        return !SUPERVISED.load(Ordering::SeqCst);
    }
    // SAFETY: `bytes` is valid for its length; send() is async-signal-safe; MSG_DONTWAIT
    // because a handler must never block.
    let sent = unsafe {
        libc::send(fd, bytes.as_ptr().cast(), bytes.len(), libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT)
    };
    sent == bytes.len() as isize
}

/// In a process that is not the service's (a `fork()` child that did not `exec`): behave as
/// if no handler were installed. The disposition goes back to the default and the signal is
/// raised again; it is blocked while this handler runs, so it is delivered, with the default
/// action, as soon as the handler returns.
fn act_as_default(signo: libc::c_int) {
    // SAFETY: sigaction is plain old data; all-zero (SIG_DFL, empty mask) is valid.
    let action: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: sigaction() and raise() are async-signal-safe; `action` is initialised.
    unsafe {
        libc::sigaction(signo, &action, std::ptr::null_mut());
        libc::raise(signo);
    }
}

extern "C" fn on_signal(signo: libc::c_int) {
    // SAFETY: __errno_location() returns this thread's errno slot, valid for the thread's life.
    let errno = unsafe { *libc::__errno_location() };
    if getpid() != SERVICE_PID.load(Ordering::SeqCst) {
        act_as_default(signo);
    } else {
        match signo {
            libc::SIGTERM | libc::SIGINT => on_stop_signal(signo),
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
    }
    // SAFETY: as above; restoring errno keeps the interrupted code's view intact.
    unsafe { *libc::__errno_location() = errno };
}

fn on_stop_signal(signo: libc::c_int) {
    if STOP_SIGNALS.fetch_add(1, Ordering::SeqCst) > 0 {
        // A repeated stop signal. Under a manager it is ignored: the stop is under way, and
        // the manager escalates by itself (SIGKILL after TimeoutStopSec=); `ExecStop=kill`
        // followed by the manager's own SIGTERM must stay a clean stop. Without a manager,
        // a second SIGINT is a person pressing Ctrl-C again: exit now, as a shell reports it.
        if signo == libc::SIGINT && !SUPERVISED.load(Ordering::SeqCst) {
            // SAFETY: _exit is async-signal-safe and never returns.
            unsafe { libc::_exit(128 + signo) };
        }
        return;
    }
    let ptr = STOPPING_PTR.load(Ordering::SeqCst);
    let len = STOPPING_LEN.load(Ordering::SeqCst);
    // Claim the send first, so that no other path sends it too; give the claim back when
    // the send failed, so that the service thread sends it instead.
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
