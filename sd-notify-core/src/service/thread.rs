//! The `sd-service` thread: sleeps on the signal pipe, the watchdog timer (only when the
//! manager asked for one) and, while the outbox holds something, the socket; turns what the
//! handlers recorded into wake-ups and sends. It never waits on the manager.
//!
//! It is not on the way to `READY=1`: [`prepare`] records what it needs, and [`ensure`]
//! starts it when something first needs it — `READY=1` has been sent, a watchdog is to be
//! served, a future waits on the run, the outbox queued a message, or a sync `main` without
//! the handle must be ended by a stop. Until then the signal handlers do their part alone
//! (they send `STOPPING=1` and count the signal) and leave a byte in the pipe, which the
//! thread finds as soon as it starts.

use std::os::fd::BorrowedFd;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::handle::{pings_untied, watchdog_message};
use super::state::{self, RELOAD_WAITERS, SHUTDOWN_WAITERS, UNHEALTHY, WATCHDOG_DUE};
use super::{MIN_WATCHDOG_PING_INTERVAL, outbox, run};
use crate::diag;
use crate::state::NotifyState;
use crate::sys::{self, signal};

/// Set to end the thread (the service returned).
static QUIT: AtomicBool = AtomicBool::new(false);

/// What the thread does when a stop is requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OnStop {
    /// Wake the futures; `main` returns by itself.
    Wake,
    /// A sync `main` without the handle: nothing will return, so end the process.
    Exit,
}

/// The time between two pings for a manager's `interval`: half of it, never under
/// [`MIN_WATCHDOG_PING_INTERVAL`].
pub(super) fn ping_period(interval: Duration) -> Duration {
    (interval / 2).max(MIN_WATCHDOG_PING_INTERVAL)
}

/// What the thread needs to know of the service it serves.
#[derive(Debug, Clone, Copy)]
pub(super) struct Serve {
    pub(super) watchdog: Option<Duration>,
    pub(super) on_stop: OnStop,
    /// A sync fn's name: its pings are the thread's own until it calls `heartbeat()`, and
    /// the first one says so on stderr.
    pub(super) sync_name: Option<&'static str>,
}

/// The thread of the run under way: what it needs until it starts, then its handle.
enum Slot {
    /// No run, or the run has no thread (the signal handlers could not be installed).
    None,
    /// Prepared by [`prepare`], not started yet.
    Pending(BorrowedFd<'static>, Serve),
    /// Started (or it failed to start: `None`).
    Started(Option<JoinHandle<()>>),
}

static SLOT: Mutex<Slot> = Mutex::new(Slot::None);
/// A thread is prepared and not started: the only state in which [`ensure`] has work.
static PENDING: AtomicBool = AtomicBool::new(false);

/// Records what the thread needs; [`ensure`] starts it.
pub(super) fn prepare(wake: BorrowedFd<'static>, serve: Serve) {
    *SLOT.lock().unwrap_or_else(|p| p.into_inner()) = Slot::Pending(wake, serve);
    PENDING.store(true, Ordering::SeqCst);
}

/// Starts the prepared thread, once; does nothing when it runs already or none is prepared.
/// Cheap when there is nothing to do (one atomic load), so callers call it freely.
pub(super) fn ensure() {
    if !PENDING.load(Ordering::SeqCst) {
        return;
    }
    let mut slot = SLOT.lock().unwrap_or_else(|p| p.into_inner());
    let Slot::Pending(wake, serve) = *slot else { return };
    QUIT.store(false, Ordering::SeqCst);
    let spawned = spawn_named("sd-service", Box::new(move || run(wake, serve)));
    let handle = match spawned {
        Ok(handle) => {
            state::THREAD_RUNNING.store(true, Ordering::SeqCst);
            Some(handle)
        }
        Err(e) => {
            diag::warning!("could not start the service thread: {}", diag::Chain(&e));
            None
        }
    };
    *slot = Slot::Started(handle);
    PENDING.store(false, Ordering::SeqCst);
}

/// Starts a thread named `name` running `f`. Not generic, so that the crate's threads share
/// one copy of the standard library's spawn machinery (a few KiB per closure type).
pub(super) fn spawn_named(name: &str, f: Box<dyn FnOnce() + Send>) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name(name.to_owned()).spawn(f)
}

/// Ends the run's thread, if it started, and waits for it; a prepared one never starts.
pub(super) fn stop() {
    let thread = {
        let mut slot = SLOT.lock().unwrap_or_else(|p| p.into_inner());
        PENDING.store(false, Ordering::SeqCst);
        match std::mem::replace(&mut *slot, Slot::None) {
            Slot::Started(handle) => handle,
            Slot::None | Slot::Pending(..) => None,
        }
    };
    state::THREAD_RUNNING.store(false, Ordering::SeqCst);
    if let Some(thread) = thread {
        QUIT.store(true, Ordering::SeqCst);
        signal::wake();
        let _ = thread.join();
    }
}

fn run(wake: BorrowedFd<'static>, Serve { watchdog, on_stop, sync_name }: Serve) {
    let period = watchdog.map(ping_period);
    let mut hint = sync_name;
    let mut next_ping = period.map(|p| Instant::now() + p);
    let mut stop_handled = false;
    let mut reloads_seen = 0;
    let mut buf = [0u8; 64];
    loop {
        let timeout = next_ping.map(|t| t.saturating_duration_since(Instant::now()));
        // While the outbox holds something, room in the manager's queue wakes us too.
        let socket = outbox::waiting().map(|s| (s, sys::POLLOUT));
        match sys::poll2((wake, sys::POLLIN), socket, timeout) {
            Ok((woken, _)) => {
                if woken != 0 {
                    let _ = sys::read(wake, &mut buf);
                }
            }
            Err(e) => {
                diag::warning!("service thread stopped: {}", diag::Chain(&e));
                state::THREAD_RUNNING.store(false, Ordering::SeqCst);
                return;
            }
        }
        if QUIT.load(Ordering::SeqCst) {
            return;
        }
        if !stop_handled && state::stop_requested() {
            stop_handled = true;
            // Wake first: the service's own shutdown never waits for the manager.
            SHUTDOWN_WAITERS.wake_all();
            state::wake_main_task();
            run::send_stopping_once();
            if on_stop == OnStop::Exit {
                run::exit_now();
            }
        }
        if signal::take_failed_reloading_sends() > 0 {
            outbox::send_states(&NotifyState::reloading_now(), "RELOADING=1");
        }
        let reloads = signal::reload_signals();
        if reloads != reloads_seen {
            reloads_seen = reloads;
            RELOAD_WAITERS.wake_all();
        }
        if let (Some(at), Some(period)) = (next_ping, period) {
            let now = Instant::now();
            if now >= at {
                next_ping = Some(now + period);
                if UNHEALTHY.load(Ordering::SeqCst) {
                    // No ping: the manager's watchdog is to fire unless health comes back.
                } else if pings_untied() {
                    if let Some(name) = hint.take() {
                        diag::warning!(
                            "watchdog pings come from the service thread until `{name}` first calls \
                             `service.heartbeat()`; until then a stuck `{name}` is not caught (call it in \
                             the loop to tie the pings to its progress)"
                        );
                    }
                    outbox::send(watchdog_message(), "WATCHDOG=1");
                } else {
                    WATCHDOG_DUE.store(true, Ordering::SeqCst);
                    state::wake_main_task();
                }
            }
        }
        outbox::flush_without_waiting();
    }
}
