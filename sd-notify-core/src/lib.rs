//! The sending side of systemd's service notification protocol (`sd_notify`), complete,
//! typed and validated, plus a receiver that plays the manager's part in tests.
//!
//! ```
//! use sd_notify_core::{notify, NotifyState};
//!
//! // ... initialise ...
//! notify(&[NotifyState::Ready, NotifyState::Status("accepting connections")])?;
//! # Ok::<(), sd_notify_core::Error>(())
//! ```
//!
//! Without `NOTIFY_SOCKET` (not started by systemd, or not `Type=notify`) every call is a
//! successful no-op, so one binary serves both worlds.
//!
//! # What it guarantees
//! - **Nothing systemd would misread reaches the wire.** Values are checked before encoding:
//!   no `\n`, `\r` or NUL (an injected `\nREADY=1` is impossible through any API), no
//!   backslash (systemd 252 treats it as an escape and drops a datagram ending in one),
//!   typed numbers in their ranges, `FDNAME=` rules, no duplicate keys, at most 4096 bytes.
//!   A broken rule is an [`Error`] naming it; nothing is sent.
//! - **Several states, one datagram.** [`notify`] and [`Message`] join assignments with
//!   `\n`, nothing else added, so `RELOADING=1` travels with its `MONOTONIC_USEC=`
//!   ([`NotifyState::reloading_now`]).
//! - **A cheap hot path.** The process keeps one connected, close-on-exec socket; a
//!   notification is one `send(2)` and no heap allocation.
//! - **Bounded waits.** A full manager queue makes a send fail with [`Error::Timeout`] after
//!   [`DEFAULT_SEND_TIMEOUT`] instead of blocking the service forever.
//! - **All addresses.** Filesystem paths, Linux abstract `@names` and `vsock:` forms.
//!
//! # From libsystemd to this crate
//! | libsystemd | here |
//! |---|---|
//! | `sd_notify(0, "READY=1")` | [`notify`]`(&[NotifyState::Ready])` |
//! | `sd_notifyf(0, "STATUS=%s", x)` | [`status!`]`("{x}")` / [`Message::push_status_fmt`] |
//! | `sd_pid_notify(pid, 0, …)` | [`send_as`] |
//! | `sd_pid_notify_with_fds(0, 0, …, fds, n)` | [`send_with_fds`] |
//! | `sd_notify_barrier(0, timeout)` | [`barrier`] |
//! | `sd_pid_notify_barrier` | [`Notifier::barrier`] |
//! | `unset_environment = 1` | [`remove_systemd_environment`] (`unsafe`), or `Command::env_remove` |
//! | `sd_watchdog_enabled(0, &usec)` | [`watchdog_enabled`] |
//! | `sd_listen_fds(0)` | [`listen_fds`] |
//! | `sd_listen_fds_with_names(0, &names)` | [`listen_fds_with_names`] |
//! | `sd_booted()` | [`booted`] |
//! | the manager's side | [`Receiver`] (tests) |
//!
//! The process-wide functions read `NOTIFY_SOCKET` once, at their first call, and keep the
//! socket for the life of the process. A [`Notifier`] sends to an explicit address instead,
//! without touching the environment.
//!
//! # Platforms
//! Linux has everything. Other Unix systems compile: the functions are no-ops when
//! `NOTIFY_SOCKET` is unset (always, there) and return [`Error::Unsupported`] for an explicit
//! address; the [`Receiver`] is Linux-only.

#![cfg(unix)]
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod address;
mod env;
mod error;
mod message;
mod notifier;
#[cfg(all(target_os = "linux", not(sd_notify_other_unix)))]
mod receiver;
mod service;
mod state;
mod status;
mod sys;

pub use address::{NOTIFY_SOCKET, NotifyAddress, VsockKind};
pub use env::{
    EnvError, ListenFd, SYSTEMD_VARIABLES, booted, listen_fds, listen_fds_from, listen_fds_with_names,
    remove_systemd_environment, watchdog_enabled, watchdog_enabled_from,
};
pub use error::{AddressError, Error, Rule};
pub use message::{MAX_MESSAGE_LEN, Message, sanitize_status};
pub use notifier::{
    DEFAULT_SEND_TIMEOUT, MAX_FDS, Notifier, barrier, default_notifier, notify, send, send_as, send_with_fds,
};
#[cfg(all(target_os = "linux", not(sd_notify_other_unix)))]
pub use receiver::{DropReason, Notification, Receiver, split_lines_as_252};
pub use service::{
    EXIT_BARRIER_TIMEOUT, MIN_WATCHDOG_PING_INTERVAL, ReloadRequested, ServiceHandle, Shutdown,
};
pub use state::{MAX_FDNAME_LEN, NotifyAccess, NotifyState};
pub use status::send_status_fmt;

/// # Examples, compiled against this crate
/// A sync worker: ready once its queue is open, stopping when `is_stopping()` says so, its
/// watchdog pings tied to the loop by `heartbeat()`.
/// ```no_run
/// use sd_notify_core::{sd_service, status, ServiceHandle};
///
/// #[sd_service(starting = "Opening queue", running = "Working")]
/// fn main(service: ServiceHandle) -> std::io::Result<()> {
///     #[ready]
///     let queue = std::fs::read_dir(std::env::temp_dir())?;
///     let mut done = 0;
///     for _job in queue {
///         if service.is_stopping() {
///             break;
///         }
///         done += 1;
///         status!("{done} jobs done").map_err(std::io::Error::from)?;
///     }
///     Ok(())
/// }
/// ```
/// A fn that is not `main`, without a handle: SIGTERM ends the process after `STOPPING=1`.
/// ```no_run
/// #[sd_notify_core::sd_service(stopping = "Bye")]
/// fn run() {
///     loop {
///         std::thread::sleep(std::time::Duration::from_secs(1));
///     }
/// }
///
/// fn main() -> std::process::ExitCode {
///     run()
/// }
/// ```
#[cfg(feature = "macros")]
pub use sd_notify_macros::sd_service;

/// The `#[ready]` marker of `#[sd_service]`, for a clear error where it does not belong.
/// Inside an annotated fn the attribute consumes the marker itself (there, no import is
/// needed); anywhere else, this macro reports where it belongs.
#[cfg(feature = "macros")]
pub use sd_notify_macros::ready;

/// What `#[sd_service]`'s generated code calls. Not a public API: it may change in any
/// release; the attribute and this crate are released together (pinned with `=x.y.z`).
/// Its name carries the version of the contract, so that a mismatched pair of the two
/// crates (a patched or vendored copy of one) fails to compile with an error that names
/// this module, instead of calling functions whose meaning changed.
#[doc(hidden)]
pub mod __private_0_1 {
    pub use crate::__sd_failure_of as failure_of;
    pub use crate::service::{
        Config, Failure, Probe, Supervise, Supervised, ViaDebug, ViaDisplay, ViaDynError, ViaDynErrorSend,
        ViaDynErrorSendSync, ViaError, ViaNoError, ViaResult, Wrap, handle, ready, run_async, run_sync,
        supervise,
    };
}
