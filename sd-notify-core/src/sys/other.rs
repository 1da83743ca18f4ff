//! Non-Linux Unix: no notification socket family, so every socket operation fails with
//! `Unsupported`. `notify()` without `NOTIFY_SOCKET` never gets here and stays a no-op.

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::time::Duration;

fn unsupported<T>() -> io::Result<T> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

pub(crate) fn monotonic_usec() -> u64 {
    // No CLOCK_MONOTONIC contract with a service manager here; report the process clock.
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    crate::state::duration_usec(START.get_or_init(Instant::now).elapsed())
}

#[derive(Clone, Copy)]
pub(crate) struct UnixAddr;

impl UnixAddr {
    pub(crate) fn new(_is_abstract: bool, _name: &[u8]) -> io::Result<Self> {
        unsupported()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Credentials;

impl Credentials {
    pub(crate) fn for_pid(_pid: u32) -> Self {
        Credentials
    }
}

pub const MAX_FDS: usize = 253;
pub(crate) const VSOCK_DGRAM: i32 = 0;
pub(crate) const VSOCK_SEQPACKET: i32 = 1;
pub(crate) const VSOCK_STREAM: i32 = 2;
pub(crate) const POLLHUP: i16 = 0x10;

pub(crate) fn unix_dgram_socket() -> io::Result<OwnedFd> {
    unsupported()
}
pub(crate) fn connect_unix(_: BorrowedFd<'_>, _: &UnixAddr) -> io::Result<()> {
    unsupported()
}
pub(crate) fn set_send_timeout(_: BorrowedFd<'_>, _: Duration) -> io::Result<()> {
    unsupported()
}
pub(crate) fn grow_send_buffer(_: BorrowedFd<'_>) {}
pub(crate) fn send(_: BorrowedFd<'_>, _: &[u8]) -> io::Result<()> {
    unsupported()
}
pub(crate) fn send_msg(
    _: BorrowedFd<'_>,
    _: Option<&UnixAddr>,
    _: &[u8],
    _: &[BorrowedFd<'_>],
    _: Option<Credentials>,
    _: Wait,
) -> io::Result<()> {
    unsupported()
}
pub(crate) fn vsock_connect(_: i32, _: u32, _: u32, _: Duration) -> io::Result<OwnedFd> {
    unsupported()
}
pub(crate) fn shutdown_write(_: BorrowedFd<'_>) -> io::Result<()> {
    unsupported()
}
pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    unsupported()
}
pub(crate) fn poll(_: BorrowedFd<'_>, _: i16, _: Option<Duration>) -> io::Result<i16> {
    unsupported()
}
pub(crate) fn claim_listen_fds(_count: usize) -> Result<Vec<OwnedFd>, ClaimError> {
    unsupported().map_err(ClaimError::Bad)
}
pub(crate) const POLLIN: i16 = 0x1;
pub(crate) fn socket_kind(_: BorrowedFd<'_>) -> io::Result<crate::listeners::Kind> {
    unsupported()
}
pub(crate) fn read(_: BorrowedFd<'_>, _: &mut [u8]) -> io::Result<usize> {
    unsupported()
}

/// No signal handling without the Linux implementation: the service runs without it.
pub(crate) mod signal {
    use std::io;
    use std::os::fd::BorrowedFd;

    use super::super::Setup;

    pub(crate) fn install(setup: Setup) -> io::Result<BorrowedFd<'static>> {
        let _ = (setup.socket, setup.supervised, setup.stopping, setup.reload, setup.pid);
        super::unsupported()
    }
    pub(crate) fn uninstall() {}
    pub(crate) fn stop_signals() -> u32 {
        0
    }
    pub(crate) fn reload_signals() -> u32 {
        0
    }
    pub(crate) fn take_failed_reloading_sends() -> u32 {
        0
    }
    pub(crate) fn mark_stopping_sent() -> bool {
        false
    }
    pub(crate) fn wake() {}
}

/// Whether a send may wait (see the Linux implementation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wait {
    Block,
    Never,
}
pub(crate) fn send_flags(_: BorrowedFd<'_>, _: &[u8], _: Wait) -> io::Result<()> {
    unsupported()
}
pub(crate) fn send_once(_: BorrowedFd<'_>, _: &[u8]) -> io::Result<()> {
    unsupported()
}
pub(crate) fn getpid() -> u32 {
    std::process::id()
}
pub(crate) const POLLOUT: i16 = 0x4;
pub(crate) fn poll2(
    _: (BorrowedFd<'_>, i16),
    _: Option<(BorrowedFd<'_>, i16)>,
    _: Option<Duration>,
) -> io::Result<(i16, i16)> {
    unsupported()
}
#[derive(Clone, Copy, Debug)]
pub(crate) enum FdRole {
    NotifySocket,
}
pub(crate) fn register_crate_fd(_: BorrowedFd<'_>, _: FdRole) {}
#[derive(Debug)]
#[allow(dead_code)] // matched by env.rs; only the Linux implementation makes all of them
pub(crate) enum ClaimError {
    AlreadyTaken,
    CrateOwned { fd: i32, role: &'static str },
    Bad(io::Error),
}
