//! `Notifier::barrier` (and `barrier_on_behalf_of`, whose credentials are tested in
//! `fds_and_credentials.rs`): `BARRIER=1` alone with one descriptor; Ok once the receiver
//! closes it, `Error::Timeout` while the receiver holds it or never reads.

mod common;

use std::os::fd::AsFd;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{WAIT, assert_from_us, both_kinds, is_cloexec, pair, recv};
use sd_notify_core::{Error, Notifier, NotifyAddress, NotifyState, Receiver};

/// Timeouts the barrier is expected to hit.
const SHORT: Duration = Duration::from_millis(300);

#[track_caller]
fn assert_timeout(result: Result<(), Error>, started: Instant) {
    let elapsed = started.elapsed();
    assert!(matches!(result, Err(Error::Timeout)), "expected Error::Timeout, got {result:?}");
    // It did wait (poll never returns before its timeout)...
    assert!(elapsed >= SHORT.mul_f64(0.9), "returned after {elapsed:?}, before the timeout");
    // ...and it did not hang (a loose bound against hangs only, not a speed check).
    assert!(elapsed < WAIT, "took {elapsed:?}");
}

#[test]
fn barrier_returns_once_the_receiver_has_processed_everything_before_it() {
    for (receiver, notifier) in both_kinds() {
        std::thread::scope(|s| {
            let manager = s.spawn(|| {
                let first = recv(&receiver);
                let second = recv(&receiver);
                let barrier = recv(&receiver);
                // Earlier messages come first.
                assert_eq!(first.bytes(), b"READY=1");
                assert_eq!(second.bytes(), b"STATUS=about to exit");
                // The barrier: alone, one descriptor, close-on-exec, no states.
                assert_eq!(barrier.bytes(), b"BARRIER=1");
                assert!(barrier.is_barrier());
                assert_eq!(barrier.states(), []);
                assert_eq!(barrier.fds().len(), 1);
                assert!(is_cloexec(barrier.fds()[0].as_fd()));
                assert_from_us(&barrier);
                // Dropping it closes the descriptor: the barrier is answered.
            });
            notifier.notify(&[NotifyState::Ready]).unwrap();
            notifier.notify(&[NotifyState::Status("about to exit")]).unwrap();
            notifier.barrier(WAIT).expect("barrier answered");
            manager.join().unwrap();
        });
        common::assert_nothing_queued(&receiver);
    }
}

#[test]
fn barrier_is_answered_when_only_the_descriptor_is_closed() {
    let (receiver, notifier) = pair();
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::channel::<()>();
        s.spawn(move || {
            let mut n = recv(&receiver);
            assert!(n.is_barrier());
            drop(n.take_fds());
            // Keep the notification itself until the barrier returned.
            rx.recv_timeout(WAIT).ok();
            drop(n);
        });
        notifier.barrier(WAIT).expect("closing the descriptor answers the barrier");
        tx.send(()).unwrap();
    });
}

#[test]
fn barrier_times_out_while_the_receiver_holds_the_descriptor() {
    let (receiver, notifier) = pair();
    std::thread::scope(|s| {
        let (got_tx, got_rx) = mpsc::channel::<()>();
        let (done_tx, done_rx) = mpsc::channel::<()>();
        s.spawn(move || {
            let n = recv(&receiver);
            assert!(n.is_barrier());
            got_tx.send(()).unwrap();
            // Hold the descriptor until the barrier timed out.
            done_rx.recv_timeout(WAIT).expect("main thread finished");
            drop(n);
        });
        let started = Instant::now();
        let result = notifier.barrier(SHORT);
        got_rx.recv_timeout(WAIT).expect("the receiver got the barrier");
        assert_timeout(result, started);
        done_tx.send(()).unwrap();
    });
}

#[test]
fn barrier_times_out_when_the_receiver_never_reads_then_works_once_it_does() {
    let (receiver, notifier) = pair();
    let started = Instant::now();
    assert_timeout(notifier.barrier(SHORT), started);

    // The unanswered barrier is still queued, with its descriptor.
    let stale = recv(&receiver);
    assert!(stale.is_barrier());
    assert_eq!(stale.fds().len(), 1);
    drop(stale);
    common::assert_nothing_queued(&receiver);

    // A reading receiver answers the next one.
    std::thread::scope(|s| {
        s.spawn(|| assert!(recv(&receiver).is_barrier()));
        notifier.barrier(WAIT).unwrap();
    });
}

#[test]
fn barrier_on_behalf_of_times_out_like_barrier_and_its_message_stays_queued() {
    let (receiver, notifier) = pair();
    let started = Instant::now();
    // PID 1 always exists: root claims it, anyone else falls back to ours.
    assert_timeout(notifier.barrier_on_behalf_of(1, SHORT), started);
    let stale = recv(&receiver);
    assert_eq!(stale.bytes(), b"BARRIER=1");
    assert_eq!(stale.fds().len(), 1);
    // SAFETY: geteuid has no preconditions.
    let claimed = if unsafe { libc::geteuid() } == 0 { 1 } else { std::process::id() };
    assert_eq!(stale.pid(), Some(claimed));
    drop(stale);
    common::assert_nothing_queued(&receiver);
}

/// A timeout too long to represent as a deadline (`Duration::MAX`) waits as long as it
/// takes; it must not panic on the `Instant` overflow.
#[test]
fn a_barrier_timeout_of_duration_max_does_not_panic() {
    let (receiver, notifier) = pair();
    std::thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..2 {
                assert!(recv(&receiver).is_barrier());
            }
        });
        notifier.barrier(Duration::MAX).unwrap();
        notifier.barrier_on_behalf_of(0, Duration::MAX).unwrap();
    });
    common::assert_nothing_queued(&receiver);
}

#[test]
fn barrier_without_a_listener_is_an_io_error_not_a_hang() {
    // The socket file exists but nobody listens.
    let path = std::env::temp_dir().join(format!("sd-notify-barrier-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    drop(std::os::unix::net::UnixDatagram::bind(&path).unwrap());
    let notifier = Notifier::new(NotifyAddress::from_path(path.clone()).unwrap()).unwrap();
    let started = Instant::now();
    let err = notifier.barrier(WAIT).unwrap_err();
    assert_eq!(common::io_errno(&err), libc::ECONNREFUSED, "{err:?}");
    assert!(started.elapsed() < WAIT);
    std::fs::remove_file(&path).unwrap();

    // An abstract name nobody bound.
    let receiver = Receiver::bind_unique_abstract().unwrap();
    let address = receiver.address().clone();
    drop(receiver);
    let err = Notifier::new(address).unwrap().barrier(WAIT).unwrap_err();
    assert_eq!(common::io_errno(&err), libc::ECONNREFUSED, "{err:?}");
}

#[test]
fn barrier_leaves_no_pipe_behind() {
    let (receiver, notifier) = pair();
    // Warm up: the first send creates the notifier's socket.
    notifier.notify(&[NotifyState::Ready]).unwrap();
    recv(&receiver);
    let pipes_before = count_pipes();
    std::thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..20 {
                assert!(recv(&receiver).is_barrier());
            }
        });
        for _ in 0..20 {
            notifier.barrier(WAIT).unwrap();
        }
    });
    // Pipes opened by other tests running concurrently could only add to the count; a leak
    // of 20 barriers would show as 20 more.
    let pipes_after = count_pipes();
    assert!(pipes_after < pipes_before + 20, "{pipes_before} pipes before, {pipes_after} after");
}

fn count_pipes() -> usize {
    common::open_fds()
        .into_iter()
        .filter(|fd| {
            std::fs::read_link(format!("/proc/self/fd/{fd}"))
                .is_ok_and(|l| l.to_string_lossy().starts_with("pipe:"))
        })
        .count()
}
