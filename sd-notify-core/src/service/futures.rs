//! The futures of [`ServiceHandle::shutdown`](super::ServiceHandle::shutdown) and
//! [`ServiceHandle::reload_requested`](super::ServiceHandle::reload_requested). Each belongs to
//! one run and keeps its waker in a slot of [`waiters`](super::waiters) while it waits.

use std::future::Future;
use std::num::NonZeroU64;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::reload;
use super::state::{self, RELOAD_WAITERS, SHUTDOWN_WAITERS};
use super::waiters::Wait;

/// The future of [`ServiceHandle::shutdown`](crate::ServiceHandle::shutdown). While it waits
/// it holds one waker (the last task's that polled it), which it gives up when it completes
/// or is dropped.
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
    run: NonZeroU64,
    wait: Wait,
}

impl Shutdown {
    pub(super) fn new(run: NonZeroU64) -> Shutdown {
        Shutdown { run, wait: Wait::default() }
    }
}

impl Future for Shutdown {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let run = this.run;
        SHUTDOWN_WAITERS.poll(&mut this.wait, cx, || !state::is_live(run) || state::stop_requested())
    }
}

impl Drop for Shutdown {
    fn drop(&mut self) {
        SHUTDOWN_WAITERS.remove(&mut self.wait);
    }
}

/// The future of [`ServiceHandle::reload_requested`](crate::ServiceHandle::reload_requested).
/// While it waits it holds one waker (the last task's that polled it), which it gives up
/// when it completes or is dropped.
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
    run: NonZeroU64,
    wait: Wait,
}

impl ReloadRequested {
    pub(super) fn new(run: NonZeroU64) -> ReloadRequested {
        ReloadRequested { run, wait: Wait::default() }
    }
}

impl Future for ReloadRequested {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let run = this.run;
        if !state::is_live(run) {
            // Its service has ended: no reload will come, and no one needs to wake it.
            RELOAD_WAITERS.remove(&mut this.wait);
            return Poll::Pending;
        }
        RELOAD_WAITERS.poll(&mut this.wait, cx, || state::is_live(run) && reload::begin_round())
    }
}

impl Drop for ReloadRequested {
    fn drop(&mut self) {
        RELOAD_WAITERS.remove(&mut self.wait);
    }
}
