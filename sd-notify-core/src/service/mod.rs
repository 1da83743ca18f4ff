//! The run time behind `#[sd_service]`: signals, readiness, watchdog, reload, exit report.
//!
//! The state is process-global ([`state`]; why, and what a handle does after its service
//! ended, is on [`ServiceHandle`]); a handle carries the id of its run. How the pieces fit,
//! one file each:
//! - **Signals** (`sys::signal`). SIGTERM/SIGINT (and SIGHUP with `reload`) get handlers that
//!   send the pre-encoded `STOPPING=1` (or `RELOADING=1` + `MONOTONIC_USEC=`) themselves, at
//!   once and without waiting, then wake the service thread. What they cannot send (no
//!   socket yet, a full queue) the service thread sends.
//! - **The outbox** ([`outbox`]). The attribute's own messages never make the caller wait:
//!   each goes out at once if the manager's queue has room, else it is queued, in order,
//!   for the service thread.
//! - **The service thread** ([`thread`]) sleeps on the signal pipe, the watchdog timer (only
//!   when the manager asked for one) and, while the outbox holds something, the socket. It
//!   wakes the futures of [`ServiceHandle::shutdown`] and [`ServiceHandle::reload_requested`],
//!   resends, and pings or marks a ping due.
//! - **The waiting futures** ([`waiters`]): one slot per waiting future, freed when it
//!   completes or is dropped; a poll costs the same however many wait.
//! - **The watchdog** is tied to the progress of `main` where the attribute can see it: an
//!   async body pings when its future is polled ([`supervise`]); a sync body once it calls
//!   [`ServiceHandle::heartbeat`]. Until then the service thread pings by itself.
//! - **The start and the end** ([`run`]): set-up before the runtime's threads exist, and
//!   the exit report, all of it bounded by [`EXIT_BARRIER_TIMEOUT`].

mod futures;
mod handle;
mod outbox;
mod reload;
mod report;
mod run;
mod state;
mod supervise;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
mod thread;
mod waiters;

use std::time::Duration;

pub use futures::{ReloadRequested, Shutdown};
pub use handle::ServiceHandle;
pub use report::{
    Failure, Probe, ViaDebug, ViaDisplay, ViaDynError, ViaDynErrorSend, ViaDynErrorSendSync, ViaError,
    ViaNoError, ViaResult, Wrap,
};
pub(crate) use run::AT_READY;
pub use run::{ready, run_async, run_sync};
pub use supervise::{Supervise, Supervised, supervise};

/// How long `#[sd_service]` may take, at the end, to hand its last messages to the manager
/// and have them confirmed (the exit barrier): every send at exit and the wait share this
/// one deadline, so a manager that stopped reading cannot hold the exit longer.
///
/// ```
/// assert_eq!(sd_notify_core::EXIT_BARRIER_TIMEOUT.as_secs(), 2);
/// ```
pub const EXIT_BARRIER_TIMEOUT: Duration = Duration::from_secs(2);

/// The shortest time between two watchdog pings of `#[sd_service]`. Pings go out at half
/// of `WATCHDOG_USEC`, but never more often than this: a `WatchdogSec=` under twice this
/// value cannot be served without spinning a core, and is not (a line on stderr says so).
///
/// ```
/// assert_eq!(sd_notify_core::MIN_WATCHDOG_PING_INTERVAL.as_millis(), 10);
/// ```
pub const MIN_WATCHDOG_PING_INTERVAL: Duration = Duration::from_millis(10);

/// What `#[sd_service]` was told (its options), as a `static` in the generated code.
#[doc(hidden)]
#[derive(Debug)]
pub struct Config {
    /// The annotated fn's name, for messages.
    pub name: &'static str,
    /// `STATUS=` sent when `main` starts.
    pub starting: Option<&'static str>,
    /// `STATUS=` sent with `READY=1`.
    pub running: Option<&'static str>,
    /// `STATUS=` sent with `STOPPING=1`.
    pub stopping: Option<&'static str>,
    /// Handle SIGHUP as a reload request.
    pub reload: bool,
    /// `main` takes a [`ServiceHandle`] and so handles shutdown itself.
    pub takes_handle: bool,
    /// The body has a `#[ready]` marker (otherwise READY is sent at start).
    pub ready_marker: bool,
}

/// The handle the generated code passes to the body (its run has begun).
#[doc(hidden)]
pub fn handle() -> ServiceHandle {
    ServiceHandle::of_live_run()
}
