//! The system-call layer: the only module with `unsafe` code.
//!
//! Linux has the real implementation; other Unix systems get one whose socket operations
//! fail with `Unsupported` (they have no systemd), so the crate still compiles there.
//! `--cfg sd_notify_other_unix` selects that implementation on Linux too, which is how CI
//! compiles it.

use std::os::fd::BorrowedFd;

#[cfg(all(target_os = "linux", not(sd_notify_other_unix)))]
mod linux;
#[cfg(all(target_os = "linux", not(sd_notify_other_unix)))]
pub(crate) use linux::*;
#[cfg(all(target_os = "linux", not(sd_notify_other_unix)))]
pub(crate) mod signal;

#[cfg(not(all(target_os = "linux", not(sd_notify_other_unix))))]
mod other;
#[cfg(not(all(target_os = "linux", not(sd_notify_other_unix))))]
pub(crate) use other::*;

/// What the `#[sd_service]` signal handlers need (`signal::install`), all prepared before they are installed.
#[derive(Debug)]
pub(crate) struct Setup {
    /// The notification socket (connected, or connected later by a send).
    pub(crate) socket: Option<BorrowedFd<'static>>,
    /// Whether `NOTIFY_SOCKET` names a manager.
    pub(crate) supervised: bool,
    /// The pre-encoded `STOPPING=1` datagram.
    pub(crate) stopping: &'static [u8],
    /// Handle SIGHUP as a reload request.
    pub(crate) reload: bool,
    /// This process's PID (the caller has it already: one `getpid` fewer before READY).
    pub(crate) pid: u32,
}
