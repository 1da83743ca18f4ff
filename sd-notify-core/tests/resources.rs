//! No descriptor leaks: the set of open descriptors (/proc/self/fd) is the same before and
//! after 100 000 sends (plus descriptor passing, credentials, barriers and failed sends).
//!
//! This file holds ONE test on purpose: the harness runs the tests of a binary on parallel
//! threads of one process, and any other test opening a descriptor would disturb the count.

mod common;

use std::os::fd::AsFd;

use common::WAIT;
use sd_notify_core::{Message, Notifier, NotifyAddress, NotifyState, Receiver, SendOptions};

const SENDS: usize = 100_000;

#[test]
fn open_descriptors_are_unchanged_after_100000_sends() {
    let receiver = Receiver::bind_unique_abstract().unwrap();
    let notifier = Notifier::new(receiver.address().clone()).unwrap();
    let (_pipe_r, pipe_w) = common::pipe();
    let missing = Notifier::new(NotifyAddress::parse("/nonexistent-dir/notify").unwrap()).unwrap();
    let ping = Message::from_states(&[NotifyState::Watchdog]).unwrap();
    let fdstore = Message::from_states(&[NotifyState::FdStore, NotifyState::FdName("p")]).unwrap();
    let status = Message::from_states(&[NotifyState::Status("as myself")]).unwrap();

    // Warm up: the first send creates the notifier's socket, the first failure is seen once.
    notifier.send(&ping).unwrap();
    receiver.recv_timeout(WAIT).unwrap();
    assert!(missing.send(&ping).is_err());
    let before = common::open_fds();

    const EXTRA: usize = 1000;
    const BARRIERS: usize = 200;
    let total = SENDS + 2 * EXTRA + BARRIERS;
    std::thread::scope(|s| {
        // Drain concurrently so that the queue (10 datagrams) never fills.
        let drain = s.spawn(|| {
            let mut fds_received = 0;
            for i in 0..total {
                let n =
                    receiver.recv_timeout(WAIT).unwrap_or_else(|e| panic!("datagram {i} of {total}: {e}"));
                fds_received += n.fds().len();
                // Dropping it closes any passed descriptor (and answers barriers).
            }
            fds_received
        });
        for _ in 0..SENDS {
            notifier.send(&ping).unwrap();
        }
        for _ in 0..EXTRA {
            notifier.send_with(&fdstore, SendOptions::new().fds(&[pipe_w.as_fd()])).unwrap();
            notifier.send_with(&status, SendOptions::new().on_behalf_of(1)).unwrap();
            assert!(missing.send(&ping).is_err());
        }
        for _ in 0..BARRIERS {
            notifier.barrier(WAIT).unwrap();
        }
        assert_eq!(drain.join().unwrap(), EXTRA + BARRIERS);
    });
    common::assert_nothing_queued(&receiver);

    let after = common::open_fds();
    assert_eq!(before, after, "descriptors before and after {total} sends");
}
