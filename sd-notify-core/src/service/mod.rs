//! The run time behind `#[sd_service]`: signals, readiness, watchdog, reload, exit report.
//!
//! One service per process, since signals are per process: the state is process-global and
//! [`Service`] is a zero-sized handle to it.
//!
//! How the pieces fit:
//! - **Signals.** SIGTERM/SIGINT (and SIGHUP with `reload`) get handlers that send the
//!   pre-encoded `STOPPING=1` (or `RELOADING=1` + `MONOTONIC_USEC=`) themselves, at once, then
//!   write a byte to a pipe. A second SIGTERM/SIGINT exits immediately.
//! - **The service thread** sleeps on that pipe (and, only when the manager asked for a
//!   watchdog, on the ping timer). It wakes the futures waiting on [`Service::shutdown`] and
//!   [`Service::reload_requested`], resends what a handler could not, and marks a watchdog
//!   ping as due. Idle without a watchdog, it never wakes up.
//! - **The watchdog ping is sent by the main task**, never by the timer: for an async main,
//!   the future wrapping the body sends it when it is polled after the timer woke it; for a
//!   sync main, [`Service::is_stopping`] sends it. A stuck main stops the pings, and systemd
//!   restarts the service.

mod report;

use std::future::Future;
use std::os::fd::{AsFd, OwnedFd};
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::process::{ExitCode, Termination};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

pub use report::{Failure, MainOutput, ViaDebug, ViaDynError, ViaDynErrorSendSync, ViaError, Wrap};

use crate::Error;
use crate::message::{MAX_MESSAGE_LEN, Message, sanitize_status};
use crate::state::State;
use crate::sys::{self, signal};

/// How long the exit barrier of `#[sd_service]` waits for the manager to read our last
/// messages.
///
/// ```
/// assert_eq!(sd_notify_core::EXIT_BARRIER_TIMEOUT.as_secs(), 2);
/// ```
pub const EXIT_BARRIER_TIMEOUT: Duration = Duration::from_secs(2);

/// The status shown while stopping when the attribute gives none.
const DEFAULT_STOPPING: &str = "Stopping";

/// Longest error text put into `STATUS=`, so that it always fits one datagram.
const MAX_REPORTED_MESSAGE: usize = 1024;

/// What `#[sd_service]` was told (its options), as a `static` in the generated code.
#[doc(hidden)]
#[derive(Debug)]
pub struct Config {
    /// `STATUS=` sent when `main` starts.
    pub starting: Option<&'static str>,
    /// `STATUS=` sent with `READY=1`.
    pub running: Option<&'static str>,
    /// `STATUS=` sent with `STOPPING=1`.
    pub stopping: Option<&'static str>,
    /// Handle SIGHUP as a reload request.
    pub reload: bool,
    /// `main` takes a [`Service`] and so handles shutdown itself.
    pub takes_handle: bool,
    /// The body has a `#[ready]` marker (otherwise READY is sent at start).
    pub ready_marker: bool,
}

/// The handle `#[sd_service]` gives `main` (take it as `main`'s one parameter): shutdown,
/// reload, status and watchdog, usable from anywhere (it is `Copy`).
///
/// # Examples
/// A sync worker loop: `is_stopping` is the non-blocking check, and it also sends the
/// watchdog ping when one is due, so a stuck loop stops the pings.
/// ```
/// fn work_loop(service: sd_notify_core::Service) {
///     while !service.is_stopping() {
///         // take a job, do it ...
///         # break;
///     }
/// }
/// ```
/// An async server: select on the shutdown future.
/// ```
/// async fn serve(service: sd_notify_core::Service) {
///     let shutdown = service.shutdown();
///     // tokio::select! { _ = shutdown => {}, _ = accept_loop() => {} }
///     # drop(shutdown);
/// }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Service {
    _private: (),
}

/// The process-wide service state, set by [`start`].
struct Runtime {
    config: &'static Config,
    watchdog: Option<Duration>,
    /// `STOPPING=1` with the stopping status; the signal handlers send its bytes.
    stopping: &'static Message,
}

static RUNTIME: OnceLock<Runtime> = OnceLock::new();
/// A stop asked for by [`Service::stop`] (signals are counted by the handlers).
static STOP_REQUESTED: AtomicBool = AtomicBool::new(false);
static READY_SENT: AtomicBool = AtomicBool::new(false);
/// The service thread runs (signal handling is set up); without it, stops are handled inline.
static SERVICE_THREAD_RUNNING: AtomicBool = AtomicBool::new(false);
/// Reload requests answered by [`Service::reload_done`].
static RELOADS_DONE: AtomicU32 = AtomicU32::new(0);
/// Set by the service thread at half the watchdog interval; taken by the main task.
static WATCHDOG_DUE: AtomicBool = AtomicBool::new(false);
/// The task running `main`'s body (async), woken for watchdog pings and handle-less stops.
static MAIN_TASK: Mutex<Option<Waker>> = Mutex::new(None);
static SHUTDOWN_WAITERS: Mutex<Vec<Waker>> = Mutex::new(Vec::new());
static RELOAD_WAITERS: Mutex<Vec<Waker>> = Mutex::new(Vec::new());

fn runtime() -> Option<&'static Runtime> {
    RUNTIME.get()
}

impl Service {
    /// `true` once SIGTERM or SIGINT arrived (or [`Service::stop`] was called): the
    /// non-blocking check for sync loops. It also sends the watchdog ping when one is due,
    /// which ties the pings to the loop's progress: call it at least every half interval.
    ///
    /// ```
    /// let service = sd_notify_core::Service::current();
    /// assert!(!service.is_stopping());
    /// ```
    pub fn is_stopping(&self) -> bool {
        ping_if_due();
        stop_requested()
    }

    /// A future that completes when the service is asked to stop (SIGTERM, SIGINT or
    /// [`Service::stop`]). `STOPPING=1` has already been sent by then. Runtime-agnostic:
    /// use it in `tokio::select!` or any executor.
    ///
    /// ```
    /// # async fn example(service: sd_notify_core::Service) {
    /// service.shutdown().await;
    /// // close listeners, drain connections ...
    /// # }
    /// ```
    pub fn shutdown(&self) -> Shutdown {
        Shutdown { _private: () }
    }

    /// Asks the service to stop, as SIGTERM would: sends `STOPPING=1` and completes every
    /// [`Service::shutdown`] future.
    ///
    /// ```
    /// # fn example(service: sd_notify_core::Service) {
    /// service.stop();
    /// assert!(service.is_stopping());
    /// # }
    /// ```
    pub fn stop(&self) {
        if STOP_REQUESTED.swap(true, Ordering::SeqCst) {
            return;
        }
        if SERVICE_THREAD_RUNNING.load(Ordering::SeqCst) {
            signal::wake(); // the service thread does the rest, as for a signal
        } else {
            send_stopping_once();
            wake_all(&SHUTDOWN_WAITERS);
            wake_main_task();
        }
    }

    /// A future that completes when a reload was requested (SIGHUP, with the attribute's
    /// `reload` option) and not yet answered. `RELOADING=1` with `MONOTONIC_USEC=` has been
    /// sent by then; reload, then call [`Service::reload_done`] or [`Service::reload_failed`].
    ///
    /// ```
    /// # async fn example(service: sd_notify_core::Service) -> Result<(), sd_notify_core::Error> {
    /// # fn reread_config() -> Result<(), std::io::Error> { Ok(()) }
    /// loop {
    ///     service.reload_requested().await;
    ///     match reread_config() {
    ///         Ok(()) => service.reload_done()?,
    ///         Err(e) => service.reload_failed(&e)?,
    ///     }
    /// }
    /// # }
    /// ```
    pub fn reload_requested(&self) -> ReloadRequested {
        ReloadRequested { _private: () }
    }

    /// `true` when a reload was requested and not yet answered (the sync form of
    /// [`Service::reload_requested`]).
    ///
    /// ```
    /// # let service = sd_notify_core::Service::current();
    /// if service.reload_pending() {
    ///     // reload, then service.reload_done()
    /// }
    /// ```
    pub fn reload_pending(&self) -> bool {
        reloads_requested() > RELOADS_DONE.load(Ordering::SeqCst)
    }

    /// Ends a reload that worked: `READY=1`, with the running status if the attribute has one.
    ///
    /// # Errors
    /// As [`notify`](crate::notify).
    ///
    /// ```
    /// # let service = sd_notify_core::Service::current();
    /// service.reload_done()?;
    /// # Ok::<(), sd_notify_core::Error>(())
    /// ```
    pub fn reload_done(&self) -> Result<(), Error> {
        RELOADS_DONE.store(reloads_requested(), Ordering::SeqCst);
        match runtime().and_then(|r| r.config.running) {
            Some(running) => crate::notify(&[State::Ready, State::Status(running)]),
            None => crate::notify(&[State::Ready]),
        }
    }

    /// Ends a reload that failed: `READY=1` with `STATUS=Reload failed: <error>` (sanitised,
    /// first line). The service goes on with its old configuration, and the manager's reload
    /// job completes instead of hanging until its timeout.
    ///
    /// # Errors
    /// As [`notify`](crate::notify).
    ///
    /// ```
    /// # let service = sd_notify_core::Service::current();
    /// service.reload_failed("config.toml line 3: unknown key")?;
    /// # Ok::<(), sd_notify_core::Error>(())
    /// ```
    pub fn reload_failed(&self, error: impl std::fmt::Display) -> Result<(), Error> {
        RELOADS_DONE.store(reloads_requested(), Ordering::SeqCst);
        let text = format!("Reload failed: {error}");
        let text = truncate(sanitize_status(text.lines().next().unwrap_or("")).into_owned());
        crate::notify(&[State::Ready, State::Status(&text)])
    }

    /// Sets `STATUS=` (see also [`status!`](crate::status!) for formatting without allocation).
    ///
    /// # Errors
    /// As [`notify`](crate::notify): a status with `\n`, `\r`, NUL or `\` is refused.
    ///
    /// ```
    /// # let service = sd_notify_core::Service::current();
    /// service.set_status("warming caches")?;
    /// # Ok::<(), sd_notify_core::Error>(())
    /// ```
    pub fn set_status(&self, status: &str) -> Result<(), Error> {
        crate::notify(&[State::Status(status)])
    }

    /// The watchdog interval the manager asked for, if any (pings go out at half of it).
    ///
    /// ```
    /// # let service = sd_notify_core::Service::current();
    /// if let Some(interval) = service.watchdog() {
    ///     println!("watchdog every {interval:?}");
    /// }
    /// ```
    pub fn watchdog(&self) -> Option<Duration> {
        runtime().and_then(|r| r.watchdog)
    }

    /// Sends a watchdog ping now, for code that knows better than the timer when it is
    /// healthy (e.g. after each unit of work).
    ///
    /// # Errors
    /// As [`notify`](crate::notify).
    ///
    /// ```
    /// # let service = sd_notify_core::Service::current();
    /// service.ping_watchdog()?;
    /// # Ok::<(), sd_notify_core::Error>(())
    /// ```
    pub fn ping_watchdog(&self) -> Result<(), Error> {
        WATCHDOG_DUE.store(false, Ordering::SeqCst);
        crate::send(watchdog_message())
    }

    /// The handle, for code that was not given it (any code of the process may use it).
    ///
    /// ```
    /// let service = sd_notify_core::Service::current();
    /// ```
    pub fn current() -> Service {
        Service { _private: () }
    }
}

/// The future of [`Service::shutdown`].
///
/// ```
/// # async fn example(service: sd_notify_core::Service) {
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
        ready_when(stop_requested, &SHUTDOWN_WAITERS, cx)
    }
}

/// The future of [`Service::reload_requested`].
///
/// ```
/// # async fn example(service: sd_notify_core::Service) {
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
        ready_when(|| Service::current().reload_pending(), &RELOAD_WAITERS, cx)
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

fn wake_all(waiters: &Mutex<Vec<Waker>>) {
    let waiters = std::mem::take(&mut *waiters.lock().unwrap_or_else(|p| p.into_inner()));
    waiters.into_iter().for_each(Waker::wake);
}

fn wake_main_task() {
    // Wake outside the lock: the woken task's poll takes the same lock at once.
    let waker = MAIN_TASK.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if let Some(w) = waker {
        w.wake();
    }
}

fn stop_requested() -> bool {
    STOP_REQUESTED.load(Ordering::SeqCst) || signal::stop_signals() > 0
}

fn reloads_requested() -> u32 {
    signal::reload_signals()
}

fn watchdog_message() -> &'static Message {
    static PING: OnceLock<Message> = OnceLock::new();
    PING.get_or_init(|| {
        let mut m = Message::new();
        // Cannot fail: a constant, valid state in an empty message.
        let _ = m.push(State::Watchdog);
        m
    })
}

fn ping_if_due() {
    if WATCHDOG_DUE.swap(false, Ordering::SeqCst) {
        if let Err(e) = crate::send(watchdog_message()) {
            eprintln!("sd_service: watchdog ping failed: {e}");
        }
    }
}

/// Sends `READY=1` (with the running status, or clearing the starting one) once, unless
/// the service is already stopping. Called after the `#[ready]` statement.
#[doc(hidden)]
pub fn ready() {
    if stop_requested() || READY_SENT.swap(true, Ordering::SeqCst) {
        return;
    }
    let config = runtime().map(|r| r.config);
    let status = match config {
        Some(Config { running: Some(running), .. }) => Some(*running),
        Some(Config { starting: Some(_), .. }) => Some(""),
        _ => None,
    };
    let result = match status {
        Some(s) => crate::notify(&[State::Ready, State::Status(s)]),
        None => crate::notify(&[State::Ready]),
    };
    if let Err(e) = result {
        eprintln!("sd_service: READY=1 could not be sent: {e}");
    }
}

/// Sets up signals, the service thread and the starting status; sends READY at once when
/// the body has no `#[ready]` marker.
fn start(config: &'static Config, exit_on_stop: bool) {
    let notifier = crate::default_notifier().unwrap_or_else(|e| {
        eprintln!("sd_service: not notifying the service manager: {e}");
        None
    });
    let watchdog = crate::watchdog_enabled().unwrap_or_else(|e| {
        eprintln!("sd_service: watchdog disabled: {e}");
        None
    });
    let stopping_status = config.stopping.unwrap_or(DEFAULT_STOPPING);
    let stopping = Message::from_states(&[State::Stopping, State::Status(stopping_status)])
        // Only an invalid literal can fail, and the attribute rejects those at compile time.
        .or_else(|_| Message::from_states(&[State::Stopping]))
        .unwrap_or_default();
    let stopping: &'static Message = Box::leak(Box::new(stopping));
    if RUNTIME.set(Runtime { config, watchdog, stopping }).is_err() {
        eprintln!("sd_service: a second #[sd_service] function in one process; signals stay with the first");
        return;
    }
    let socket = notifier.and_then(|n| n.signal_socket().ok().flatten());
    match signal::install(socket, stopping.as_bytes(), config.reload) {
        Ok(wake) => {
            let spawned = std::thread::Builder::new()
                .name("sd-service".into())
                .spawn(move || service_thread(wake, watchdog, exit_on_stop));
            match spawned {
                Ok(_) => SERVICE_THREAD_RUNNING.store(true, Ordering::SeqCst),
                Err(e) => eprintln!("sd_service: could not start the service thread: {e}"),
            }
        }
        Err(e) => eprintln!("sd_service: signal handling unavailable: {e}"),
    }
    if let Some(starting) = config.starting {
        if let Err(e) = crate::notify(&[State::Status(starting)]) {
            eprintln!("sd_service: STATUS could not be sent: {e}");
        }
    }
    if !config.ready_marker {
        ready();
    }
}

/// Sleeps on the signal pipe (and the watchdog timer, when there is one) and turns what
/// the handlers recorded into wake-ups and resends.
fn service_thread(wake: OwnedFd, watchdog: Option<Duration>, exit_on_stop: bool) {
    let half = watchdog.map(|w| w / 2);
    let mut next_ping = half.map(|h| Instant::now() + h);
    let mut stop_handled = false;
    let mut reloads_seen = 0;
    let mut buf = [0u8; 64];
    loop {
        let timeout = next_ping.map(|t| t.saturating_duration_since(Instant::now()));
        match sys::poll(wake.as_fd(), sys::POLLIN, timeout) {
            Ok(0) => {}
            Ok(_) => {
                let _ = sys::read(wake.as_fd(), &mut buf);
            }
            Err(e) => {
                eprintln!("sd_service: service thread stopped: {e}");
                SERVICE_THREAD_RUNNING.store(false, Ordering::SeqCst);
                return;
            }
        }
        let reloads = signal::reload_signals();
        if !stop_handled && stop_requested() {
            stop_handled = true;
            send_stopping_once();
            wake_all(&SHUTDOWN_WAITERS);
            wake_main_task();
            if exit_on_stop {
                let _ = crate::barrier(EXIT_BARRIER_TIMEOUT);
                std::process::exit(0);
            }
        }
        if signal::take_failed_reloading_sends() > 0 {
            if let Err(e) = crate::notify(&State::reloading_now()) {
                eprintln!("sd_service: RELOADING=1 could not be sent: {e}");
            }
        }
        if reloads != reloads_seen {
            reloads_seen = reloads;
            wake_all(&RELOAD_WAITERS);
        }
        if let (Some(at), Some(half)) = (next_ping, half) {
            if Instant::now() >= at {
                WATCHDOG_DUE.store(true, Ordering::SeqCst);
                wake_main_task();
                next_ping = Some(Instant::now() + half);
            }
        }
    }
}

/// Sends the stopping datagram unless a handler (or an earlier call) already did.
fn send_stopping_once() {
    if signal::mark_stopping_sent() {
        return; // a handler, or an earlier call, sent it
    }
    if let Some(rt) = runtime() {
        if let Err(e) = crate::send(rt.stopping) {
            eprintln!("sd_service: STOPPING=1 could not be sent: {e}");
        }
    }
}

/// What became of an async body.
#[doc(hidden)]
#[derive(Debug)]
pub enum Supervised<R> {
    /// The body returned this.
    Finished(R),
    /// A stop signal came and `main` takes no handle: the body was dropped.
    Stopped,
}

/// Wraps an async `main` body: sends due watchdog pings when polled, and drops the body on
/// a stop signal when `main` takes no handle.
#[doc(hidden)]
pub fn supervise<F: Future>(body: F) -> Supervise<F> {
    Supervise { body: Some(Box::pin(body)) }
}

/// The future of [`supervise`].
#[doc(hidden)]
#[derive(Debug)]
pub struct Supervise<F> {
    body: Option<Pin<Box<F>>>,
}

impl<F: Future> Future for Supervise<F> {
    type Output = Supervised<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let rt = runtime();
        let drop_on_stop = rt.is_some_and(|r| !r.config.takes_handle);
        if rt.is_some_and(|r| r.watchdog.is_some()) || drop_on_stop {
            let mut main = MAIN_TASK.lock().unwrap_or_else(|p| p.into_inner());
            if !main.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *main = Some(cx.waker().clone());
            }
        }
        ping_if_due();
        if drop_on_stop && stop_requested() {
            this.body = None;
            return Poll::Ready(Supervised::Stopped);
        }
        match this.body.as_mut() {
            Some(body) => body.as_mut().poll(cx).map(Supervised::Finished),
            None => Poll::Ready(Supervised::Stopped),
        }
    }
}

/// Runs a sync `main` body as a service and reports how it ended.
#[doc(hidden)]
pub fn run_sync<R: Termination>(
    config: &'static Config,
    body: impl FnOnce(Service) -> R,
    describe: impl FnOnce(&R) -> Option<Failure>,
) -> ExitCode {
    start(config, !config.takes_handle);
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| body(Service::current())));
    finish(outcome.map(Some), describe)
}

/// Runs an async `main` (its runtime attribute made it a sync fn returning
/// [`Supervised`]) as a service and reports how it ended.
#[doc(hidden)]
pub fn run_async<R: Termination>(
    config: &'static Config,
    run: impl FnOnce(Service) -> Supervised<R>,
    describe: impl FnOnce(&R) -> Option<Failure>,
) -> ExitCode {
    start(config, false);
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| match run(Service::current()) {
        Supervised::Finished(r) => Some(r),
        Supervised::Stopped => None,
    }));
    finish(outcome, describe)
}

/// Reports the end to the manager (STOPPING, or the failure with STATUS and ERRNO), waits
/// for it to have read everything (bounded barrier), and gives the exit code.
fn finish<R: Termination>(
    outcome: std::thread::Result<Option<R>>,
    describe: impl FnOnce(&R) -> Option<Failure>,
) -> ExitCode {
    match outcome {
        Ok(Some(result)) => {
            match describe(&result) {
                Some(failure) => report_failure(&failure),
                None => send_stopping_once(),
            }
            exit_barrier();
            result.report()
        }
        Ok(None) => {
            send_stopping_once();
            exit_barrier();
            ExitCode::SUCCESS
        }
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string payload".to_owned());
            report_failure(&Failure { message: format!("panicked: {message}"), errno: None });
            exit_barrier();
            panic::resume_unwind(payload)
        }
    }
}

/// `STOPPING=1`, `STATUS=<first line, sanitised>` and `ERRNO=` in one datagram.
fn report_failure(failure: &Failure) {
    let first_line = failure.message.lines().next().unwrap_or("");
    let text = truncate(sanitize_status(first_line).into_owned());
    let mut states = vec![State::Status(&text)];
    if !signal::mark_stopping_sent() {
        states.insert(0, State::Stopping);
    }
    if let Some(errno) = failure.errno.filter(|n| (0..=4095).contains(n)) {
        states.push(State::Errno(errno));
    }
    if let Err(e) = crate::notify(&states) {
        eprintln!("sd_service: the failure could not be reported: {e}");
    }
}

fn exit_barrier() {
    if let Err(e) = crate::barrier(EXIT_BARRIER_TIMEOUT) {
        eprintln!("sd_service: the service manager did not confirm our last messages: {e}");
    }
}

/// Cuts text to [`MAX_REPORTED_MESSAGE`] bytes at a character boundary.
fn truncate(mut text: String) -> String {
    const _: () = assert!(MAX_REPORTED_MESSAGE < MAX_MESSAGE_LEN / 2);
    if text.len() > MAX_REPORTED_MESSAGE {
        let mut cut = MAX_REPORTED_MESSAGE;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}
