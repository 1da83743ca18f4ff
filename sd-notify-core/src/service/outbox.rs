//! The attribute's own messages (STATUS at start, READY, reload answers, pings, STOPPING):
//! sent at once when the manager's queue has room, otherwise queued, in order, for the
//! service thread, so that no caller ever waits on a manager that does not read.
//!
//! Over vsock every message needs a connection of its own, and a connect can take up to the
//! notifier's timeout: those messages are always queued, for a sender thread of their own,
//! so that neither the caller nor the service thread (which must stay free to handle
//! signals) ever waits for one.

use std::collections::VecDeque;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Instant;

use super::state;
use crate::diag;
use crate::message::Message;
use crate::notifier::Notifier;
use crate::state::NotifyState;
use crate::sys::signal;
use crate::{Error, default_notifier};

/// Messages waiting for room in the manager's queue, oldest first.
static QUEUE: Mutex<VecDeque<Box<Message>>> = Mutex::new(VecDeque::new());
/// Wakes the vsock sender when something is queued.
static QUEUED: Condvar = Condvar::new();
/// The last send failed (so a lasting failure is reported once, not at every ping).
static FAILING: AtomicBool = AtomicBool::new(false);

/// The manager to tell, when there is one and this is the service's process.
fn notifier() -> Option<&'static Notifier> {
    state::current()?;
    default_notifier().ok().flatten()
}

/// Sends `states` as one message without waiting; see [`send`].
pub(super) fn send_states(states: &[NotifyState<'_>], what: &str) {
    match Message::from_states(states) {
        Ok(msg) => send(msg, what),
        Err(e) => diag::warning!("{what} not sent: {}", diag::Chain(&e)),
    }
}

/// Sends `msg` now if the manager's queue has room and nothing is queued before it; else
/// queues it for the service thread. `what` names it in the warning if it fails.
pub(super) fn send(msg: Message, what: &str) {
    let Some(notifier) = notifier() else { return };
    if notifier.is_vsock() {
        start_vsock_sender(notifier);
    }
    let mut queue = QUEUE.lock().unwrap_or_else(|p| p.into_inner());
    if is_ping(&msg) && queue.iter().any(|queued| is_ping(queued)) {
        // A ping already waits: when the manager reads again, one is as good as many, and
        // a pile of late pings would only delay what follows them (STOPPING=1).
        return;
    }
    if notifier.is_vsock() {
        queue.push_back(Box::new(msg));
        QUEUED.notify_one();
        return;
    }
    if queue.is_empty() {
        match notifier.send_without_waiting(&msg) {
            Ok(true) => return report(Ok(()), what),
            Ok(false) => {}
            Err(e) => return report(Err(e), what),
        }
    }
    queue.push_back(Box::new(msg));
    drop(queue);
    // The thread sends it when the manager reads again (it may not have started yet).
    super::thread::ensure();
    signal::wake();
}

/// `WATCHDOG=1` alone.
fn is_ping(msg: &Message) -> bool {
    msg.as_bytes() == b"WATCHDOG=1"
}

/// The socket to watch for room, when something waits in the queue for the service thread.
pub(super) fn waiting() -> Option<BorrowedFd<'static>> {
    if QUEUE.lock().unwrap_or_else(|p| p.into_inner()).is_empty() {
        return None;
    }
    notifier().filter(|n| !n.is_vsock()).and_then(Notifier::handler_socket)
}

/// The service thread's part: sends what is queued while the manager's queue has room.
pub(super) fn flush_without_waiting() {
    let Some(notifier) = notifier() else { return clear() };
    if notifier.is_vsock() {
        return; // the vsock sender's part
    }
    let mut queue = QUEUE.lock().unwrap_or_else(|p| p.into_inner());
    while let Some(msg) = queue.front() {
        let result = match notifier.send_without_waiting(msg) {
            Ok(true) => Ok(()),
            Ok(false) => return, // still full: the thread waits for POLLOUT
            Err(e) => Err(e),
        };
        report(result, "a queued message");
        queue.pop_front();
    }
}

/// Starts, once per process, the thread that sends the queue over vsock, one connection per
/// message, each bounded by the notifier's timeout.
fn start_vsock_sender(notifier: &'static Notifier) {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        let spawned = super::thread::spawn_named(
            "sd-service-vsock",
            Box::new(move || {
                loop {
                    let msg = {
                        let mut queue = QUEUE.lock().unwrap_or_else(|p| p.into_inner());
                        loop {
                            match queue.pop_front() {
                                Some(msg) => break msg,
                                None => queue = QUEUED.wait(queue).unwrap_or_else(|p| p.into_inner()),
                            }
                        }
                    };
                    report(notifier.send(&msg), "a queued message");
                }
            }),
        );
        if let Err(e) = spawned {
            diag::warning!("could not start the vsock sender: {}", diag::Chain(&e));
        }
    });
}

/// The exit's part: sends what is queued, then `last`, waiting for room until `deadline`.
pub(super) fn flush_before(last: Option<Message>, deadline: Instant) {
    let Some(notifier) = notifier() else { return clear() };
    let mut queue = QUEUE.lock().unwrap_or_else(|p| p.into_inner());
    queue.extend(last.map(Box::new));
    while let Some(msg) = queue.pop_front() {
        if let Err(e) = notifier.send_before(msg.as_bytes(), &[], deadline) {
            diag::warning!(
                "{} message(s) not sent before the exit deadline: {}",
                queue.len() + 1,
                diag::Chain(&e)
            );
            queue.clear();
            return;
        }
    }
}

/// Forgets what is queued (a new service starts afresh).
pub(super) fn clear() {
    QUEUE.lock().unwrap_or_else(|p| p.into_inner()).clear();
}

fn report(result: Result<(), Error>, what: &str) {
    match result {
        Ok(()) => FAILING.store(false, Ordering::Relaxed),
        Err(e) => {
            if !FAILING.swap(true, Ordering::Relaxed) {
                diag::warning!("{what} could not be sent: {}", diag::Chain(&e));
            }
        }
    }
}
