//! The `sd-service` thread: sleeps on the signal pipe, the watchdog timer (only when the
//! manager asked for one) and, while the outbox holds something, the socket; turns what the
//! handlers recorded into wake-ups and sends. It never waits on the manager.

use std::os::fd::BorrowedFd;
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

pub(super) fn spawn(wake: BorrowedFd<'static>, serve: Serve) -> std::io::Result<JoinHandle<()>> {
    QUIT.store(false, Ordering::SeqCst);
    std::thread::Builder::new().name("sd-service".into()).spawn(move || run(wake, serve))
}

/// Ends the thread and waits for it.
pub(super) fn stop(thread: JoinHandle<()>) {
    QUIT.store(true, Ordering::SeqCst);
    signal::wake();
    let _ = thread.join();
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
