//! The start and the end of a service run: set-up before the runtime's threads exist, the
//! readiness message, and the exit report, bounded by [`EXIT_BARRIER_TIMEOUT`].

use std::panic::{self, AssertUnwindSafe};
use std::process::{ExitCode, Termination};
use std::sync::OnceLock;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::state::{self, READY_SENT, Runtime};
use super::thread::{self, OnStop, Serve};
use super::{
    Config, EXIT_BARRIER_TIMEOUT, Failure, MIN_WATCHDOG_PING_INTERVAL, ServiceHandle, Supervised, handle,
    outbox,
};
use crate::Error;
use crate::diag;
use crate::message::{Message, sanitize_status};
use crate::state::NotifyState;
use crate::sys::{self, signal};

/// The status shown while stopping when the attribute gives none.
const DEFAULT_STOPPING: &str = "Stopping";

/// Longest error text put into `STATUS=`, so that it always fits one datagram.
pub(super) const MAX_REPORTED_MESSAGE: usize = 1024;

/// Runs a sync `main` body as a service and reports how it ended.
#[doc(hidden)]
pub fn run_sync<R: Termination>(
    config: &'static Config,
    body: impl FnOnce(ServiceHandle) -> R,
    describe: impl FnOnce(&R) -> Option<Failure>,
) -> ExitCode {
    // Without the handle nothing tells the body to stop: the service thread ends the process.
    let on_stop = if config.takes_handle { OnStop::Wake } else { OnStop::Exit };
    let Some(run) = start(config, on_stop, true) else { return ExitCode::FAILURE };
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| body(handle())));
    run.finish(outcome.map(Some), describe)
}

/// Runs an async `main` (its runtime attribute made `run` a sync fn returning
/// [`Supervised`]) as a service and reports how it ended.
#[doc(hidden)]
pub fn run_async<R: Termination>(
    config: &'static Config,
    run: impl FnOnce() -> Supervised<R>,
    describe: impl FnOnce(&R) -> Option<Failure>,
) -> ExitCode {
    let Some(service) = start(config, OnStop::Wake, false) else { return ExitCode::FAILURE };
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| match run() {
        Supervised::Finished(r) => Some(r),
        Supervised::Stopped => None,
    }));
    service.finish(outcome, describe)
}

/// Called by [`ready`] before `READY=1` when set: [`listener`](crate::listener) sets it to
/// [`release_unclaimed_listeners`](crate::release_unclaimed_listeners) at its first call, so
/// that a service that never asks for a listener does not link the listeners' code.
pub(crate) static AT_READY: OnceLock<fn()> = OnceLock::new();

/// Sends `READY=1` (with the running status, or clearing the starting one) once, unless
/// the service is already stopping. Called after the `#[ready]` statement.
#[doc(hidden)]
pub fn ready() {
    if state::stop_requested() || READY_SENT.swap(true, Ordering::SeqCst) {
        return;
    }
    // Every listener was asked for by now: close (and unstore) what none took.
    if let Some(release) = AT_READY.get() {
        release();
    }
    let config = state::current().map(|r| r.config);
    let status = match config {
        Some(Config { running: Some(running), .. }) => Some(*running),
        Some(Config { starting: Some(_), .. }) => Some(""),
        _ => None,
    };
    match status {
        Some(s) => outbox::send_states(&[NotifyState::Ready, NotifyState::Status(s)], "READY=1"),
        None => outbox::send_states(&[NotifyState::Ready], "READY=1"),
    }
    // Only now: READY does not need the service thread, so it does not wait for its start.
    thread::ensure();
}

/// A service run between its start and its end (its thread, once started, is
/// [`thread`]'s).
struct Run {
    /// `finish` ran (and stopped the thread).
    finished: bool,
}

/// Sets up the state, the signals and the service thread, and sends the starting status
/// (and READY when the body has no `#[ready]` marker). `None` when another annotated fn
/// runs: this one must not run half-set-up.
fn start(config: &'static Config, on_stop: OnStop, sync: bool) -> Option<Run> {
    let notifier = crate::default_notifier().unwrap_or_else(|e| {
        diag::warning!("not notifying the service manager: {}", diag::Chain(&e));
        None
    });
    let watchdog = crate::watchdog_enabled().unwrap_or_else(|e| {
        diag::warning!("watchdog disabled: {}", diag::Chain(&e));
        None
    });
    let stopping_status = config.stopping.unwrap_or(DEFAULT_STOPPING);
    let stopping = Message::from_states(&[NotifyState::Stopping, NotifyState::Status(stopping_status)])
        // Only an invalid literal can fail, and the attribute rejects those at compile time.
        .or_else(|_| Message::from_states(&[NotifyState::Stopping]))
        .unwrap_or_default();
    let runtime =
        Runtime { config, watchdog, stopping: leak_once(config, stopping), pid: sys::getpid(), run: None };
    if let Err(running) = state::begin(runtime) {
        diag::warning!(
            "`{}` was called while `{running}` is running; one #[sd_service] fn runs at a \
             time in a process (its signals and watchdog are per process), so `{}` did not run",
            config.name,
            config.name
        );
        return None;
    }
    outbox::clear();
    let setup = sys::Setup {
        socket: notifier.and_then(crate::Notifier::handler_socket),
        supervised: notifier.is_some(),
        stopping: runtime.stopping.as_bytes(),
        reload: config.reload,
        pid: runtime.pid,
    };
    match signal::install(setup) {
        Ok(wake) => {
            thread::prepare(wake, Serve { watchdog, on_stop, sync_name: sync.then_some(config.name) })
        }
        Err(e) => diag::warning!("signal handling unavailable: {}", diag::Chain(&e)),
    }
    // The thread starts after READY (see `ready`), unless it is needed before: the watchdog
    // is served from the start, and a sync main without the handle is ended by the thread
    // whenever a stop comes.
    if watchdog.is_some() || (on_stop == OnStop::Exit && config.ready_marker) {
        thread::ensure();
    }
    if let Some(interval) = watchdog {
        if interval < 2 * MIN_WATCHDOG_PING_INTERVAL {
            // In µs as integers: `Duration`'s `Debug` would link its own formatter.
            diag::warning!(
                "WatchdogSec= of {} µs is too short to serve; pinging every {} µs",
                interval.as_micros() as u64,
                MIN_WATCHDOG_PING_INTERVAL.as_micros() as u64
            );
        }
    }
    if let Some(starting) = config.starting {
        outbox::send_states(&[NotifyState::Status(starting)], "STATUS");
    }
    if !config.ready_marker {
        ready();
    }
    Some(Run { finished: false })
}

/// The stopping message for `config`, made `'static` once per config (the signal handlers
/// read its bytes at any time), so that calling a service again does not leak again.
fn leak_once(config: &'static Config, stopping: Message) -> &'static Message {
    use std::sync::Mutex;
    static MADE: Mutex<Vec<(usize, &'static Message)>> = Mutex::new(Vec::new());
    let key = std::ptr::from_ref(config) as usize;
    let mut made = MADE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(&(_, msg)) = made.iter().find(|(k, _)| *k == key) {
        return msg;
    }
    let msg: &'static Message = Box::leak(Box::new(stopping));
    made.push((key, msg));
    msg
}

impl Run {
    /// Reports the end to the manager (STOPPING, or the failure), waits for it to have read
    /// everything (all of it within [`EXIT_BARRIER_TIMEOUT`]), and gives the exit code.
    fn finish<R: Termination>(
        mut self,
        outcome: std::thread::Result<Option<R>>,
        describe: impl FnOnce(&R) -> Option<Failure>,
    ) -> ExitCode {
        let deadline = Instant::now() + EXIT_BARRIER_TIMEOUT;
        let (code, failure, panic) = match outcome {
            Ok(Some(result)) => {
                let failure = describe(&result);
                (result.report(), failure, None)
            }
            Ok(None) => (ExitCode::SUCCESS, None, None),
            Err(payload) => {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "non-string payload".to_owned());
                let failure = Failure { message: format!("panicked: {message}"), errno: None };
                (ExitCode::from(101), Some(failure), Some(payload))
            }
        };
        // A failing exit code without an error to describe is a failure all the same.
        let status = exit_status(code);
        let failure = failure.or_else(|| {
            status
                .filter(|&n| n != 0)
                .map(|n| Failure { message: format!("Failed with exit status {n}"), errno: None })
        });
        thread::stop();
        self.finished = true;
        let last = match &failure {
            Some(failure) => failure_message(failure, status),
            None => stopping_message(),
        };
        outbox::flush_before(last, deadline);
        exit_barrier(deadline);
        signal::uninstall();
        state::end();
        match panic {
            Some(payload) => panic::resume_unwind(payload),
            None => code,
        }
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        // Only reached without `finish` if the exit path itself panicked: leave no thread.
        if !self.finished {
            thread::stop();
        }
    }
}

/// The number behind an `ExitCode` (`ExitCode` shows it to no one but the OS).
fn exit_status(code: ExitCode) -> Option<u8> {
    (0..=u8::MAX).find(|&n| code == ExitCode::from(n))
}

/// `STOPPING=1` with the stopping status, unless a handler (or an earlier call) sent it.
fn stopping_message() -> Option<Message> {
    if signal::mark_stopping_sent() {
        return None;
    }
    state::current().map(|rt| rt.stopping.clone())
}

/// Queues the stopping datagram unless a handler (or an earlier call) already sent it.
pub(super) fn send_stopping_once() {
    if let Some(msg) = stopping_message() {
        outbox::send(msg, "STOPPING=1");
    }
}

/// A sync `main` without the handle was asked to stop: report, confirm, exit.
pub(super) fn exit_now() -> ! {
    let deadline = Instant::now() + EXIT_BARRIER_TIMEOUT;
    outbox::flush_before(None, deadline);
    exit_barrier(deadline);
    std::process::exit(0)
}

/// `STOPPING=1` (unless sent), `STATUS=<first line, sanitised>`, `ERRNO=` and
/// `EXIT_STATUS=` in one datagram.
fn failure_message(failure: &Failure, exit_status: Option<u8>) -> Option<Message> {
    let text = status_text(&failure.message);
    let mut states = Vec::with_capacity(4);
    if !signal::mark_stopping_sent() {
        states.push(NotifyState::Stopping);
    }
    states.push(NotifyState::Status(&text));
    if let Some(errno) = failure.errno.filter(|n| (0..=4095).contains(n)) {
        states.push(NotifyState::Errno(errno));
    }
    if let Some(n) = exit_status.filter(|&n| n != 0) {
        states.push(NotifyState::ExitStatus(n));
    }
    Message::from_states(&states)
        .map_err(|e| diag::warning!("the failure could not be reported: {}", diag::Chain(&e)))
        .ok()
}

/// Text for `STATUS=`: the first line, sanitised, cut at [`MAX_REPORTED_MESSAGE`] bytes on
/// a character boundary.
pub(super) fn status_text(text: &str) -> String {
    let first_line = text.lines().next().unwrap_or("").trim();
    let mut text = sanitize_status(first_line).into_owned();
    if text.len() > MAX_REPORTED_MESSAGE {
        let mut cut = MAX_REPORTED_MESSAGE;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}

/// The barrier before exit, within what is left of `deadline`. Over vsock there is none
/// (the barrier needs fd passing): the manager there does not match messages to processes.
fn exit_barrier(deadline: Instant) {
    let Some(notifier) = state::current().and(crate::default_notifier().ok().flatten()) else { return };
    match notifier.barrier_before(deadline) {
        Ok(()) | Err(Error::NeedsUnixSocket) => {}
        Err(e) => {
            diag::warning!("the service manager did not confirm our last messages: {}", diag::Chain(&e))
        }
    }
}
