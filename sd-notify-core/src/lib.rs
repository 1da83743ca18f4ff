//! Makes a Rust daemon a correct systemd `Type=notify` / `Type=notify-reload` service with
//! one attribute on its `main`: [`#[sd_service]`](sd_service) tells the manager when the
//! service is ready, reloading, stopping or failed, feeds its watchdog, and never lets a
//! manager that stops reading hold the service. Under it, the whole `sd_notify(3)` protocol
//! is here, typed and validated, for code that wants it by hand, with a [`Receiver`] that
//! plays the manager in your own tests.
//!
//! ```no_run
//! use sd_notify_core::{sd_service, ServiceHandle};
//!
//! #[sd_service(starting = "Loading", running = "Serving", stopping = "Draining", reload)]
//! #[tokio::main]
//! async fn main(service: ServiceHandle) -> std::io::Result<()> {
//!     let mut config = std::fs::read_to_string("/etc/echo.conf")?;
//!     #[ready] // READY=1 right after this statement succeeds
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:7878").await?;
//!     loop {
//!         tokio::select! {
//!             () = service.shutdown() => break, // STOPPING=1 is on its way already
//!             () = service.reload_requested() => match std::fs::read_to_string("/etc/echo.conf") {
//!                 Ok(new) => { config = new; service.reload_done(); }    // READY=1
//!                 Err(e) => { service.reload_failed(&e); }               // READY=1 + why
//!             },
//!             accepted = listener.accept() => drop(accepted?), // serve it ...
//!         }
//!     }
//!     println!("{} bytes of config at exit", config.len());
//!     Ok(()) // STOPPING=1, exit barrier, exit 0; an Err becomes STATUS=, ERRNO=, EXIT_STATUS=
//! }
//! ```
//!
//! The core API, without the attribute:
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
//! # Features
//! - `macros` (default): [`#[sd_service]`](sd_service), from `sd-notify-macros`, pinned to
//!   this crate's exact version. Without it this crate depends on `libc` alone.
//! - `log`, `tracing` (off): the crate's own warnings (a message it could not send, a
//!   watchdog interval it cannot serve) go to your logs as `log` records or `tracing` events
//!   at WARN level, target `sd_notify_core`, instead of lines on stderr:
//!
//!   ```toml
//!   sd-notify-core = { version = "0.1", features = ["tracing"] }
//!   ```
//!   With both, `tracing` gets them.
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
//! - **A cheap hot path.** The process keeps one connected, close-on-exec socket
//!   ([`Notifier::from_env`]); a notification is one `send(2)` and no heap allocation.
//! - **Bounded waits.** A full manager queue makes a send fail with [`Error::Timeout`] after
//!   [`DEFAULT_SEND_TIMEOUT`] instead of blocking the service forever.
//! - **All addresses.** Filesystem paths, Linux abstract `@names` and `vsock:` forms.
//!
//! # One way to do each thing
//! - **The process-wide notifier** is [`Notifier::from_env`]: `NOTIFY_SOCKET` read once, one
//!   socket for the life of the process, `Ok(None)` when unsupervised. Every call below that
//!   does not take a notifier goes through it. [`Notifier::new`] sends to an explicit address
//!   instead (tests, a relay), with a socket of its own and without touching the environment.
//! - **Sending** is a [`Notifier`] method: [`notify`](Notifier::notify) (states, encoded in
//!   place), [`send`](Notifier::send) (a prepared [`Message`]: encode once, send often) and
//!   [`send_with`](Notifier::send_with), whose [`SendOptions`] add descriptors, a PID to
//!   send on behalf of, or both; [`barrier`](Notifier::barrier) and
//!   [`barrier_on_behalf_of`](Notifier::barrier_on_behalf_of) wait for the manager.
//! - **Free functions** only where nearly every program makes the call and must not care
//!   whether systemd is there (a silent no-op without `NOTIFY_SOCKET`): [`notify`]
//!   (`READY=1`, `STOPPING=1`, `WATCHDOG=1`, `STATUS=`), [`barrier`] (before exiting: the
//!   manager ignores messages from a process that is gone) and [`status!`] (`format!`-style
//!   text written into the datagram without a heap allocation). Anything rarer (a prepared
//!   [`Message`], descriptors, another PID) is a [`Notifier`] method, reached through
//!   `Notifier::from_env()?`, whose `None` tells a program that has descriptors to hand
//!   over that no manager will take them.
//! - **`STATUS=`**: [`NotifyState::Status`] in a notify, with the other states of the same
//!   datagram; [`status!`] for formatted text; [`Message::push_status_fmt`] for formatted
//!   text in a message of several states; and, under `#[sd_service]`,
//!   [`ServiceHandle::set_status`], which queues behind the attribute's own messages
//!   instead of overtaking them.
//! - **The watchdog**: under `#[sd_service]` the attribute pings ([`ServiceHandle::heartbeat`]
//!   ties the pings to a loop); by hand, `notify(&[NotifyState::Watchdog])`, or
//!   [`Notifier::send`] of a prepared message on a hot path.
//! - **Listening sockets that survive restarts and crashes**: [`ServiceHandle::listener`]
//!   (or [`listener`] without the attribute) reuses the socket the manager passed under a
//!   name (its fd store or a `.socket` unit) or binds one and stores it; the unit needs
//!   `FileDescriptorStoreMax=`. [`listen_fds_with_names`] is the raw form (every passed
//!   descriptor, nothing stored).
//!
//! # From libsystemd to this crate
//! | libsystemd | here |
//! |---|---|
//! | `sd_notify(0, "READY=1")` | [`notify`]`(&[NotifyState::Ready])` |
//! | `sd_notifyf(0, "STATUS=%s", x)` | [`status!`]`("{x}")` |
//! | `sd_pid_notify(pid, 0, …)` | [`Notifier::send_with`]`(&msg, SendOptions::new().on_behalf_of(pid))` |
//! | `sd_pid_notifyf(pid, 0, …)` | the same, `msg` built with [`Message::push_status_fmt`] |
//! | `sd_pid_notify_with_fds(pid, 0, …, fds, n)` | [`Notifier::send_with`]`(&msg, SendOptions::new().fds(fds).on_behalf_of(pid))` |
//! | `sd_pid_notifyf_with_fds(pid, 0, fds, n, …)` | the same, `msg` built with [`Message::push_status_fmt`] |
//! | `sd_notify_barrier(0, timeout)` | [`barrier`]`(timeout)` |
//! | `sd_pid_notify_barrier(pid, 0, timeout)` | [`Notifier::barrier_on_behalf_of`]`(pid, timeout)` |
//! | the socket libsystemd opens per call | [`Notifier::from_env`], one per process |
//! | `unset_environment = 1` | [`remove_systemd_environment`] (`unsafe`), or `Command::env_remove` |
//! | `sd_watchdog_enabled(0, &usec)` | [`watchdog_enabled`] |
//! | `sd_listen_fds(0)` | [`listen_fds`] |
//! | `sd_listen_fds_with_names(0, &names)` | [`listen_fds_with_names`] |
//! | `sd_booted()` | [`booted`] |
//! | the manager's side | [`Receiver`] (tests) |
//!
//! `pid` 0 means this process, as in libsystemd. `unset_environment` needs no flag on each
//! call: the process-wide notifier keeps the address it read first, whatever the environment
//! says later.
//!
//! # Which systemd does what
//! The end-to-end suite (`tests/e2e`, run by CI) starts real managers of the releases our
//! users run — 247 (Debian 11), 252 (Debian 12, RHEL 9), 254, 257 (Debian 13) and the newest
//! (262) — and checks each line below against what the manager itself reports (`systemctl
//! show`, its journal); the case names and the details are in `tests/e2e/README.md`.
//! "ignored" means the manager takes the message and does nothing with that line.
//!
//! | protocol line | 247 | 252 | 254 | 257 | 262 |
//! |---|---|---|---|---|---|
//! | `READY=1`, `STATUS=`, `STOPPING=1`, `ERRNO=` | yes | yes | yes | yes | yes |
//! | `WATCHDOG=1`, `WATCHDOG=trigger`, `WATCHDOG_USEC=` | yes | yes | yes | yes | yes |
//! | `EXTEND_TIMEOUT_USEC=` | yes | yes | yes | yes | yes |
//! | `MAINPID=` | yes | yes | yes | yes | yes |
//! | `FDSTORE=1`, `FDNAME=`, `FDSTOREREMOVE=1`, `FDPOLL=0` | yes | yes | yes | yes | yes |
//! | `FileDescriptorStorePreserve=` (unit setting) | unknown | unknown | yes | yes | yes |
//! | `NOTIFYACCESS=` | ignored | ignored | yes | yes | yes |
//! | `Type=notify-reload` with `RELOADING=1` + `MONOTONIC_USEC=` | unknown type | unknown type | yes | yes | yes |
//! | notify-reload: SIGHUP handler required at `READY=1` | — | — | no | no | yes (start refused without) |
//! | `RELOADING=1` under `Type=notify` + `ExecReload=kill -HUP` | yes | yes | yes | yes | yes |
//! | `BARRIER=1` ([`barrier`]) | yes | yes | yes, logged | yes, logged | yes, logged |
//! | `MAINPIDFD=1` | ignored | ignored | ignored | yes | yes |
//! | `BUSERROR=`, `VARLINKERROR=` as unit properties | no | no | no | yes | yes |
//! | `RESTART_RESET=1` | ignored | ignored | ignored | ignored | yes |
//! | `EXIT_STATUS=` | informational (logged; the unit's result is the exit code) | same | same | same | same |
//!
//! Under `#[sd_service(reload)]` the SIGHUP handler is installed before `READY=1`, so 262's
//! check passes; on 247 and 252 use `Type=notify` with `ExecReload=kill -HUP $MAINPID` (the
//! reload then works the same, but `systemctl reload` may return before it finished). Each
//! [`NotifyState`] variant that needs a newer manager says since which release.
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
mod diag;
mod env;
mod error;
mod listeners;
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
    EnvError, ListenFd, SYSTEMD_VARIABLES, booted, listen_fds, listen_fds_with_names,
    remove_systemd_environment, watchdog_enabled,
};
pub use error::{AddressError, Error, Rule};
pub use listeners::{Listener, ListenerError, listener, release_unclaimed_listeners};
pub use message::{MAX_MESSAGE_LEN, Message, sanitize_status};
pub(crate) use notifier::default_notifier;
pub use notifier::{DEFAULT_SEND_TIMEOUT, MAX_FDS, Notifier, SendOptions, barrier, notify};
#[cfg(all(target_os = "linux", not(sd_notify_other_unix)))]
pub use receiver::{DropReason, Notification, Receiver};
pub use service::{
    EXIT_BARRIER_TIMEOUT, MIN_WATCHDOG_PING_INTERVAL, ReloadRequested, ServiceHandle, Shutdown,
};
pub use state::{MAX_FDNAME_LEN, NotifyAccess, NotifyState};

/// Makes a daemon's `main` a correct systemd notify service (the attribute's own
/// documentation follows the examples).
///
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
///         service.heartbeat(); // a job that hangs stops the watchdog pings
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

/// The `#[ready]` marker of `#[sd_service]`, outside an annotated fn: a clear error.
///
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
    pub use crate::status::send_status_fmt;
}
