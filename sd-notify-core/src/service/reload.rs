//! Reload rounds. SIGHUPs are counted by the handler (which also sends `RELOADING=1` with
//! `MONOTONIC_USEC=` at once). A round begins when the service picks the request up
//! ([`begin_round`]) and covers the SIGHUPs seen until then; its answer ([`answer`]) covers
//! exactly those. A SIGHUP that arrives while a round runs is left for the next round, which
//! announces itself again, since the manager took the previous answer's `READY=1` as the end
//! of the reload that SIGHUP's `RELOADING=1` had begun.

use std::sync::Mutex;
use std::sync::atomic::Ordering;

use super::{outbox, state};
use crate::state::NotifyState;
use crate::sys::signal;

#[derive(Debug, Default)]
struct Rounds {
    /// SIGHUPs answered so far.
    answered: u32,
    /// The SIGHUPs the round under way covers (`None`: no round under way).
    round: Option<u32>,
    /// The next round must send `RELOADING=1` itself (see the module docs).
    announce: bool,
}

static ROUNDS: Mutex<Rounds> = Mutex::new(Rounds { answered: 0, round: None, announce: false });

fn rounds() -> std::sync::MutexGuard<'static, Rounds> {
    ROUNDS.lock().unwrap_or_else(|p| p.into_inner())
}

pub(super) fn reset() {
    *rounds() = Rounds::default();
}

/// Whether a reload is to be done now; begins a round when one is pending.
pub(super) fn begin_round() -> bool {
    let mut r = rounds();
    if r.round.is_some() {
        return true;
    }
    let seen = signal::reload_signals();
    if seen <= r.answered {
        return false;
    }
    r.round = Some(seen);
    if std::mem::take(&mut r.announce) && !state::stop_requested() {
        outbox::send_states(&NotifyState::reloading_now(), "RELOADING=1");
    }
    true
}

/// Answers the round under way (or, if none was begun, every pending request) with
/// `READY=1` and `status`. `false`, and nothing sent, when no reload was pending. Before
/// the service is ready, nothing is sent either: its `READY=1` comes after `#[ready]`. Nor
/// once it is stopping: the manager has (or is about to get) `STOPPING=1` and stops the unit
/// whatever the reload did; a `READY=1` would put the running status back on a unit that is
/// going down (`systemctl stop` during a reload, e2e case `s2_stop_during_reload`).
pub(super) fn answer(status: Option<&str>) -> bool {
    let mut r = rounds();
    let covers = match r.round.take() {
        Some(covers) => covers,
        None => signal::reload_signals(),
    };
    if covers <= r.answered {
        return false;
    }
    r.answered = covers;
    if state::READY_SENT.load(Ordering::SeqCst) && !state::stop_requested() {
        match status {
            Some(s) => {
                outbox::send_states(&[NotifyState::Ready, NotifyState::Status(s)], "READY=1 (reload done)")
            }
            None => outbox::send_states(&[NotifyState::Ready], "READY=1 (reload done)"),
        }
    }
    // Read after the answer went out: a SIGHUP whose RELOADING=1 the manager saw before this
    // READY=1 needs a round that announces itself.
    if signal::reload_signals() > covers {
        r.announce = true;
        drop(r);
        state::RELOAD_WAITERS.wake_all();
    }
    true
}
