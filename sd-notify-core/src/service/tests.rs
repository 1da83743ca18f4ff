//! The handle and its futures against the process-wide state (runs begun without the
//! attribute, see [`FakeRun`]): what a waiting future holds, what a fired event wakes, and
//! what a handle does once its run has ended.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, mpsc};
use std::task::Poll;
use std::time::Duration;

use super::ServiceHandle;
use super::state::{RELOAD_WAITERS, SHUTDOWN_WAITERS};
use super::testing::{Counts, FakeRun, Probe, block_on, poll_once, turn};

/// The documented per-connection pattern: each task selects on a `shutdown()` of its own,
/// is polled while it waits, and finishes (the future dropped) before any stop.
#[test]
fn dropped_futures_leave_no_waker_behind() {
    const TASKS: usize = 20_000;
    let _turn = turn();
    let (_run, service) = FakeRun::begin();
    let counts = Arc::new(Counts::default());
    for _ in 0..TASKS {
        let task = Probe::waker(&counts);
        let mut shutdown = service.shutdown();
        let mut reload = service.reload_requested();
        assert!(poll_once(&mut shutdown, &task).is_pending());
        assert!(poll_once(&mut reload, &task).is_pending());
        assert!(poll_once(&mut shutdown, &task).is_pending(), "polled again: same slot");
    }
    assert_eq!(SHUTDOWN_WAITERS.len(), 0);
    assert_eq!(RELOAD_WAITERS.len(), 0);
    assert_eq!(counts.alive(), 0, "every task's waker was dropped with its future");
    assert_eq!(counts.woken(), 0);
}

#[test]
fn a_stop_wakes_each_waiting_future_once_and_they_complete() {
    const TASKS: usize = 1_000;
    let _turn = turn();
    let (run, service) = FakeRun::begin();
    let counts = Arc::new(Counts::default());
    let mut waiting: Vec<_> = (0..TASKS).map(|_| (Probe::waker(&counts), service.shutdown())).collect();
    for _ in 0..3 {
        for (task, shutdown) in &mut waiting {
            assert!(poll_once(shutdown, task).is_pending());
        }
    }
    assert_eq!(SHUTDOWN_WAITERS.len(), TASKS, "one slot per future, however often polled");
    assert_eq!(counts.alive(), TASKS, "every task alive: held here and by its slot");
    run.stop();
    assert_eq!(counts.woken(), TASKS, "each woken exactly once");
    assert_eq!(SHUTDOWN_WAITERS.len(), 0);
    for (task, shutdown) in &mut waiting {
        assert_eq!(poll_once(shutdown, task), Poll::Ready(()));
    }
    drop(waiting);
    assert_eq!(counts.alive(), 0);
    assert_eq!(counts.woken(), TASKS, "and never again");
}

#[test]
fn the_end_of_a_run_completes_its_shutdown_futures_and_frees_its_reload_waiters() {
    let _turn = turn();
    let (run, service) = FakeRun::begin();
    let counts = Arc::new(Counts::default());
    let task = Probe::waker(&counts);
    let (mut shutdown, mut reload) = (service.shutdown(), service.reload_requested());
    assert!(poll_once(&mut shutdown, &task).is_pending());
    assert!(poll_once(&mut reload, &task).is_pending());
    drop(run); // the annotated fn returned without a stop
    assert_eq!(counts.woken(), 2, "both woken by the end");
    assert_eq!(poll_once(&mut shutdown, &task), Poll::Ready(()));
    assert!(poll_once(&mut reload, &task).is_pending(), "no reload comes after the end");
    assert_eq!((SHUTDOWN_WAITERS.len(), RELOAD_WAITERS.len()), (0, 0), "and nothing is kept for it");
    drop(task);
    assert_eq!(counts.alive(), 0);
}

#[test]
fn current_is_some_only_while_a_run_is_under_way() {
    let _turn = turn();
    assert!(ServiceHandle::current().is_none());
    let (run, _service) = FakeRun::begin();
    assert!(ServiceHandle::current().is_some());
    drop(run);
    assert!(ServiceHandle::current().is_none());
}

#[test]
fn a_handle_kept_after_its_run_answers_stopped_and_never_acts_on_the_next_run() {
    let _turn = turn();
    let (first, old) = FakeRun::begin();
    assert!(!old.is_stopping() && old.is_healthy());
    drop(first);
    assert!(old.is_stopping());
    assert!(!old.is_healthy());
    assert_eq!(old.watchdog(), None);
    assert!(old.set_status("a\nb").is_err(), "the text is still checked");

    let (second, new) = FakeRun::begin();
    assert!(old.is_stopping(), "still stopped while another run is under way");
    assert!(!new.is_stopping());
    old.stop();
    old.mark_unhealthy();
    assert!(!new.is_stopping(), "an old handle's stop does not stop the new run");
    assert!(new.is_healthy(), "nor does its health mark reach it");
    assert!(!old.reload_pending() && !old.reload_done() && !old.reload_failed("x"));
    let counts = Arc::new(Counts::default());
    let task = Probe::waker(&counts);
    assert_eq!(poll_once(&mut old.shutdown(), &task), Poll::Ready(()));
    assert!(poll_once(&mut old.reload_requested(), &task).is_pending());
    let mut waiting = new.shutdown();
    assert!(poll_once(&mut waiting, &task).is_pending(), "the new run's futures wait");
    assert_eq!(SHUTDOWN_WAITERS.len(), 1);
    second.stop();
    assert_eq!(poll_once(&mut waiting, &task), Poll::Ready(()));
}

/// Threads that make and drop futures while others wait and a stop comes at any moment:
/// every waiting thread is woken (no wake-up lost between its check and its registration),
/// and nothing is left behind. Many rounds, to meet the races.
#[test]
fn threads_racing_a_stop_are_all_woken_and_leave_nothing() {
    const THREADS: usize = 8;
    const ROUNDS: usize = 200;
    let _turn = turn();
    for round in 0..ROUNDS {
        let (run, service) = FakeRun::begin();
        let start = Arc::new(Barrier::new(THREADS + 1));
        let churned = Arc::new(AtomicUsize::new(0));
        let (done, results) = mpsc::channel();
        for t in 0..THREADS {
            let (start, churned, done) = (Arc::clone(&start), Arc::clone(&churned), done.clone());
            std::thread::spawn(move || {
                start.wait();
                let counts = Arc::new(Counts::default());
                // Finished connections: a future polled, then dropped, as the stop comes.
                for _ in 0..(t * 50 + round % 7) {
                    let mut shutdown = service.shutdown();
                    let _ = poll_once(&mut shutdown, &Probe::waker(&counts));
                }
                churned.fetch_add(1, Ordering::SeqCst);
                let waited = block_on(service.shutdown(), Duration::from_secs(10));
                let _ = done.send((waited, counts));
            });
        }
        start.wait();
        // The stop lands anywhere from before the first registration to after the last.
        for _ in 0..(round * 37 % 2_000) {
            std::hint::spin_loop();
        }
        run.stop();
        for _ in 0..THREADS {
            let (waited, counts) = results.recv_timeout(Duration::from_secs(20)).expect("a thread hung");
            assert_eq!(waited, Ok(()), "round {round}: a waiting thread was never woken");
            // Read after `stop()` returned: the wake-ups it made are over.
            assert_eq!(counts.alive(), 0, "round {round}: a dropped future kept its waker");
        }
        assert_eq!(churned.load(Ordering::SeqCst), THREADS);
        assert_eq!(SHUTDOWN_WAITERS.len(), 0, "round {round}");
    }
}
