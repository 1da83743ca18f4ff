//! The future wrapping an async body: it sends the due watchdog pings whenever it is
//! polled (so the pings follow the body's progress), and drops the body on a stop signal
//! when `main` takes no handle.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use super::handle::ping_if_due;
use super::state::{self, MAIN_TASK, PINGS_TIED};

/// What became of an async body.
#[doc(hidden)]
#[derive(Debug)]
pub enum Supervised<R> {
    /// The body returned this.
    Finished(R),
    /// A stop signal came and `main` takes no handle: the body was dropped.
    Stopped,
}

/// Wraps an async `main` body; see the module docs.
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
        let rt = state::current();
        let drop_on_stop = rt.is_some_and(|r| !r.config.takes_handle);
        if rt.is_some_and(|r| r.watchdog.is_some()) || drop_on_stop {
            let mut main = MAIN_TASK.lock().unwrap_or_else(|p| p.into_inner());
            if !main.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *main = Some(cx.waker().clone());
            }
        }
        PINGS_TIED.store(true, Ordering::SeqCst);
        ping_if_due();
        if drop_on_stop && state::stop_requested() {
            this.body = None;
            return Poll::Ready(Supervised::Stopped);
        }
        let poll = match this.body.as_mut() {
            Some(body) => body.as_mut().poll(cx).map(Supervised::Finished),
            None => Poll::Ready(Supervised::Stopped),
        };
        if drop_on_stop && poll.is_pending() {
            // The body waits (perhaps before READY): a stop must reach this task.
            super::thread::ensure();
        }
        poll
    }
}
