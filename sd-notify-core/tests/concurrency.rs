//! One `Notifier` shared by many threads: every datagram arrives intact, none lost, none
//! mixed, per-thread order kept; the socket is created once even when the first sends race.

mod common;

use std::sync::Barrier;

use common::{WAIT, assert_nothing_queued, recv};
use sd_notify_core::{Notifier, NotifyState, Receiver, SendOptions};

const THREADS: usize = 8;
const PER_THREAD: usize = 2000;

fn assert_sync<T: Send + Sync>() {}

#[test]
fn notifier_is_send_and_sync() {
    assert_sync::<Notifier>();
    assert_sync::<sd_notify_core::Message>();
}

#[test]
fn eight_threads_share_one_notifier_without_loss_or_mixing() {
    for receiver in [Receiver::bind_unique_abstract().unwrap(), Receiver::bind_unique_path().unwrap()] {
        let notifier = Notifier::new(receiver.address().clone()).unwrap();
        let mut next_seq = [0usize; THREADS];
        let start = Barrier::new(THREADS);
        std::thread::scope(|s| {
            let drain = s.spawn(|| {
                let mut got = Vec::with_capacity(THREADS * PER_THREAD);
                for _ in 0..THREADS * PER_THREAD {
                    let n = receiver.recv_timeout(WAIT).expect("datagram lost: receive timed out");
                    common::assert_from_us(&n);
                    got.push(n.bytes().to_vec());
                }
                got
            });
            for t in 0..THREADS {
                let (notifier, start) = (&notifier, &start);
                s.spawn(move || {
                    let thread = t.to_string();
                    start.wait();
                    for i in 0..PER_THREAD {
                        let seq = i.to_string();
                        notifier
                            .notify(&[
                                NotifyState::Extension { key: "X_THREAD", value: &thread },
                                NotifyState::Extension { key: "X_SEQ", value: &seq },
                            ])
                            .unwrap_or_else(|e| panic!("thread {t} send {i}: {e}"));
                    }
                });
            }
            for bytes in drain.join().unwrap() {
                let text = std::str::from_utf8(&bytes).unwrap();
                let (t, i) = text
                    .strip_prefix("X_THREAD=")
                    .and_then(|rest| rest.split_once("\nX_SEQ="))
                    .unwrap_or_else(|| panic!("mixed or damaged datagram {text:?}"));
                let (t, i): (usize, usize) = (t.parse().unwrap(), i.parse().unwrap());
                assert_eq!(i, next_seq[t], "thread {t}: out of order or lost");
                next_seq[t] += 1;
            }
        });
        assert_eq!(next_seq, [PER_THREAD; THREADS]);
        assert_nothing_queued(&receiver);
        assert_eq!(common::fds_connected_to(receiver.address()).len(), 1, "one socket for all threads");
    }
}

#[test]
fn racing_first_sends_create_one_socket() {
    for _ in 0..20 {
        let receiver = Receiver::bind_unique_abstract().unwrap();
        let notifier = Notifier::new(receiver.address().clone()).unwrap();
        let start = Barrier::new(THREADS);
        std::thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| {
                    start.wait();
                    notifier.notify(&[NotifyState::Ready]).unwrap();
                });
            }
            // The queue holds 10 (max_dgram_qlen); drain so that 8 senders never block long.
            for _ in 0..THREADS {
                assert_eq!(recv(&receiver).bytes(), b"READY=1");
            }
        });
        assert_nothing_queued(&receiver);
        assert_eq!(common::fds_connected_to(receiver.address()).len(), 1, "exactly one socket created");
    }
}

#[test]
fn threads_mixing_all_send_kinds_share_a_notifier() {
    use std::os::fd::AsFd;
    let receiver = Receiver::bind_unique_abstract().unwrap();
    let notifier = Notifier::new(receiver.address().clone()).unwrap();
    const EACH: usize = 200;
    let fdstore = sd_notify_core::Message::from_states(&[NotifyState::FdStore]).unwrap();
    let ready = sd_notify_core::Message::from_states(&[NotifyState::Ready]).unwrap();
    let (counts, barriers) = std::thread::scope(|s| {
        let drain = s.spawn(|| {
            let mut counts = [0usize; 3];
            let mut barriers = 0;
            for _ in 0..3 * EACH + 20 {
                match receiver.recv_timeout(WAIT) {
                    Ok(n) if n.is_barrier() => barriers += 1,
                    Ok(n) => match n.bytes() {
                        b"WATCHDOG=1" => counts[0] += 1,
                        b"FDSTORE=1" => {
                            assert_eq!(n.fds().len(), 1);
                            counts[1] += 1
                        }
                        b"READY=1" => counts[2] += 1,
                        other => panic!("unexpected {:?}", String::from_utf8_lossy(other)),
                    },
                    Err(e) => panic!("datagram lost: {e}"),
                }
            }
            (counts, barriers)
        });
        s.spawn(|| (0..EACH).for_each(|_| notifier.notify(&[NotifyState::Watchdog]).unwrap()));
        s.spawn(|| {
            let (_r, w) = common::pipe();
            (0..EACH)
                .for_each(|_| notifier.send_with(&fdstore, SendOptions::new().fds(&[w.as_fd()])).unwrap())
        });
        s.spawn(|| {
            (0..EACH).for_each(|_| notifier.send_with(&ready, SendOptions::new().on_behalf_of(1)).unwrap())
        });
        s.spawn(|| (0..20).for_each(|_| notifier.barrier(WAIT).unwrap()));
        drain.join().unwrap()
    });
    assert_eq!(counts, [EACH; 3]);
    assert_eq!(barriers, 20);
    assert_nothing_queued(&receiver);
}
