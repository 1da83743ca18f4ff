//! The process-wide state of the service that runs now: what it was told, and the flags its
//! handle, its thread and its signal handlers share. [`begin`] sets it up for one run of an
//! annotated fn and [`end`] clears it, so that two annotated fns called one after the other
//! each get a full life cycle. Each run has an id, never reused, that its handles carry: a
//! handle of a run that ended never acts on a later one.

use std::num::NonZeroU64;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::Waker;
use std::time::Duration;

use super::Config;
use super::waiters::Waiters;
use crate::message::Message;
use crate::sys::{self, signal};

/// The running service.
#[derive(Debug, Clone, Copy)]
pub(super) struct Runtime {
    pub(super) config: &'static Config,
    pub(super) watchdog: Option<Duration>,
    /// `STOPPING=1` with the stopping status; the signal handlers send its bytes.
    pub(super) stopping: &'static Message,
    /// The process that runs it (a `fork()` child is another process and sends nothing).
    pub(super) pid: u32,
    /// The run's id, set by [`begin`].
    pub(super) run: Option<NonZeroU64>,
}

static CURRENT: Mutex<Option<Runtime>> = Mutex::new(None);

/// A stop asked for by [`ServiceHandle::stop`](super::ServiceHandle::stop) (signals are counted by the
/// handlers).
pub(super) static STOP_REQUESTED: AtomicBool = AtomicBool::new(false);
pub(super) static READY_SENT: AtomicBool = AtomicBool::new(false);
/// The service thread runs; without it, stops are handled inline.
pub(super) static THREAD_RUNNING: AtomicBool = AtomicBool::new(false);
/// Set by the service thread when a ping is due and the pings are tied to `main`'s progress.
pub(super) static WATCHDOG_DUE: AtomicBool = AtomicBool::new(false);
/// The pings follow `main`'s progress (its future is polled, or it called `heartbeat`).
pub(super) static PINGS_TIED: AtomicBool = AtomicBool::new(false);
/// Marked unhealthy: no ping goes out.
pub(super) static UNHEALTHY: AtomicBool = AtomicBool::new(false);
/// The task running an async body, woken for watchdog pings and handle-less stops.
pub(super) static MAIN_TASK: Mutex<Option<Waker>> = Mutex::new(None);
/// The futures of [`ServiceHandle::shutdown`](super::ServiceHandle::shutdown) that wait.
pub(super) static SHUTDOWN_WAITERS: Waiters = Waiters::new();
/// The futures of [`ServiceHandle::reload_requested`](super::ServiceHandle::reload_requested)
/// that wait.
pub(super) static RELOAD_WAITERS: Waiters = Waiters::new();
/// The id of the run under way, 0 when none is.
static LIVE_RUN: AtomicU64 = AtomicU64::new(0);
/// The id the next run gets.
static NEXT_RUN: AtomicU64 = AtomicU64::new(1);

/// The running service, if there is one and this is its process.
pub(super) fn current() -> Option<Runtime> {
    let rt = *CURRENT.lock().unwrap_or_else(|p| p.into_inner());
    rt.filter(|rt| rt.pid == sys::getpid())
}

/// Makes `rt` the running service, with fresh flags. `Err` with the running one's name when
/// another annotated fn runs (a call from inside it).
pub(super) fn begin(mut rt: Runtime) -> Result<(), &'static str> {
    let run;
    {
        let mut current = CURRENT.lock().unwrap_or_else(|p| p.into_inner());
        // `rt.pid` is this process's: read once by the caller (one `getpid` fewer before READY).
        if let Some(running) = current.filter(|r| r.pid == rt.pid) {
            return Err(running.config.name);
        }
        run = NEXT_RUN.fetch_add(1, Ordering::SeqCst);
        rt.run = NonZeroU64::new(run);
        *current = Some(rt);
    }
    // Reset outside the lock above (other locks are taken while it is held elsewhere); no
    // signal handler or service thread of this run exists yet.
    for flag in [&STOP_REQUESTED, &READY_SENT, &THREAD_RUNNING, &WATCHDOG_DUE, &PINGS_TIED, &UNHEALTHY] {
        flag.store(false, Ordering::SeqCst);
    }
    for waiters in [&SHUTDOWN_WAITERS, &RELOAD_WAITERS] {
        waiters.clear();
    }
    *MAIN_TASK.lock().unwrap_or_else(|p| p.into_inner()) = None;
    super::reload::reset();
    LIVE_RUN.store(run, Ordering::SeqCst);
    Ok(())
}

/// No service runs any more. The futures still waiting on the run are woken: their run has
/// ended, so a `shutdown()` completes and a `reload_requested()` lets its slot go.
pub(super) fn end() {
    *CURRENT.lock().unwrap_or_else(|p| p.into_inner()) = None;
    LIVE_RUN.store(0, Ordering::SeqCst);
    SHUTDOWN_WAITERS.wake_all();
    RELOAD_WAITERS.wake_all();
}

/// The id of the run under way, if one is.
pub(super) fn live_run() -> Option<NonZeroU64> {
    NonZeroU64::new(LIVE_RUN.load(Ordering::SeqCst))
}

/// Whether `run` is the run under way (it has begun and not ended).
pub(super) fn is_live(run: NonZeroU64) -> bool {
    LIVE_RUN.load(Ordering::SeqCst) == run.get()
}

pub(super) fn stop_requested() -> bool {
    STOP_REQUESTED.load(Ordering::SeqCst) || signal::stop_signals() > 0
}

pub(super) fn wake_main_task() {
    // Wake outside the lock: the woken task's poll takes the same lock at once.
    let waker = MAIN_TASK.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if let Some(w) = waker {
        w.wake();
    }
}
