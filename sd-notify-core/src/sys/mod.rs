//! The system-call layer: the only module with `unsafe` code.
//!
//! Linux has the real implementation; other Unix systems get one whose socket operations
//! fail with `Unsupported` (they have no systemd), so the crate still compiles there.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub(crate) use linux::*;
#[cfg(target_os = "linux")]
pub(crate) mod signal;

#[cfg(not(target_os = "linux"))]
mod other;
#[cfg(not(target_os = "linux"))]
pub(crate) use other::*;
