//! Helpers shared by the integration tests (each test file includes this with `mod common;`).
//!
//! Everything here is deterministic and uses real sockets; waits are bounded by [`WAIT`].

#![allow(dead_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use sd_notify_core::{Error, Notification, Notifier, NotifyAddress, Receiver};

/// Generous bound for anything that should happen "at once" (the machine is noisy).
pub const WAIT: Duration = Duration::from_secs(10);

/// A path receiver and an abstract receiver, each with a notifier sending to it.
pub fn both_kinds() -> Vec<(Receiver, Notifier)> {
    [
        Receiver::bind_unique_path().expect("bind path receiver"),
        Receiver::bind_unique_abstract().expect("bind abstract receiver"),
    ]
    .into_iter()
    .map(|r| {
        let n = Notifier::new(r.address().clone()).expect("notifier for receiver");
        (r, n)
    })
    .collect()
}

/// An abstract receiver and a notifier sending to it.
pub fn pair() -> (Receiver, Notifier) {
    let r = Receiver::bind_unique_abstract().expect("bind abstract receiver");
    let n = Notifier::new(r.address().clone()).expect("notifier for receiver");
    (r, n)
}

/// The next datagram, waiting at most [`WAIT`].
pub fn recv(r: &Receiver) -> Notification {
    r.recv_timeout(WAIT).unwrap_or_else(|e| panic!("no datagram at {} within {WAIT:?}: {e}", r.address()))
}

/// Asserts that no datagram is queued. Unix datagrams are queued synchronously by `send(2)`,
/// so once a send call has returned, "nothing queued" means "nothing was sent".
pub fn assert_nothing_queued(r: &Receiver) {
    if let Some(n) = r.try_recv().expect("try_recv") {
        panic!("unexpected datagram {n:?}");
    }
}

/// Our pid, real uid and real gid.
pub fn our_creds() -> (u32, u32, u32) {
    // SAFETY: getuid/getgid have no preconditions and cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    (std::process::id(), uid, gid)
}

/// Asserts the kernel-attached credentials are ours.
pub fn assert_from_us(n: &Notification) {
    let (pid, uid, gid) = our_creds();
    assert_eq!((n.pid(), n.uid(), n.gid()), (Some(pid), Some(uid), Some(gid)), "credentials of {n:?}");
}

/// The errno inside an [`Error::Io`], panicking on any other error.
pub fn io_errno(e: &Error) -> i32 {
    match e {
        Error::Io(io) => io.raw_os_error().unwrap_or_else(|| panic!("io error without errno: {io:?}")),
        other => panic!("expected Error::Io, got {other:?}"),
    }
}

/// `true` when the descriptor has FD_CLOEXEC.
pub fn is_cloexec(fd: BorrowedFd<'_>) -> bool {
    // SAFETY: F_GETFD has no memory preconditions; `fd` is open for the call (borrowed).
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
    assert!(flags >= 0, "fcntl(F_GETFD): {}", io::Error::last_os_error());
    flags & libc::FD_CLOEXEC != 0
}

/// The open descriptors of this process (entries of /proc/self/fd, minus the one used to list).
pub fn open_fds() -> Vec<RawFd> {
    let mut fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    // The directory handle itself shows up in the listing but is closed by now.
    // SAFETY: F_GETFD has no memory preconditions; on a closed descriptor it fails (EBADF).
    fds.retain(|&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0);
    fds.sort_unstable();
    fds
}

/// The address a socket is connected to (`getpeername`), as raw `sockaddr_un` bytes of
/// `sun_path` (abstract names start with NUL), or `None` when it is not a connected Unix socket.
pub fn unix_peer_name(fd: RawFd) -> Option<Vec<u8>> {
    unix_name(fd, libc::getpeername)
}

/// The address a socket is bound to (`getsockname`), as [`unix_peer_name`] gives it.
pub fn unix_sock_name(fd: RawFd) -> Option<Vec<u8>> {
    unix_name(fd, libc::getsockname)
}

type NameFn = unsafe extern "C" fn(libc::c_int, *mut libc::sockaddr, *mut libc::socklen_t) -> libc::c_int;

fn unix_name(fd: RawFd, call: NameFn) -> Option<Vec<u8>> {
    // SAFETY: sockaddr_un is plain old data; all-zero is valid.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    let mut len = size_of::<libc::sockaddr_un>() as libc::socklen_t;
    // SAFETY: `addr` is writable for `len` bytes; getpeername/getsockname write at most that.
    let rc = unsafe { call(fd, (&raw mut addr).cast(), &mut len) };
    if rc != 0 || addr.sun_family != libc::AF_UNIX as libc::sa_family_t {
        return None;
    }
    let path_len = (len as usize).checked_sub(size_of::<libc::sa_family_t>())?;
    Some(addr.sun_path[..path_len].iter().map(|&c| c as u8).collect())
}

/// How a receiver's address appears in `sun_path` from `getpeername` (Linux includes the
/// terminating NUL of a path when the binder passed it, so it is stripped for comparison).
pub fn sun_path_of(address: &NotifyAddress) -> Vec<u8> {
    if let Some(p) = address.as_path() {
        std::os::unix::ffi::OsStrExt::as_bytes(p.as_os_str()).to_vec()
    } else if let Some(name) = address.as_abstract_name() {
        [&[0][..], name].concat()
    } else {
        panic!("not a unix address: {address}")
    }
}

/// The descriptors of this process connected to `address` (normally: the notifier's socket).
pub fn fds_connected_to(address: &NotifyAddress) -> Vec<RawFd> {
    let want = sun_path_of(address);
    open_fds()
        .into_iter()
        .filter(|&fd| {
            unix_peer_name(fd).is_some_and(|mut got| {
                if got.first() != Some(&0) {
                    while got.last() == Some(&0) {
                        got.pop();
                    }
                }
                got == want
            })
        })
        .collect()
}

/// CLOCK_MONOTONIC in µs, as the crate's `MONOTONIC_USEC=` reads it.
pub fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    assert_eq!(rc, 0);
    (ts.tv_sec as u64) * 1_000_000 + (ts.tv_nsec as u64) / 1_000
}

/// A close-on-exec pipe: (read end, write end).
pub fn pipe() -> (std::fs::File, std::fs::File) {
    let mut fds = [-1; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", io::Error::last_os_error());
    // SAFETY: both descriptors were just returned by pipe2 and are owned by nobody else.
    unsafe {
        use std::os::fd::FromRawFd;
        (std::fs::File::from_raw_fd(fds[0]), std::fs::File::from_raw_fd(fds[1]))
    }
}

/// Raises the soft RLIMIT_NOFILE to the hard limit (tests passing hundreds of descriptors).
pub fn raise_fd_limit() {
    let mut rl = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `rl` is a valid writable rlimit.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) }, 0);
    rl.rlim_cur = rl.rlim_max;
    // SAFETY: `rl` is a valid rlimit; raising the soft limit up to the hard one is allowed.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &rl) };
}

/// A small deterministic PRNG (SplitMix64): reproducible runs without any dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0; the modulo bias is irrelevant here).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Waits (at most 30 s) for a child run of a test binary's `child_entry` and checks that
/// it succeeded and that `scenario` really ran to its end (it prints `CHILD-OK <scenario>`:
/// a filter matching nothing would also "succeed"). Returns its stdout and stderr.
pub fn finish_child(mut child: std::process::Child, scenario: &str) -> (String, String) {
    use std::io::Read;
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(30) {
            child.kill().ok();
            child.wait().ok();
            panic!("child {scenario} hung");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut out = String::new();
    let mut err = String::new();
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(status.success(), "child {scenario} failed ({status}):\n{out}\n{err}");
    assert!(out.contains(&format!("CHILD-OK {scenario}\n")), "child {scenario} did not run:\n{out}\n{err}");
    (out, err)
}
