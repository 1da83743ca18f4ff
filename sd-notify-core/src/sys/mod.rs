//! The system-call layer: the only module with `unsafe` code.
//!
//! Linux has the real implementation; other Unix systems get one whose socket operations
//! fail with `Unsupported` (they have no systemd), so the crate still compiles there.
//! `--cfg sd_notify_other_unix` selects that implementation on Linux too, which is how CI
//! compiles it.

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
