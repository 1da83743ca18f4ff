//! Every system call of the crate, and so every `unsafe` block (Linux).
//!
//! The rest of the crate is safe code over these functions. Each function takes and returns
//! owned or borrowed descriptors, never a bare `RawFd` that outlives the call.

use std::io;
use std::mem;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::address::SUN_PATH_LEN;

/// Turns a libc `-1` into the thread's `errno`.
pub(crate) fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 { Err(io::Error::last_os_error()) } else { Ok(ret) }
}

/// Like [`cvt`] for `ssize_t` results.
fn cvt_size(ret: libc::ssize_t) -> io::Result<usize> {
    if ret < 0 { Err(io::Error::last_os_error()) } else { Ok(ret as usize) }
}

/// Retries a call interrupted by a signal.
fn retry<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Takes ownership of a descriptor a successful system call just returned.
fn owned(fd: libc::c_int) -> OwnedFd {
    debug_assert!(fd >= 0);
    // SAFETY: `fd` was just returned by a successful socket()/pipe2() call in this module, so it
    // is open and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// `CLOCK_MONOTONIC` in microseconds.
pub(crate) fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64) * 1_000_000 + (ts.tv_nsec as u64) / 1_000
}

/// A `sockaddr_un` and the exact length to pass with it.
#[derive(Clone, Copy)]
pub(crate) struct UnixAddr {
    addr: libc::sockaddr_un,
    len: libc::socklen_t,
}

impl UnixAddr {
    /// A filesystem path (`sun_path` = path + NUL) or, with `is_abstract`, an abstract name
    /// (`sun_path` = NUL + name, no terminator, length counting exactly those bytes).
    pub(crate) fn new(is_abstract: bool, name: &[u8]) -> io::Result<Self> {
        // SAFETY: sockaddr_un is plain old data; all-zero bytes are a valid value.
        let mut addr: libc::sockaddr_un = unsafe { mem::zeroed() };
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        let offset = if is_abstract { 1 } else { 0 };
        // One byte more than the name: the leading NUL (abstract) or the terminator (path).
        if name.len() + 1 > SUN_PATH_LEN || name.contains(&0) {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        for (dst, &src) in addr.sun_path[offset..].iter_mut().zip(name) {
            *dst = src as libc::c_char;
        }
        let path_offset = size_of::<libc::sa_family_t>();
        let len = path_offset + name.len() + 1;
        Ok(UnixAddr { addr, len: len as libc::socklen_t })
    }

    fn as_ptr(&self) -> *const libc::sockaddr {
        (&raw const self.addr).cast()
    }

    /// The address length passed to the kernel (2 + 1 + name length in both forms).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }
}

/// A new `AF_UNIX`/`SOCK_DGRAM` socket, close-on-exec.
pub(crate) fn unix_dgram_socket() -> io::Result<OwnedFd> {
    // SAFETY: socket() has no memory preconditions.
    let fd = cvt(unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    Ok(owned(fd))
}

/// Associates a datagram socket with `addr` (may be called again to re-associate).
pub(crate) fn connect_unix(fd: BorrowedFd<'_>, addr: &UnixAddr) -> io::Result<()> {
    // SAFETY: `addr` points to a valid sockaddr_un of `len` bytes for the duration of the call.
    retry(|| cvt(unsafe { libc::connect(fd.as_raw_fd(), addr.as_ptr(), addr.len) })).map(drop)
}

/// Binds a socket to `addr`.
pub(crate) fn bind_unix(fd: BorrowedFd<'_>, addr: &UnixAddr) -> io::Result<()> {
    // SAFETY: `addr` points to a valid sockaddr_un of `len` bytes for the duration of the call.
    cvt(unsafe { libc::bind(fd.as_raw_fd(), addr.as_ptr(), addr.len) }).map(drop)
}

fn set_option<T>(fd: BorrowedFd<'_>, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: `value` is a valid `T` of the size passed, as the option expects.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// Bounds how long a send may block when the receiver's queue is full: past it the send
/// fails with `EAGAIN`. A zero duration would mean "forever" to the kernel, so it is raised
/// to one microsecond.
pub(crate) fn set_send_timeout(fd: BorrowedFd<'_>, timeout: Duration) -> io::Result<()> {
    set_option(fd, libc::SOL_SOCKET, libc::SO_SNDTIMEO, &timeval(timeout))
}

/// A kernel timeout of at least 1 µs (zero would mean "forever").
fn timeval(timeout: Duration) -> libc::timeval {
    let timeout = timeout.max(Duration::from_micros(1));
    libc::timeval {
        tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_usec: timeout.subsec_micros() as libc::suseconds_t,
    }
}

/// `<linux/vm_sockets.h>`: SO_VM_SOCKETS_CONNECT_TIMEOUT (the `struct timeval` form, 64-bit).
const SO_VM_SOCKETS_CONNECT_TIMEOUT: libc::c_int = 6;

/// Raises the send buffer as libsystemd does (8 MiB); failure is harmless and ignored.
pub(crate) fn grow_send_buffer(fd: BorrowedFd<'_>) {
    let size: libc::c_int = 8 << 20;
    let _ = set_option(fd, libc::SOL_SOCKET, libc::SO_SNDBUF, &size);
}

/// Asks the kernel to attach the sender's credentials to every datagram received.
pub(crate) fn set_pass_credentials(fd: BorrowedFd<'_>) -> io::Result<()> {
    let one: libc::c_int = 1;
    set_option(fd, libc::SOL_SOCKET, libc::SO_PASSCRED, &one)
}

/// Sends one datagram on a connected socket: exactly one `send(2)`.
pub(crate) fn send(fd: BorrowedFd<'_>, bytes: &[u8]) -> io::Result<()> {
    send_flags(fd, bytes, Wait::Block)
}

/// Whether a send may wait for room in the manager's queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Block (bounded by the socket's `SO_SNDTIMEO`).
    Block,
    /// `MSG_DONTWAIT`: a full queue is `WouldBlock` at once.
    Never,
}

impl Wait {
    fn flags(self) -> libc::c_int {
        match self {
            Wait::Block => libc::MSG_NOSIGNAL,
            Wait::Never => libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
        }
    }
}

/// `send(2)` of one datagram on a connected socket.
pub(crate) fn send_flags(fd: BorrowedFd<'_>, bytes: &[u8], wait: Wait) -> io::Result<()> {
    retry(|| {
        // SAFETY: `bytes` is valid for reads of its length for the duration of the call.
        cvt_size(unsafe { libc::send(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len(), wait.flags()) })
    })
    .map(drop)
}

/// One `send(2)` attempt (`MSG_NOSIGNAL`, blocking up to the socket's timeout), without the
/// retry on `EINTR`: the hot path of a prepared message; the caller handles every error.
#[inline(always)]
pub(crate) fn send_once(fd: BorrowedFd<'_>, bytes: &[u8]) -> io::Result<()> {
    // SAFETY: `bytes` is valid for reads of its length for the duration of the call.
    let sent = unsafe { libc::send(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len(), Wait::Block.flags()) };
    if sent < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

/// This process's ID (`getpid(2)`, async-signal-safe; after `fork` it is the child's).
pub(crate) fn getpid() -> u32 {
    // SAFETY: getpid() has no preconditions and cannot fail.
    unsafe { libc::getpid() as u32 }
}

/// Credentials to claim for a datagram (the kernel checks them; only root may lie).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Credentials {
    pub(crate) pid: u32,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
}

impl Credentials {
    /// `pid` with our real uid and gid.
    pub(crate) fn for_pid(pid: u32) -> Self {
        // SAFETY: getuid()/getgid() cannot fail and have no preconditions.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        Credentials { pid, uid, gid }
    }
}

/// Most descriptors one message may carry (the kernel's SCM_MAX_FD is 253).
pub const MAX_FDS: usize = 253;

/// Room for SCM_RIGHTS with MAX_FDS descriptors plus SCM_CREDENTIALS, aligned for cmsghdr.
#[repr(C, align(8))]
struct ControlBuffer([u8; 1280]);

const fn cmsg_space(len: usize) -> usize {
    // SAFETY: CMSG_SPACE only computes a size.
    unsafe { libc::CMSG_SPACE(len as libc::c_uint) as usize }
}

/// `sendmsg(2)` of one datagram, optionally with descriptors (SCM_RIGHTS) and claimed
/// credentials (SCM_CREDENTIALS), to the connected peer or to `to`.
pub(crate) fn send_msg(
    fd: BorrowedFd<'_>,
    to: Option<&UnixAddr>,
    bytes: &[u8],
    fds: &[BorrowedFd<'_>],
    creds: Option<Credentials>,
    wait: Wait,
) -> io::Result<()> {
    if fds.len() > MAX_FDS {
        return Err(io::Error::from_raw_os_error(libc::E2BIG));
    }
    let rights_len = size_of_val(fds);
    let creds_len = size_of::<libc::ucred>();
    let mut control = ControlBuffer([0; 1280]);
    let control_len = if fds.is_empty() { 0 } else { cmsg_space(rights_len) }
        + if creds.is_some() { cmsg_space(creds_len) } else { 0 };
    debug_assert!(control_len <= control.0.len());

    let mut iov = libc::iovec { iov_base: bytes.as_ptr() as *mut libc::c_void, iov_len: bytes.len() };
    // SAFETY: msghdr is plain old data; all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    if let Some(to) = to {
        msg.msg_name = to.as_ptr() as *mut libc::c_void;
        msg.msg_namelen = to.len;
    }
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if control_len > 0 {
        msg.msg_control = control.0.as_mut_ptr().cast();
        msg.msg_controllen = control_len as _;
        // SAFETY: msg_control points to `control_len` zeroed, 8-aligned bytes, which is exactly
        // the sum of the CMSG_SPACE of the (at most two) headers written below, so
        // CMSG_FIRSTHDR/CMSG_NXTHDR return in-bounds headers and each CMSG_DATA region has room
        // for the `*_len` bytes copied into it. The sources are valid for those lengths.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            if !fds.is_empty() {
                (*cmsg).cmsg_level = libc::SOL_SOCKET;
                (*cmsg).cmsg_type = libc::SCM_RIGHTS;
                (*cmsg).cmsg_len = libc::CMSG_LEN(rights_len as libc::c_uint) as _;
                // BorrowedFd is repr(transparent) over a c_int.
                ptr::copy_nonoverlapping(fds.as_ptr().cast::<u8>(), libc::CMSG_DATA(cmsg), rights_len);
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
            if let Some(c) = creds {
                let ucred = libc::ucred { pid: c.pid as libc::pid_t, uid: c.uid, gid: c.gid };
                (*cmsg).cmsg_level = libc::SOL_SOCKET;
                (*cmsg).cmsg_type = libc::SCM_CREDENTIALS;
                (*cmsg).cmsg_len = libc::CMSG_LEN(creds_len as libc::c_uint) as _;
                ptr::copy_nonoverlapping((&raw const ucred).cast::<u8>(), libc::CMSG_DATA(cmsg), creds_len);
            }
        }
    }
    retry(|| {
        // SAFETY: `msg` points to `iov`, `control` and the address, all alive and valid for
        // the duration of the call; the kernel only reads them.
        cvt_size(unsafe { libc::sendmsg(fd.as_raw_fd(), &msg, wait.flags()) })
    })
    .map(drop)
}

/// Socket types for `AF_VSOCK`, in the order libsystemd tries them for plain `vsock:`.
pub(crate) const VSOCK_DGRAM: libc::c_int = libc::SOCK_DGRAM;
/// See [`VSOCK_DGRAM`].
pub(crate) const VSOCK_SEQPACKET: libc::c_int = libc::SOCK_SEQPACKET;
/// See [`VSOCK_DGRAM`].
pub(crate) const VSOCK_STREAM: libc::c_int = libc::SOCK_STREAM;

/// A new `AF_VSOCK` socket of `sock_type`, connected to `cid:port`, with a send timeout.
pub(crate) fn vsock_connect(
    sock_type: libc::c_int,
    cid: u32,
    port: u32,
    timeout: Duration,
) -> io::Result<OwnedFd> {
    // SAFETY: socket() has no memory preconditions.
    let fd = owned(cvt(unsafe { libc::socket(libc::AF_VSOCK, sock_type | libc::SOCK_CLOEXEC, 0) })?);
    set_send_timeout(fd.as_fd(), timeout)?;
    // connect() waits by its own timer (2 s by default); bound it by the same timeout.
    set_option(fd.as_fd(), libc::AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &timeval(timeout))?;
    // SAFETY: sockaddr_vm is plain old data; all-zero is valid.
    let mut addr: libc::sockaddr_vm = unsafe { mem::zeroed() };
    addr.svm_family = libc::AF_VSOCK as libc::sa_family_t;
    addr.svm_cid = cid;
    addr.svm_port = port;
    retry(|| {
        // SAFETY: `addr` is a valid sockaddr_vm of the size passed.
        cvt(unsafe {
            libc::connect(
                fd.as_raw_fd(),
                (&raw const addr).cast(),
                size_of::<libc::sockaddr_vm>() as libc::socklen_t,
            )
        })
    })?;
    Ok(fd)
}

/// Ends the writing half of a stream (the manager then reads the message to EOF).
pub(crate) fn shutdown_write(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: shutdown() has no memory preconditions.
    cvt(unsafe { libc::shutdown(fd.as_raw_fd(), libc::SHUT_WR) }).map(drop)
}

/// A close-on-exec pipe: (read end, write end).
pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    Ok((owned(fds[0]), owned(fds[1])))
}

/// Waits until `fd` is ready for `events` or `timeout` passes (`None`: forever). Returns
/// the events seen, empty on timeout. Restarts after signals with the remaining time.
pub(crate) fn poll(
    fd: BorrowedFd<'_>,
    events: libc::c_short,
    timeout: Option<Duration>,
) -> io::Result<libc::c_short> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let ms = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                // Round up so that a short timeout does not become a busy loop of 0 ms polls.
                libc::c_int::try_from(left.as_micros().div_ceil(1000)).unwrap_or(libc::c_int::MAX)
            }
        };
        let mut pfd = libc::pollfd { fd: fd.as_raw_fd(), events, revents: 0 };
        // SAFETY: `pfd` is one valid pollfd.
        match cvt(unsafe { libc::poll(&mut pfd, 1, ms) }) {
            Ok(0) => return Ok(0),
            Ok(_) => return Ok(pfd.revents),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Reads what is there (after [`poll`] said so) into `buf`.
pub(crate) fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of its length for the duration of the call.
    retry(|| cvt_size(unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) }))
}

/// `POLLHUP`, re-exported for callers of [`poll`].
pub(crate) const POLLHUP: libc::c_short = libc::POLLHUP;
/// `POLLIN`, re-exported for callers of [`poll`].
pub(crate) const POLLIN: libc::c_short = libc::POLLIN;
/// `POLLOUT`, re-exported for callers of [`poll`]: on a connected datagram socket, room in
/// the peer's queue.
pub(crate) const POLLOUT: libc::c_short = libc::POLLOUT;

/// Waits on two descriptors at once (the service thread: its wake-up pipe, and the
/// notification socket while it has something queued). Returns the events of each; both
/// empty on timeout.
pub(crate) fn poll2(
    a: (BorrowedFd<'_>, libc::c_short),
    b: Option<(BorrowedFd<'_>, libc::c_short)>,
    timeout: Option<Duration>,
) -> io::Result<(libc::c_short, libc::c_short)> {
    let ms = timeout
        .map_or(-1, |t| libc::c_int::try_from(t.as_micros().div_ceil(1000)).unwrap_or(libc::c_int::MAX));
    let mut pfds = [
        libc::pollfd { fd: a.0.as_raw_fd(), events: a.1, revents: 0 },
        libc::pollfd { fd: b.map_or(-1, |b| b.0.as_raw_fd()), events: b.map_or(0, |b| b.1), revents: 0 },
    ];
    // SAFETY: `pfds` is an array of two valid pollfds (a negative fd is ignored by poll).
    match cvt(unsafe { libc::poll(pfds.as_mut_ptr(), 2, ms) }) {
        Ok(_) => Ok((pfds[0].revents, pfds[1].revents)),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok((0, 0)),
        Err(e) => Err(e),
    }
}

/// What one `recvmsg(2)` on a notification socket returned.
pub(crate) struct Received {
    /// Bytes of the datagram, even when more than the buffer held.
    pub(crate) len: usize,
    /// The sender's credentials, when the socket has SO_PASSCRED.
    pub(crate) creds: Option<Credentials>,
    /// Descriptors passed with SCM_RIGHTS (received close-on-exec).
    pub(crate) fds: Vec<OwnedFd>,
}

/// Receives one datagram without blocking (`EAGAIN` when none is queued).
pub(crate) fn recv_msg(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<Received> {
    let mut control = ControlBuffer([0; 1280]);
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    // SAFETY: msghdr is plain old data; all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast();
    msg.msg_controllen = control.0.len() as _;
    let len = retry(|| {
        // SAFETY: `msg` points to `iov` (over `buf`) and `control`, both writable and alive
        // for the duration of the call.
        cvt_size(unsafe {
            libc::recvmsg(
                fd.as_raw_fd(),
                &mut msg,
                libc::MSG_DONTWAIT | libc::MSG_TRUNC | libc::MSG_CMSG_CLOEXEC,
            )
        })
    })?;
    let mut received = Received { len, creds: None, fds: Vec::new() };
    // SAFETY: the kernel filled `control` with `msg_controllen` bytes of well-formed control
    // messages; CMSG_FIRSTHDR/CMSG_NXTHDR walk them within those bounds, and each payload is
    // read unaligned with the length the header declares. Descriptors from SCM_RIGHTS are new
    // in this process and owned by nobody else.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            let data = libc::CMSG_DATA(cmsg);
            let data_len = (*cmsg).cmsg_len as usize - (data as usize - cmsg as usize);
            match ((*cmsg).cmsg_level, (*cmsg).cmsg_type) {
                (libc::SOL_SOCKET, libc::SCM_CREDENTIALS) if data_len >= size_of::<libc::ucred>() => {
                    let c: libc::ucred = ptr::read_unaligned(data.cast());
                    received.creds = Some(Credentials { pid: c.pid as u32, uid: c.uid, gid: c.gid });
                }
                (libc::SOL_SOCKET, libc::SCM_RIGHTS) => {
                    for i in 0..data_len / size_of::<libc::c_int>() {
                        let raw: libc::c_int = ptr::read_unaligned(data.cast::<libc::c_int>().add(i));
                        received.fds.push(OwnedFd::from_raw_fd(raw));
                    }
                }
                _ => {}
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok(received)
}

/// Descriptors this crate keeps open for the life of the process (the notification socket,
/// the service's wake-up pipe), with what each is for. Socket activation must never hand one
/// out: with `LISTEN_FDS=1` but nothing passed (a self-re-exec, a broken wrapper), fd 3 may
/// well be the crate's own socket.
static CRATE_FDS: [(AtomicI32, AtomicUsize); 4] = [
    (AtomicI32::new(-1), AtomicUsize::new(0)),
    (AtomicI32::new(-1), AtomicUsize::new(0)),
    (AtomicI32::new(-1), AtomicUsize::new(0)),
    (AtomicI32::new(-1), AtomicUsize::new(0)),
];
/// What a registered descriptor is for, by index into this table.
const CRATE_FD_ROLES: [&str; 3] = ["", "the notification socket", "the service's wake-up pipe"];

/// The role of a descriptor in [`CRATE_FDS`].
#[derive(Clone, Copy, Debug)]
pub(crate) enum FdRole {
    /// The socket a notifier sends on.
    NotifySocket = 1,
    /// An end of the `#[sd_service]` wake-up pipe.
    WakePipe = 2,
}

/// Records that the crate keeps `fd` open for the rest of the process.
pub(crate) fn register_crate_fd(fd: BorrowedFd<'_>, role: FdRole) {
    for (slot, what) in &CRATE_FDS {
        if slot.compare_exchange(-1, fd.as_raw_fd(), Ordering::SeqCst, Ordering::SeqCst).is_ok() {
            what.store(role as usize, Ordering::SeqCst);
            return;
        }
    }
}

/// What the crate uses `fd` for, if it is one of its own.
pub(crate) fn crate_fd_role(fd: RawFd) -> Option<&'static str> {
    CRATE_FDS
        .iter()
        .find(|(slot, _)| slot.load(Ordering::SeqCst) == fd)
        .map(|(_, what)| CRATE_FD_ROLES.get(what.load(Ordering::SeqCst)).copied().unwrap_or("internal use"))
}

/// Why the socket-activation descriptors could not be taken.
#[derive(Debug)]
pub(crate) enum ClaimError {
    /// Taken before.
    AlreadyTaken,
    /// The descriptor is one of the crate's own (see [`CRATE_FDS`]).
    CrateOwned { fd: RawFd, role: &'static str },
    /// The descriptor is not open.
    Bad(io::Error),
}

/// Set once the inherited socket-activation descriptors have been turned into `OwnedFd`s,
/// so that no descriptor ever gets two owners.
static LISTEN_FDS_CLAIMED: AtomicBool = AtomicBool::new(false);

/// The first descriptor passed by socket activation.
const LISTEN_FDS_START: RawFd = 3;

/// Takes ownership of descriptors 3..3+count that socket activation passed to this process,
/// marking each close-on-exec. Only the first call succeeds ([`ClaimError::AlreadyTaken`]
/// after). A descriptor the crate itself owns is refused, never handed out a second time.
pub(crate) fn claim_listen_fds(count: usize) -> Result<Vec<OwnedFd>, ClaimError> {
    if LISTEN_FDS_CLAIMED.swap(true, Ordering::SeqCst) {
        return Err(ClaimError::AlreadyTaken);
    }
    // Check (and mark close-on-exec) every descriptor before owning any: if one is not open,
    // no OwnedFd exists yet, so the error does not close the others behind the caller's back.
    for raw in (LISTEN_FDS_START..).take(count) {
        let refused = match crate_fd_role(raw) {
            Some(role) => Some(ClaimError::CrateOwned { fd: raw, role }),
            None => {
                // SAFETY: F_SETFD has no memory preconditions; on a closed descriptor it fails
                // (EBADF).
                let marked = unsafe { libc::fcntl(raw, libc::F_SETFD, libc::FD_CLOEXEC) };
                cvt(marked).err().map(ClaimError::Bad)
            }
        };
        if let Some(e) = refused {
            // Nothing was taken: a later call may try again.
            LISTEN_FDS_CLAIMED.store(false, Ordering::SeqCst);
            return Err(e);
        }
    }
    let fds = (LISTEN_FDS_START..)
        .take(count)
        .map(|raw| {
            // SAFETY: the manager passed `raw` to this process (LISTEN_PID matched, fcntl just
            // proved it open, and it is none of the crate's own descriptors), the claim flag
            // above guarantees this runs once per process, so no other OwnedFd for it exists
            // in this crate; documented: callers must not claim them by other means.
            unsafe { OwnedFd::from_raw_fd(raw) }
        })
        .collect();
    Ok(fds)
}

/// An `int` socket option (`getsockopt(2)`).
fn get_int_option(fd: BorrowedFd<'_>, level: libc::c_int, name: libc::c_int) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` and `len` are valid, writable and live for the call; `len` holds the
    // size of `value`, so the kernel writes at most that many bytes.
    cvt(unsafe { libc::getsockopt(fd.as_raw_fd(), level, name, (&raw mut value).cast(), &mut len) })?;
    Ok(value)
}

/// What a socket is (`SO_DOMAIN`, `SO_TYPE`, `SO_ACCEPTCONN`); `ENOTSOCK` for a descriptor
/// that is no socket.
pub(crate) fn socket_kind(fd: BorrowedFd<'_>) -> io::Result<crate::listeners::Kind> {
    use crate::listeners::{Family, Kind, SockType};
    let family = match get_int_option(fd, libc::SOL_SOCKET, libc::SO_DOMAIN)? {
        libc::AF_INET | libc::AF_INET6 => Family::Inet,
        libc::AF_UNIX => Family::Unix,
        _ => Family::Other,
    };
    let ty = match get_int_option(fd, libc::SOL_SOCKET, libc::SO_TYPE)? {
        libc::SOCK_STREAM => SockType::Stream,
        libc::SOCK_DGRAM => SockType::Datagram,
        _ => SockType::Other,
    };
    let listening = get_int_option(fd, libc::SOL_SOCKET, libc::SO_ACCEPTCONN)? != 0;
    Ok(Kind { family, ty, listening })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abstract_address_has_leading_nul_no_terminator_and_exact_length() {
        let a = UnixAddr::new(true, b"name").unwrap();
        assert_eq!(a.len(), 2 + 1 + 4);
        let path: Vec<u8> = a.addr.sun_path[..6].iter().map(|&c| c as u8).collect();
        assert_eq!(path, b"\0name\0");
    }

    #[test]
    fn path_address_is_nul_terminated() {
        let a = UnixAddr::new(false, b"/run/n").unwrap();
        assert_eq!(a.len(), 2 + 6 + 1);
        let path: Vec<u8> = a.addr.sun_path[..7].iter().map(|&c| c as u8).collect();
        assert_eq!(path, b"/run/n\0");
    }

    #[test]
    fn names_that_do_not_fit_sun_path_are_refused() {
        assert!(UnixAddr::new(false, &[b'a'; 107]).is_ok());
        assert!(UnixAddr::new(false, &[b'a'; 108]).is_err());
        assert!(UnixAddr::new(true, &[b'a'; 107]).is_ok());
        assert!(UnixAddr::new(true, &[b'a'; 108]).is_err());
    }
}
