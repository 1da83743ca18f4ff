//! [`ServiceHandle`], the handle `#[sd_service]` gives `main`.

use std::num::NonZeroU64;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::state::{self, PINGS_TIED, Runtime, SHUTDOWN_WAITERS, UNHEALTHY, WATCHDOG_DUE};
use super::{ReloadRequested, Shutdown, outbox, reload};
use crate::Error;
use crate::message::{MAX_MESSAGE_LEN, Message};
use crate::state::NotifyState;
use crate::sys::signal;

/// The handle of the `#[sd_service]` fn that runs: shutdown, reload, status, watchdog and
/// health. The annotated fn gets it as its one parameter; other code gets it from
/// [`ServiceHandle::current`], or as a copy (it is `Copy`, `Send` and `Sync`).
///
/// Nothing on it ever waits for the service manager: a message the manager's queue has no
/// room for is queued and sent, in order, by the service's own thread.
///
/// # One service per process
/// Signals, the watchdog and the manager's socket belong to the whole process, so one
/// annotated fn runs at a time in a process and the state behind the handle is
/// process-wide: every copy, on any thread, sees the same stop, reload and health. An
/// annotated fn called while another runs does not run (it returns `ExitCode::FAILURE` and
/// says why on stderr); annotated fns called one after the other each get a full life
/// cycle, and handles of their own.
///
/// # After its service ended
/// A handle belongs to the run of the annotated fn that gave it. Once that fn has returned,
/// the handle answers as for a service that has stopped, and does nothing: `is_stopping()`
/// is `true`, `shutdown()` completes (those waiting then are woken), `reload_requested()`
/// never completes, `reload_pending()`, `reload_done()`, `reload_failed()` and `is_healthy()`
/// are `false`, `watchdog()` is `None`, and `stop()`, `set_status()` (after checking its
/// text), `heartbeat()`, `mark_healthy()`, `mark_unhealthy()` and `trigger_watchdog()` send
/// and change nothing. It stays so while a later annotated fn runs: an old handle never
/// acts on another run. So a thread or task that outlives the fn and waits for the stop
/// ends instead of hanging, and nothing reaches the manager after the service's exit report.
///
/// # Examples
/// A sync worker loop: `is_stopping` is the non-blocking check, and `heartbeat` ties the
/// watchdog pings to the loop's progress, so a stuck loop stops the pings.
/// ```
/// fn work_loop(service: sd_notify_core::ServiceHandle) {
///     while !service.is_stopping() {
///         service.heartbeat();
///         // take a job, do it ...
///         # break;
///     }
/// }
/// ```
/// An async server: select on the shutdown future.
/// ```
/// async fn serve(service: sd_notify_core::ServiceHandle) {
///     let shutdown = service.shutdown();
///     // tokio::select! { _ = shutdown => {}, _ = accept_loop() => {} }
///     # drop(shutdown);
/// }
/// ```
/// A handle exists only while its fn runs, and one kept longer answers "stopped":
/// ```
/// use std::future::Future;
/// use std::sync::OnceLock;
/// use std::task::{Context, Poll, Waker};
/// use sd_notify_core::{ServiceHandle, sd_service};
///
/// static KEPT: OnceLock<ServiceHandle> = OnceLock::new();
///
/// #[sd_service]
/// fn serve(service: ServiceHandle) {
///     assert!(ServiceHandle::current().is_some());
///     assert!(!service.is_stopping());
///     KEPT.set(service).unwrap();
/// }
///
/// fn main() {
///     assert!(ServiceHandle::current().is_none()); // no service runs yet
///     serve();
///     assert!(ServiceHandle::current().is_none()); // nor any more
///     let kept = KEPT.get().unwrap();
///     assert!(kept.is_stopping());
///     let mut cx = Context::from_waker(Waker::noop());
///     assert_eq!(std::pin::pin!(kept.shutdown()).poll(&mut cx), Poll::Ready(()));
///     assert_eq!(kept.watchdog(), None);
///     kept.set_status("too late").unwrap(); // sends nothing
/// }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ServiceHandle {
    /// The run it belongs to.
    run: NonZeroU64,
}

impl ServiceHandle {
    /// `true` once SIGTERM or SIGINT arrived (or [`ServiceHandle::stop`] was called), and
    /// after the service ended: the non-blocking check for sync loops. It only answers; the
    /// watchdog is fed by [`ServiceHandle::heartbeat`].
    ///
    /// ```
    /// # use sd_notify_core::{ServiceHandle, sd_service};
    /// # #[sd_service] fn run(service: ServiceHandle) {
    /// assert!(!service.is_stopping()); // no SIGTERM yet
    /// service.stop(); // as SIGTERM would
    /// assert!(service.is_stopping());
    /// # }
    /// # fn main() -> std::process::ExitCode { run() }
    /// ```
    pub fn is_stopping(&self) -> bool {
        !self.is_live() || state::stop_requested()
    }

    /// A future that completes when the service is asked to stop (SIGTERM, SIGINT or
    /// [`ServiceHandle::stop`]), or at once when it has ended. `STOPPING=1` is on its way to
    /// the manager by then (it never waits for it). Runtime-agnostic: use it in
    /// `tokio::select!` or any executor. A dropped future leaves nothing behind, however
    /// many were made and dropped (one per connection is fine).
    ///
    /// ```
    /// # async fn example(service: sd_notify_core::ServiceHandle) {
    /// service.shutdown().await;
    /// // close listeners, drain connections ...
    /// # }
    /// ```
    pub fn shutdown(&self) -> Shutdown {
        Shutdown::new(self.run)
    }

    /// Asks the service to stop, as SIGTERM would: sends `STOPPING=1` and completes every
    /// [`ServiceHandle::shutdown`] future. Does nothing once the service has ended.
    ///
    /// ```
    /// # use sd_notify_core::{ServiceHandle, sd_service};
    /// # #[sd_service] fn run(service: ServiceHandle) {
    /// // e.g. on an admin command, from any thread:
    /// std::thread::spawn(move || service.stop()).join().unwrap();
    /// assert!(service.is_stopping());
    /// # }
    /// # fn main() -> std::process::ExitCode { run() }
    /// ```
    pub fn stop(&self) {
        if !self.is_live() || state::STOP_REQUESTED.swap(true, Ordering::SeqCst) {
            return;
        }
        if state::THREAD_RUNNING.load(Ordering::SeqCst) {
            signal::wake(); // the service thread does the rest, as for a signal
        } else {
            SHUTDOWN_WAITERS.wake_all();
            state::wake_main_task();
            super::run::send_stopping_once();
        }
    }

    /// A future that completes when a reload was requested (SIGHUP, with the attribute's
    /// `reload` option) and not yet answered. `RELOADING=1` with `MONOTONIC_USEC=` has been
    /// sent by then; reload, then call [`ServiceHandle::reload_done`] or
    /// [`ServiceHandle::reload_failed`]. Once the service has ended it never completes.
    ///
    /// Its completion begins a *round*: the answer covers the requests seen until then. A
    /// SIGHUP that comes while you reload is not swallowed by that answer: the next call
    /// completes again at once, and that round is announced to the manager anew.
    ///
    /// ```
    /// # async fn example(service: sd_notify_core::ServiceHandle) {
    /// # fn reread_config() -> Result<(), std::io::Error> { Ok(()) }
    /// loop {
    ///     service.reload_requested().await;
    ///     match reread_config() {
    ///         Ok(()) => service.reload_done(),
    ///         Err(e) => service.reload_failed(&e),
    ///     };
    /// }
    /// # }
    /// ```
    pub fn reload_requested(&self) -> ReloadRequested {
        ReloadRequested::new(self.run)
    }

    /// `true` when a reload was requested and not yet answered (the sync form of
    /// [`ServiceHandle::reload_requested`]; `true` begins a round in the same way).
    ///
    /// ```
    /// # use sd_notify_core::{ServiceHandle, sd_service};
    /// # #[sd_service(reload)] fn run(service: ServiceHandle) {
    /// # fn reread_config() {}
    /// if service.reload_pending() {
    ///     reread_config();
    ///     service.reload_done();
    /// }
    /// assert!(!service.reload_pending()); // no SIGHUP came
    /// # }
    /// # fn main() -> std::process::ExitCode { run() }
    /// ```
    pub fn reload_pending(&self) -> bool {
        self.is_live() && reload::begin_round()
    }

    /// Ends a reload that worked: `READY=1`, with the running status if the attribute has
    /// one. Returns `true` when a reload was answered, `false` when none was pending, in
    /// which case nothing is sent (a stray call can never announce readiness early).
    /// Once the service is stopping (a stop came during the reload), the round is closed
    /// and `true` returned, but nothing is sent either: a `READY=1` then would show the
    /// stopping unit as running again.
    ///
    /// ```
    /// # use sd_notify_core::{ServiceHandle, sd_service};
    /// # #[sd_service(reload)] fn run(service: ServiceHandle) {
    /// let answered = service.reload_done();
    /// assert!(!answered); // no SIGHUP came: nothing sent
    /// # }
    /// # fn main() -> std::process::ExitCode { run() }
    /// ```
    pub fn reload_done(&self) -> bool {
        let Some(rt) = self.runtime() else { return false };
        reload::answer(rt.config.running)
    }

    /// Ends a reload that failed: `READY=1` with `STATUS=Reload failed: <error>` (sanitised,
    /// first line). The service goes on with its old configuration, and the manager's reload
    /// job completes instead of hanging until its timeout. Returns as
    /// [`ServiceHandle::reload_done`].
    ///
    /// ```
    /// # use sd_notify_core::{ServiceHandle, sd_service};
    /// # #[sd_service(reload)] fn run(service: ServiceHandle) {
    /// let answered = service.reload_failed("config.toml line 3: unknown key");
    /// assert!(!answered); // no SIGHUP came: nothing sent
    /// # }
    /// # fn main() -> std::process::ExitCode { run() }
    /// ```
    pub fn reload_failed(&self, error: impl std::fmt::Display) -> bool {
        if !self.is_live() {
            return false;
        }
        let text = format!("Reload failed: {error}");
        let text = super::run::status_text(&text);
        reload::answer(Some(&text))
    }

    /// Sets `STATUS=` (see also [`status!`](crate::status!) for formatting without
    /// allocation). Sends nothing once the service has ended.
    ///
    /// # Errors
    /// [`Error::InvalidValue`]: a status with `\n`, `\r`, NUL or `\` is refused, and nothing
    /// is sent. A manager that does not read is no error: the status waits in the outbox.
    ///
    /// ```
    /// # use sd_notify_core::{ServiceHandle, sd_service};
    /// # #[sd_service] fn run(service: ServiceHandle) -> Result<(), sd_notify_core::Error> {
    /// service.set_status("warming caches")?;
    /// assert!(service.set_status("two\nlines").is_err()); // refused, nothing sent
    /// # Ok(())
    /// # }
    /// # fn main() -> std::process::ExitCode { run() }
    /// ```
    pub fn set_status(&self, status: &str) -> Result<(), Error> {
        let msg = Message::from_states(&[NotifyState::Status(status)])?;
        if self.is_live() {
            outbox::send(msg, "STATUS");
        }
        Ok(())
    }

    /// The watchdog interval the manager asked for (`WatchdogSec=`), if any; pings go out at
    /// half of it. `None` once the service has ended.
    ///
    /// ```
    /// # use sd_notify_core::{ServiceHandle, sd_service};
    /// # #[sd_service] fn run(service: ServiceHandle) {
    /// if let Some(interval) = service.watchdog() {
    ///     println!("watchdog every {interval:?}");
    /// }
    /// # }
    /// # fn main() -> std::process::ExitCode { run() }
    /// ```
    pub fn watchdog(&self) -> Option<Duration> {
        self.runtime().and_then(|r| r.watchdog)
    }

    /// Says that the calling loop made progress, and ties the watchdog pings to it: from
    /// the first call on, a ping goes out only when one is due (every half interval) *and*
    /// this was called since, so a loop that gets stuck stops the pings and the manager
    /// restarts the service. Cheap enough to call on every iteration. Before the first call
    /// of a sync `main`, the service thread pings by itself.
    ///
    /// An async `main` (runtime attribute below `#[sd_service]`) needs none of this: it
    /// pings whenever its future is polled.
    ///
    /// ```
    /// # use sd_notify_core::{ServiceHandle, sd_service};
    /// # #[sd_service] fn run(service: ServiceHandle) {
    /// # let mut jobs = 0..3;
    /// while let Some(_job) = jobs.next() {
    ///     service.heartbeat();
    ///     // do the job ...
    /// }
    /// # }
    /// # fn main() -> std::process::ExitCode { run() }
    /// ```
    pub fn heartbeat(&self) {
        if self.is_live() {
            PINGS_TIED.store(true, Ordering::SeqCst);
            ping_if_due();
        }
    }

    /// Marks the service unhealthy: no watchdog ping goes out until
    /// [`ServiceHandle::mark_healthy`], so the manager's watchdog fires after `WatchdogSec=`
    /// (restarting the service under `Restart=on-watchdog`/`on-failure`) unless health comes
    /// back first. For the health of parts that `main`'s progress does not show: a background
    /// task that hangs, a lost upstream, a pool that stays exhausted.
    ///
    /// ```
    /// # use sd_notify_core::{ServiceHandle, sd_service};
    /// # #[sd_service] fn run(service: ServiceHandle) {
    /// # let upstream_lost = true;
    /// if upstream_lost {
    ///     service.mark_unhealthy();
    /// }
    /// assert!(!service.is_healthy());
    /// # }
    /// # fn main() -> std::process::ExitCode { run() }
    /// ```
    pub fn mark_unhealthy(&self) {
        if self.is_live() {
            UNHEALTHY.store(true, Ordering::SeqCst);
        }
    }

    /// Ends [`ServiceHandle::mark_unhealthy`]: pings go out again.
    ///
    /// ```
    /// # use sd_notify_core::{ServiceHandle, sd_service};
    /// # #[sd_service] fn run(service: ServiceHandle) {
    /// service.mark_unhealthy();
    /// // ... the upstream is back:
    /// service.mark_healthy();
    /// assert!(service.is_healthy());
    /// # }
    /// # fn main() -> std::process::ExitCode { run() }
    /// ```
    pub fn mark_healthy(&self) {
        if self.is_live() {
            UNHEALTHY.store(false, Ordering::SeqCst);
        }
    }

    /// Whether the service runs and is not marked unhealthy.
    ///
    /// ```
    /// # use sd_notify_core::{ServiceHandle, sd_service};
    /// # #[sd_service] fn run(service: ServiceHandle) {
    /// assert!(service.is_healthy()); // until marked otherwise
    /// # }
    /// # fn main() -> std::process::ExitCode { run() }
    /// ```
    pub fn is_healthy(&self) -> bool {
        self.is_live() && !UNHEALTHY.load(Ordering::SeqCst)
    }

    /// Fires the manager's watchdog now (`WATCHDOG=trigger`, systemd 243+), for a fault the
    /// service cannot recover from: the manager acts as on a watchdog timeout
    /// (`WatchdogSignal=`, `Result=watchdog`, a restart under `Restart=on-watchdog`), and
    /// the journal says why, instead of the service exiting with a generic failure.
    ///
    /// (`no_run`: under a manager, running it would fire that manager's watchdog.)
    /// ```no_run
    /// # use sd_notify_core::{ServiceHandle, sd_service};
    /// # #[sd_service] fn run(service: ServiceHandle) {
    /// # let disk_gone = true;
    /// if disk_gone {
    ///     service.trigger_watchdog();
    /// }
    /// # }
    /// # fn main() -> std::process::ExitCode { run() }
    /// ```
    pub fn trigger_watchdog(&self) {
        if self.is_live() {
            outbox::send_states(&[NotifyState::WatchdogTrigger], "WATCHDOG=trigger");
        }
    }

    /// The handle of the `#[sd_service]` fn that runs in this process, for code that was not
    /// given it. `None` when none runs: before it starts, after it returned, in a program
    /// without the attribute, and in a child made by `fork()` (the service is its parent's).
    ///
    /// ```
    /// use sd_notify_core::{ServiceHandle, sd_service};
    ///
    /// /// Library code: progress goes to the manager under a service, else to stdout.
    /// fn report(progress: &str) {
    ///     match ServiceHandle::current() {
    ///         Some(service) => service.set_status(progress).unwrap_or_default(),
    ///         None => println!("{progress}"),
    ///     }
    /// }
    ///
    /// #[sd_service]
    /// fn run() {
    ///     assert!(ServiceHandle::current().is_some());
    ///     report("halfway"); // STATUS=halfway
    /// }
    ///
    /// fn main() -> std::process::ExitCode {
    ///     assert!(ServiceHandle::current().is_none());
    ///     report("starting"); // printed
    ///     run()
    /// }
    /// ```
    pub fn current() -> Option<ServiceHandle> {
        let run = state::live_run()?;
        state::current().filter(|rt| rt.run == Some(run))?;
        Some(ServiceHandle { run })
    }

    /// A listening socket named `name` that survives `systemctl restart` and crashes:
    /// the one the manager passed under that name (its file-descriptor store, or a
    /// `.socket` unit) when it is the right kind and bound to `addr`, else `bind(addr)`,
    /// handed to the store. [`listener`](crate::listener) tells the whole behaviour; under
    /// the attribute, the descriptors passed under names that no call asked for are closed
    /// (and removed from the store) at the `#[ready]` marker, so ask for every listener
    /// before it. The unit needs `FileDescriptorStoreMax=`.
    ///
    /// The socket is blocking; for tokio, `set_nonblocking(true)` then
    /// `tokio::net::TcpListener::from_std`.
    ///
    /// # Errors
    /// As [`listener`](crate::listener).
    ///
    /// ```no_run
    /// use std::net::TcpListener;
    /// use sd_notify_core::{sd_service, ServiceHandle};
    ///
    /// #[sd_service]
    /// #[tokio::main]
    /// async fn main(service: ServiceHandle) -> std::io::Result<()> {
    ///     #[ready]
    ///     let http = service.listener("http", "0.0.0.0:8080", TcpListener::bind)?;
    ///     http.set_nonblocking(true)?;
    ///     let http = tokio::net::TcpListener::from_std(http)?;
    ///     // accept until service.shutdown() ...
    ///     # drop(http);
    ///     Ok(())
    /// }
    /// ```
    pub fn listener<L, A>(
        &self,
        name: &str,
        addr: A,
        bind: impl FnOnce(A) -> std::io::Result<L>,
    ) -> Result<L, crate::ListenerError>
    where
        L: crate::Listener<A>,
    {
        crate::listener(name, addr, bind)
    }

    /// The handle the generated code gives the annotated fn, whose run has begun.
    pub(super) fn of_live_run() -> ServiceHandle {
        // Without a live run (never, after `run::start`), an id no run gets: a handle of a
        // run that ended.
        ServiceHandle { run: state::live_run().unwrap_or(NonZeroU64::MAX) }
    }

    fn is_live(&self) -> bool {
        state::is_live(self.run)
    }

    /// The run this handle belongs to, while it runs (and in its own process).
    fn runtime(&self) -> Option<Runtime> {
        state::current().filter(|rt| rt.run == Some(self.run))
    }
}

/// `WATCHDOG=1`, encoded once.
pub(super) fn watchdog_message() -> Message {
    // Cannot fail: a constant, valid state. (`from_states`, not `push`: the service's other
    // messages are built by the same code, so `push` is not linked for this one.)
    Message::from_states(&[NotifyState::Watchdog]).unwrap_or_default()
}

/// Sends the watchdog ping if the service thread marked one due (and we are healthy).
pub(super) fn ping_if_due() {
    if WATCHDOG_DUE.swap(false, Ordering::SeqCst) && !UNHEALTHY.load(Ordering::SeqCst) {
        outbox::send(watchdog_message(), "WATCHDOG=1");
    }
}

const _: () = assert!(super::run::MAX_REPORTED_MESSAGE < MAX_MESSAGE_LEN / 2);

/// Whether the service's thread should send the pings itself: they are not tied to
/// `main`'s progress yet.
pub(super) fn pings_untied() -> bool {
    !PINGS_TIED.load(Ordering::SeqCst)
}
