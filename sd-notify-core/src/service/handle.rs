//! [`ServiceHandle`], the handle `#[sd_service]` gives `main`, and its two futures.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::state::{self, PINGS_TIED, RELOAD_WAITERS, SHUTDOWN_WAITERS, UNHEALTHY, WATCHDOG_DUE};
use super::{outbox, reload};
use crate::Error;
use crate::message::{MAX_MESSAGE_LEN, Message};
use crate::state::NotifyState;
use crate::sys::signal;

/// The handle `#[sd_service]` gives `main` (take it as `main`'s one parameter): shutdown,
/// reload, status, watchdog and health, usable from anywhere (it is `Copy`).
///
/// Nothing on it ever waits for the service manager: a message the manager's queue has no
/// room for is queued and sent, in order, by the service's own thread.
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
#[derive(Debug, Clone, Copy)]
pub struct ServiceHandle {
    _private: (),
}

impl ServiceHandle {
    /// `true` once SIGTERM or SIGINT arrived (or [`ServiceHandle::stop`] was called): the
    /// non-blocking check for sync loops. It only answers; the watchdog is fed by
    /// [`ServiceHandle::heartbeat`].
    ///
    /// ```
    /// let service = sd_notify_core::ServiceHandle::current();
    /// assert!(!service.is_stopping());
    /// ```
    pub fn is_stopping(&self) -> bool {
        state::stop_requested()
    }

    /// A future that completes when the service is asked to stop (SIGTERM, SIGINT or
    /// [`ServiceHandle::stop`]). `STOPPING=1` is on its way to the manager by then (it never
    /// waits for it). Runtime-agnostic: use it in `tokio::select!` or any executor.
    ///
    /// ```
    /// # async fn example(service: sd_notify_core::ServiceHandle) {
    /// service.shutdown().await;
    /// // close listeners, drain connections ...
    /// # }
    /// ```
    pub fn shutdown(&self) -> Shutdown {
        Shutdown { _private: () }
    }

    /// Asks the service to stop, as SIGTERM would: sends `STOPPING=1` and completes every
    /// [`ServiceHandle::shutdown`] future.
    ///
    /// ```
    /// # fn example(service: sd_notify_core::ServiceHandle) {
    /// service.stop();
    /// assert!(service.is_stopping());
    /// # }
    /// ```
    pub fn stop(&self) {
        if state::STOP_REQUESTED.swap(true, Ordering::SeqCst) {
            return;
        }
        if state::THREAD_RUNNING.load(Ordering::SeqCst) {
            signal::wake(); // the service thread does the rest, as for a signal
        } else {
            state::wake_all(&SHUTDOWN_WAITERS);
            state::wake_main_task();
            super::run::send_stopping_once();
        }
    }

    /// A future that completes when a reload was requested (SIGHUP, with the attribute's
    /// `reload` option) and not yet answered. `RELOADING=1` with `MONOTONIC_USEC=` has been
    /// sent by then; reload, then call [`ServiceHandle::reload_done`] or [`ServiceHandle::reload_failed`].
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
        ReloadRequested { _private: () }
    }

    /// `true` when a reload was requested and not yet answered (the sync form of
    /// [`ServiceHandle::reload_requested`]; `true` begins a round in the same way).
    ///
    /// ```
    /// # let service = sd_notify_core::ServiceHandle::current();
    /// if service.reload_pending() {
    ///     // reload, then service.reload_done()
    /// }
    /// ```
    pub fn reload_pending(&self) -> bool {
        reload::begin_round()
    }

    /// Ends a reload that worked: `READY=1`, with the running status if the attribute has
    /// one. Returns `true` when a reload was answered, `false` when none was pending, in
    /// which case nothing is sent (a stray call can never announce readiness early).
    ///
    /// ```
    /// # let service = sd_notify_core::ServiceHandle::current();
    /// let answered = service.reload_done();
    /// assert!(!answered); // no SIGHUP came
    /// ```
    pub fn reload_done(&self) -> bool {
        let running = state::current().and_then(|r| r.config.running);
        reload::answer(running)
    }

    /// Ends a reload that failed: `READY=1` with `STATUS=Reload failed: <error>` (sanitised,
    /// first line). The service goes on with its old configuration, and the manager's reload
    /// job completes instead of hanging until its timeout. Returns as [`ServiceHandle::reload_done`].
    ///
    /// ```
    /// # let service = sd_notify_core::ServiceHandle::current();
    /// service.reload_failed("config.toml line 3: unknown key");
    /// ```
    pub fn reload_failed(&self, error: impl std::fmt::Display) -> bool {
        let text = format!("Reload failed: {error}");
        let text = super::run::status_text(&text);
        reload::answer(Some(&text))
    }

    /// Sets `STATUS=` (see also [`status!`](crate::status!) for formatting without allocation).
    ///
    /// # Errors
    /// [`Error::InvalidValue`]: a status with `\n`, `\r`, NUL or `\` is refused, and nothing
    /// is sent. A manager that does not read is no error: the status waits in the outbox.
    ///
    /// ```
    /// # let service = sd_notify_core::ServiceHandle::current();
    /// service.set_status("warming caches")?;
    /// # Ok::<(), sd_notify_core::Error>(())
    /// ```
    pub fn set_status(&self, status: &str) -> Result<(), Error> {
        outbox::send(Message::from_states(&[NotifyState::Status(status)])?, "STATUS");
        Ok(())
    }

    /// The watchdog interval the manager asked for, if any (pings go out at half of it).
    ///
    /// ```
    /// # let service = sd_notify_core::ServiceHandle::current();
    /// if let Some(interval) = service.watchdog() {
    ///     println!("watchdog every {interval:?}");
    /// }
    /// ```
    pub fn watchdog(&self) -> Option<Duration> {
        state::current().and_then(|r| r.watchdog)
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
    /// # let service = sd_notify_core::ServiceHandle::current();
    /// loop {
    ///     service.heartbeat();
    ///     // one unit of work ...
    ///     # break;
    /// }
    /// ```
    pub fn heartbeat(&self) {
        PINGS_TIED.store(true, Ordering::SeqCst);
        ping_if_due();
    }

    /// Marks the service unhealthy: no watchdog ping goes out until [`ServiceHandle::mark_healthy`],
    /// so the manager's watchdog fires after `WatchdogSec=` (restarting the service under
    /// `Restart=on-watchdog`/`on-failure`) unless health comes back first. For the health of
    /// parts that `main`'s progress does not show: a background task that hangs, a lost
    /// upstream, a pool that stays exhausted.
    ///
    /// ```
    /// # let service = sd_notify_core::ServiceHandle::current();
    /// service.mark_unhealthy();
    /// assert!(!service.is_healthy());
    /// service.mark_healthy();
    /// ```
    pub fn mark_unhealthy(&self) {
        UNHEALTHY.store(true, Ordering::SeqCst);
    }

    /// Ends [`ServiceHandle::mark_unhealthy`]: pings go out again.
    ///
    /// ```
    /// # let service = sd_notify_core::ServiceHandle::current();
    /// service.mark_healthy();
    /// assert!(service.is_healthy());
    /// ```
    pub fn mark_healthy(&self) {
        UNHEALTHY.store(false, Ordering::SeqCst);
    }

    /// Whether the service is healthy (not marked unhealthy).
    ///
    /// ```
    /// assert!(sd_notify_core::ServiceHandle::current().is_healthy());
    /// ```
    pub fn is_healthy(&self) -> bool {
        !UNHEALTHY.load(Ordering::SeqCst)
    }

    /// Fires the manager's watchdog now (`WATCHDOG=trigger`, systemd 243+), for a fault the
    /// service cannot recover from: the manager acts as on a watchdog timeout
    /// (`WatchdogSignal=`, `Result=watchdog`, a restart under `Restart=on-watchdog`), and
    /// the journal says why, instead of the service exiting with a generic failure.
    ///
    /// ```no_run
    /// # let service = sd_notify_core::ServiceHandle::current();
    /// service.trigger_watchdog();
    /// ```
    pub fn trigger_watchdog(&self) {
        outbox::send_states(&[NotifyState::WatchdogTrigger], "WATCHDOG=trigger");
    }

    /// The handle, for code that was not given it (any code of the process may use it).
    ///
    /// ```
    /// let service = sd_notify_core::ServiceHandle::current();
    /// ```
    pub fn current() -> ServiceHandle {
        ServiceHandle { _private: () }
    }
}

/// `WATCHDOG=1`, encoded once.
pub(super) fn watchdog_message() -> Message {
    let mut m = Message::new();
    // Cannot fail: a constant, valid state in an empty message.
    let _ = m.push(NotifyState::Watchdog);
    m
}

/// Sends the watchdog ping if the service thread marked one due (and we are healthy).
pub(super) fn ping_if_due() {
    if WATCHDOG_DUE.swap(false, Ordering::SeqCst) && !UNHEALTHY.load(Ordering::SeqCst) {
        outbox::send(watchdog_message(), "WATCHDOG=1");
    }
}

const _: () = assert!(super::run::MAX_REPORTED_MESSAGE < MAX_MESSAGE_LEN / 2);

/// The future of [`ServiceHandle::shutdown`].
///
/// ```
/// # async fn example(service: sd_notify_core::ServiceHandle) {
/// let shutdown: sd_notify_core::Shutdown = service.shutdown();
/// shutdown.await;
/// # }
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct Shutdown {
    _private: (),
}

impl Future for Shutdown {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        ready_when(state::stop_requested, &SHUTDOWN_WAITERS, cx)
    }
}

/// The future of [`ServiceHandle::reload_requested`].
///
/// ```
/// # async fn example(service: sd_notify_core::ServiceHandle) {
/// let reload: sd_notify_core::ReloadRequested = service.reload_requested();
/// reload.await;
/// # }
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct ReloadRequested {
    _private: (),
}

impl Future for ReloadRequested {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        ready_when(reload::begin_round, &RELOAD_WAITERS, cx)
    }
}

/// Ready when `condition` holds; else registers the waker (once per task) and checks again,
/// so that an event between the check and the registration is not lost.
fn ready_when(condition: impl Fn() -> bool, waiters: &Mutex<Vec<Waker>>, cx: &mut Context<'_>) -> Poll<()> {
    if condition() {
        return Poll::Ready(());
    }
    {
        let mut waiters = waiters.lock().unwrap_or_else(|p| p.into_inner());
        if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
            waiters.push(cx.waker().clone());
        }
    }
    if condition() { Poll::Ready(()) } else { Poll::Pending }
}

/// Whether the service's thread should send the pings itself: they are not tied to
/// `main`'s progress yet.
pub(super) fn pings_untied() -> bool {
    !PINGS_TIED.load(Ordering::SeqCst)
}
