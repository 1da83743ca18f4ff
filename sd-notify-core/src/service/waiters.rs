//! The wakers of the futures that wait for one event ([`Shutdown`](super::Shutdown),
//! [`ReloadRequested`](super::ReloadRequested)): one slot per waiting future, taken at its
//! first `Pending` poll, updated in place when it is polled again, freed when it completes
//! or is dropped, and emptied all at once when the event fires. A poll costs the same with
//! one waiting future or a hundred thousand, and a dropped future leaves nothing behind.
//!
//! A slot is named by its index and an id that is never reused: a future whose slot was
//! emptied by [`Waiters::wake_all`] (and perhaps given to another future since) finds a
//! different id there, and takes a new slot instead of touching another future's.
//!
//! No waker is woken or dropped while the lock is held: waking runs the executor's code, and
//! dropping the last waker of a task can drop the task, whose futures' `Drop` takes this
//! same lock.

use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// The waiting futures of one event.
#[derive(Debug)]
pub(super) struct Waiters {
    inner: Mutex<Slab>,
}

#[derive(Debug)]
struct Slab {
    slots: Vec<Slot>,
    /// Indices of empty slots below `slots.len()`.
    free: Vec<usize>,
    /// The id the next slot gets (0 marks an empty slot).
    next_id: u64,
    /// Slots that hold a waker.
    live: usize,
}

#[derive(Debug)]
struct Slot {
    id: u64,
    waker: Option<Waker>,
}

/// A future's slot: where its waker is, while it waits. Owned by one future.
#[derive(Debug, Default)]
pub(super) struct Wait {
    key: Option<Key>,
}

#[derive(Debug, Clone, Copy)]
struct Key {
    index: usize,
    id: u64,
}

impl Waiters {
    pub(super) const fn new() -> Waiters {
        Waiters { inner: Mutex::new(Slab { slots: Vec::new(), free: Vec::new(), next_id: 1, live: 0 }) }
    }

    fn lock(&self) -> MutexGuard<'_, Slab> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Ready` when `condition` holds. Otherwise the waker goes into `wait`'s slot and the
    /// condition is checked again, so that an event between the first check and the
    /// registration is not lost (the event sets its condition before [`Waiters::wake_all`]).
    pub(super) fn poll(
        &self,
        wait: &mut Wait,
        cx: &mut Context<'_>,
        condition: impl Fn() -> bool,
    ) -> Poll<()> {
        if condition() {
            self.remove(wait);
            return Poll::Ready(());
        }
        let replaced = self.lock().register(&mut wait.key, cx.waker());
        drop(replaced); // outside the lock (see the module docs)
        if condition() {
            self.remove(wait);
            Poll::Ready(())
        } else {
            // Someone waits on the run (perhaps before READY): the thread wakes it.
            super::thread::ensure();
            Poll::Pending
        }
    }

    /// Frees `wait`'s slot, if it still has one (a future that completes or is dropped).
    pub(super) fn remove(&self, wait: &mut Wait) {
        let Some(key) = wait.key.take() else { return };
        let removed = self.lock().remove(key);
        drop(removed); // outside the lock
    }

    /// Wakes every waiting future once and empties every slot.
    pub(super) fn wake_all(&self) {
        let slots = {
            let mut slab = self.lock();
            slab.free.clear();
            slab.live = 0;
            std::mem::take(&mut slab.slots)
        };
        slots.into_iter().filter_map(|s| s.waker).for_each(Waker::wake);
    }

    /// Drops every waker without waking it (a new run begins: what waited on an earlier
    /// one was woken when that one ended).
    pub(super) fn clear(&self) {
        let slots = {
            let mut slab = self.lock();
            slab.free.clear();
            slab.live = 0;
            std::mem::take(&mut slab.slots)
        };
        drop(slots); // outside the lock
    }

    /// How many futures wait (hold a waker).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.lock().live
    }
}

impl Slab {
    /// Puts `waker` into the slot `key` names, if it is still that future's (in place, and
    /// only when the waker changed), else into a new slot. Returns the waker it replaced.
    fn register(&mut self, key: &mut Option<Key>, waker: &Waker) -> Option<Waker> {
        if let Some(k) = *key {
            if let Some(slot) = self.slots.get_mut(k.index).filter(|s| s.id == k.id) {
                return match &slot.waker {
                    Some(w) if w.will_wake(waker) => None,
                    _ => slot.waker.replace(waker.clone()),
                };
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        let slot = Slot { id, waker: Some(waker.clone()) };
        let index = match self.free.pop() {
            Some(index) => {
                self.slots[index] = slot;
                index
            }
            None => {
                self.slots.push(slot);
                self.slots.len() - 1
            }
        };
        self.live += 1;
        *key = Some(Key { index, id });
        None
    }

    /// Empties the slot `key` names if it is still that future's; returns its waker.
    fn remove(&mut self, key: Key) -> Option<Waker> {
        let slot = self.slots.get_mut(key.index).filter(|s| s.id == key.id)?;
        slot.id = 0;
        let waker = slot.waker.take();
        self.live -= 1;
        if self.live == 0 {
            // Nothing waits: give the memory of a past crowd back.
            self.slots = Vec::new();
            self.free = Vec::new();
        } else {
            self.free.push(key.index);
        }
        waker
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use super::super::testing::{Counts, Probe};
    use super::*;

    fn poll(waiters: &Waiters, wait: &mut Wait, waker: &Waker, flag: &AtomicBool) -> Poll<()> {
        waiters.poll(wait, &mut Context::from_waker(waker), || flag.load(Ordering::SeqCst))
    }

    #[test]
    fn a_slot_is_taken_once_updated_in_place_and_freed() {
        let (waiters, flag, counts) = (Waiters::new(), AtomicBool::new(false), Arc::new(Counts::default()));
        let mut wait = Wait::default();
        let a = Probe::waker(&counts);
        assert!(poll(&waiters, &mut wait, &a, &flag).is_pending());
        assert!(poll(&waiters, &mut wait, &a, &flag).is_pending());
        assert_eq!(waiters.len(), 1, "polled again with the same waker: the same slot");
        let b = Probe::waker(&counts);
        drop(a);
        assert!(poll(&waiters, &mut wait, &b, &flag).is_pending());
        assert_eq!(waiters.len(), 1, "another waker replaces the old one in place");
        assert_eq!(counts.alive(), 1, "the replaced waker is dropped (b is alive, held by the slot and us)");
        waiters.remove(&mut wait);
        assert_eq!(waiters.len(), 0);
        drop(b);
        assert_eq!(counts.alive(), 0);
    }

    #[test]
    fn an_emptied_slot_given_to_another_future_is_not_touched_by_its_first_owner() {
        let (waiters, flag, counts) = (Waiters::new(), AtomicBool::new(false), Arc::new(Counts::default()));
        let (mut first, mut second) = (Wait::default(), Wait::default());
        let w = Probe::waker(&counts);
        assert!(poll(&waiters, &mut first, &w, &flag).is_pending());
        waiters.wake_all();
        assert!(poll(&waiters, &mut second, &w, &flag).is_pending()); // reuses index 0
        waiters.remove(&mut first); // stale: must leave `second`'s slot alone
        assert_eq!(waiters.len(), 1);
        assert!(poll(&waiters, &mut first, &w, &flag).is_pending()); // a new slot
        assert_eq!(waiters.len(), 2);
        waiters.wake_all();
        assert_eq!(counts.woken(), 3);
        assert_eq!(waiters.len(), 0);
    }

    #[test]
    fn a_future_ready_on_its_second_check_keeps_no_slot() {
        let (waiters, counts) = (Waiters::new(), Arc::new(Counts::default()));
        let checks = AtomicUsize::new(0);
        let mut wait = Wait::default();
        let w = Probe::waker(&counts);
        // The event comes between the first check and the registration.
        let ready = waiters
            .poll(&mut wait, &mut Context::from_waker(&w), || checks.fetch_add(1, Ordering::SeqCst) > 0);
        assert!(ready.is_ready());
        assert_eq!(waiters.len(), 0);
        drop(w);
        assert_eq!(counts.alive(), 0);
    }
}
