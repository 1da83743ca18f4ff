//! Zero heap allocations per notification, counted by a global allocator that counts per
//! thread: only the sending thread's allocations are measured; the receiver (which
//! allocates) drains on another thread.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::os::fd::AsFd;

use common::WAIT;
use sd_notify_core::{Message, Notifier, NotifyState, Receiver, SendOptions};

struct CountingAllocator;

thread_local! {
    // Const-initialised and without destructor: safe to touch from inside the allocator.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn note_allocation() {
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every method forwards to the system allocator with the same arguments; counting
// touches only a thread-local Cell, which does not allocate.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Allocations made by this thread while running `f`.
fn allocations_in(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

const N: usize = 1000;

#[test]
fn the_counter_counts() {
    // The instrument itself: an allocation on this thread is seen, one on another is not.
    assert_eq!(allocations_in(|| drop(black_box(Box::new(7u64)))), 1);
    assert_eq!(allocations_in(|| drop(black_box(vec![1u8; 3]))), 1);
    assert!(allocations_in(|| drop(black_box(format!("{}", black_box(12345))))) >= 1);
    let mut other = 0;
    let mine = allocations_in(|| {
        std::thread::scope(|s| {
            other = s
                .spawn(|| allocations_in(|| (0..1000).for_each(|_| drop(black_box(Box::new(1u8))))))
                .join()
                .unwrap();
        })
    });
    assert_eq!(other, 1000);
    // Spawning allocates a little on this thread, but the child's 1000 boxes are not counted here.
    assert!(mine < 100, "{mine}");
}

/// Runs `send` N times on this thread while another thread drains `receiver`; returns the
/// allocations of this thread.
fn measure(receiver: &Receiver, per_round: usize, mut send: impl FnMut()) -> u64 {
    std::thread::scope(|s| {
        let drain = s.spawn(|| {
            for i in 0..N * per_round {
                receiver.recv_timeout(WAIT).unwrap_or_else(|e| panic!("datagram {i}: {e}"));
            }
        });
        let count = allocations_in(|| {
            for _ in 0..N {
                send();
            }
        });
        drain.join().unwrap();
        count
    })
}

fn warmed_up() -> (Receiver, Notifier) {
    let receiver = Receiver::bind_unique_abstract().unwrap();
    let notifier = Notifier::new(receiver.address().clone()).unwrap();
    // The first send creates the socket.
    notifier.notify(&[NotifyState::Ready]).unwrap();
    receiver.recv_timeout(WAIT).unwrap();
    (receiver, notifier)
}

#[test]
fn send_of_a_prepared_message_allocates_nothing() {
    let (receiver, notifier) = warmed_up();
    let msg = Message::from_states(&[NotifyState::Ready, NotifyState::Status("serving")]).unwrap();
    assert_eq!(measure(&receiver, 1, || notifier.send(black_box(&msg)).unwrap()), 0);
}

#[test]
fn notify_allocates_nothing() {
    let (receiver, notifier) = warmed_up();
    assert_eq!(measure(&receiver, 1, || notifier.notify(black_box(&[NotifyState::Watchdog])).unwrap()), 0);
    let status = String::from("3 of 10 done");
    let count = measure(&receiver, 1, || {
        notifier
            .notify(black_box(&[NotifyState::Status(&status), NotifyState::ExtendTimeoutUsec(5_000_000)]))
            .unwrap()
    });
    assert_eq!(count, 0);
    let count = measure(&receiver, 1, || notifier.notify(&NotifyState::reloading_now()).unwrap());
    assert_eq!(count, 0);
}

#[test]
fn push_status_fmt_allocates_nothing() {
    let count = allocations_in(|| {
        for i in 0..N {
            let mut msg = Message::new();
            msg.push_status_fmt(format_args!("x {}", 5)).unwrap();
            msg.push_status_fmt(format_args!("x {}", 5)).unwrap_err(); // duplicate: the key is borrowed
            let mut msg = Message::new();
            msg.push_status_fmt(format_args!("{} of {:>6} {:.2}% {:?}", i, N, 1.5_f64, "q")).unwrap();
            black_box(msg.as_bytes());
        }
    });
    // Not even the DuplicateKey errors allocate: the crate's own keys are borrowed.
    assert_eq!(count, 0);
    let count = allocations_in(|| {
        for _ in 0..N {
            let mut msg = Message::new();
            msg.push_status_fmt(format_args!("x {}", 5)).unwrap();
            black_box(msg.as_bytes());
        }
    });
    assert_eq!(count, 0);
}

#[test]
fn status_fmt_sent_allocates_nothing() {
    let (receiver, notifier) = warmed_up();
    let mut i = 0;
    let count = measure(&receiver, 1, || {
        i += 1;
        let mut msg = Message::new();
        msg.push_status_fmt(format_args!("request {i} served")).unwrap();
        notifier.send(&msg).unwrap();
    });
    assert_eq!(count, 0);
}

#[test]
fn rejected_values_allocate_nothing() {
    let (receiver, notifier) = warmed_up();
    let count = allocations_in(|| {
        for _ in 0..N {
            notifier.notify(black_box(&[NotifyState::Status("x\nREADY=1")])).unwrap_err();
            notifier.notify(black_box(&[NotifyState::FdName("a:b")])).unwrap_err();
            notifier.notify(black_box(&[NotifyState::Errno(-1)])).unwrap_err();
        }
    });
    assert_eq!(count, 0);
    common::assert_nothing_queued(&receiver);
}

/// Every combination of `send_with`'s options. PID 1 always exists: root claims it, anyone
/// else takes the EPERM fallback (a second send); neither allocates.
#[test]
fn send_with_fds_and_on_behalf_of_allocate_nothing() {
    let (receiver, notifier) = warmed_up();
    let ready = Message::from_states(&[NotifyState::Ready]).unwrap();
    let pid = 1;
    assert_eq!(
        measure(&receiver, 1, || notifier.send_with(&ready, SendOptions::new().on_behalf_of(pid)).unwrap()),
        0
    );

    let (_r, w) = common::pipe();
    let fdstore = Message::from_states(&[NotifyState::FdStore, NotifyState::FdName("pipe")]).unwrap();
    assert_eq!(
        measure(&receiver, 1, || notifier.send_with(&fdstore, SendOptions::new().fds(&[w.as_fd()])).unwrap()),
        0
    );
    let both =
        || notifier.send_with(&fdstore, SendOptions::new().fds(&[w.as_fd()]).on_behalf_of(pid)).unwrap();
    assert_eq!(measure(&receiver, 1, both), 0);
}

#[test]
fn barrier_allocates_nothing() {
    let (receiver, notifier) = warmed_up();
    // The draining thread drops each barrier notification, which answers it.
    assert_eq!(measure(&receiver, 1, || notifier.barrier(WAIT).unwrap()), 0);
    assert_eq!(measure(&receiver, 1, || notifier.barrier_on_behalf_of(1, WAIT).unwrap()), 0);
}
