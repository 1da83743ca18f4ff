//! What the unit tests of the run time share: wakers that count, a small executor, and a
//! run of a service without the attribute (no signals, no thread, nothing sent).

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};

use super::state::{self, Runtime, SHUTDOWN_WAITERS, STOP_REQUESTED};
use super::{Config, ServiceHandle};
use crate::message::Message;
use crate::sys;

/// What the probes of one test saw.
#[derive(Debug, Default)]
pub(super) struct Counts {
    made: AtomicUsize,
    dropped: AtomicUsize,
    woken: AtomicUsize,
}

impl Counts {
    /// Tasks' wakers still alive somewhere (a clone held by a future's slot, or the test's).
    pub(super) fn alive(&self) -> usize {
        self.made.load(Ordering::SeqCst) - self.dropped.load(Ordering::SeqCst)
    }

    /// Wakes so far, over all the tasks.
    pub(super) fn woken(&self) -> usize {
        self.woken.load(Ordering::SeqCst)
    }
}

/// The waker of one task: counts its wakes, and its end (when it and all its clones are
/// dropped), in the test's [`Counts`].
#[derive(Debug)]
pub(super) struct Probe(Arc<Counts>);

impl Probe {
    /// A new task's waker.
    pub(super) fn waker(counts: &Arc<Counts>) -> Waker {
        counts.made.fetch_add(1, Ordering::SeqCst);
        Waker::from(Arc::new(Probe(Arc::clone(counts))))
    }
}

impl Wake for Probe {
    fn wake(self: Arc<Self>) {
        self.0.woken.fetch_add(1, Ordering::SeqCst);
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.0.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

/// Wakes a thread parked in [`block_on`].
struct Unpark {
    thread: Thread,
    woken: AtomicBool,
}

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.thread.unpark();
    }
}

/// Runs `future` on this thread. `Err` when it waited `patience` without being woken (a
/// lost wake-up).
pub(super) fn block_on<F: Future>(future: F, patience: Duration) -> Result<F::Output, &'static str> {
    let unpark = Arc::new(Unpark { thread: std::thread::current(), woken: AtomicBool::new(false) });
    let waker = Waker::from(Arc::clone(&unpark));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return Ok(v);
        }
        let since = Instant::now();
        while !unpark.woken.swap(false, Ordering::SeqCst) {
            if since.elapsed() > patience {
                return Err("never woken");
            }
            std::thread::park_timeout(patience);
        }
    }
}

/// Polls `future` once with `waker`.
pub(super) fn poll_once<F: Future + Unpin>(future: &mut F, waker: &Waker) -> Poll<F::Output> {
    std::pin::Pin::new(future).poll(&mut Context::from_waker(waker))
}

static CONFIG: Config = Config {
    name: "unit-test",
    starting: None,
    running: None,
    stopping: None,
    reload: true,
    takes_handle: true,
    ready_marker: false,
};

/// Tests that begin runs take turns: the run is process-wide.
static TURN: Mutex<()> = Mutex::new(());

/// The turn of a test that runs services, one after the other.
pub(super) fn turn() -> MutexGuard<'static, ()> {
    TURN.lock().unwrap_or_else(|p| p.into_inner())
}

/// A run of the service state only (no signals, no service thread, nothing sent), ended on
/// drop; hold [`turn`] while it lives.
pub(super) struct FakeRun;

impl FakeRun {
    pub(super) fn begin() -> (FakeRun, ServiceHandle) {
        static STOPPING: Message = Message::new();
        let rt =
            Runtime { config: &CONFIG, watchdog: None, stopping: &STOPPING, pid: sys::getpid(), run: None };
        state::begin(rt).expect("no other run");
        (FakeRun, ServiceHandle::current().expect("the run has begun"))
    }

    /// What the service thread does on SIGTERM, for the futures: the flag, then the wake.
    pub(super) fn stop(&self) {
        STOP_REQUESTED.store(true, Ordering::SeqCst);
        SHUTDOWN_WAITERS.wake_all();
    }
}

impl Drop for FakeRun {
    fn drop(&mut self) {
        state::end();
    }
}
