//! `Notifier::notify`'s one-state paths (a constant line sent as it is, `STATUS=` text checked
//! as it is copied) send exactly the datagram `Message::from_states` encodes for the same
//! states, and refuse exactly what it refuses, with the same error, sending nothing.

use std::time::Duration;

use sd_notify_core::{Error, Message, Notifier, NotifyAccess, NotifyState, Receiver};

fn same_as_message(notifier: &Notifier, receiver: &Receiver, states: &[NotifyState<'_>]) {
    let expected = Message::from_states(states);
    let got = notifier.notify(states);
    match expected {
        // Those two need descriptors, which notify cannot pass (as before: send_with).
        Ok(msg) if msg.contains_key("FDSTORE") || msg.contains_key("MAINPIDFD") => {
            assert!(matches!(got, Err(Error::FdMismatch)), "{states:?}: {got:?}");
        }
        Ok(msg) => {
            assert!(got.is_ok(), "{states:?}: {got:?}");
            let n = receiver.recv_timeout(Duration::from_secs(5)).unwrap();
            assert_eq!(n.bytes(), msg.as_bytes(), "{states:?}");
        }
        Err(e) => {
            assert_eq!(format!("{:?}", got.unwrap_err()), format!("{e:?}"), "{states:?}");
        }
    }
    // Nothing else arrived (a refused notification sends nothing).
    assert!(receiver.try_recv().unwrap().is_none(), "{states:?}");
}

#[test]
fn one_state_notify_sends_what_a_message_encodes() {
    let receiver = Receiver::bind_unique_abstract().unwrap();
    let notifier = Notifier::new(receiver.address().clone()).unwrap();
    let fixed = [
        NotifyState::Ready,
        NotifyState::Reloading,
        NotifyState::Stopping,
        NotifyState::Watchdog,
        NotifyState::WatchdogTrigger,
        NotifyState::RestartReset,
        NotifyState::FdStoreRemove,
        NotifyState::FdPollDisable,
        NotifyState::FdStore,
        NotifyState::MainPidFd,
        NotifyState::MonotonicUsec(0),
        NotifyState::MonotonicUsec(u64::MAX),
        NotifyState::WatchdogUsec(1_000_000),
        NotifyState::ExtendTimeoutUsec(12),
        NotifyState::MainPidFdId(7),
        NotifyState::Errno(0),
        NotifyState::Errno(4095),
        NotifyState::Errno(-1),
        NotifyState::Errno(i32::MIN),
        NotifyState::ExitStatus(255),
        NotifyState::MainPid(1),
        NotifyState::MainPid(0),
        NotifyState::NotifyAccess(NotifyAccess::All),
        NotifyState::BusError("org.example.Failed"),
        NotifyState::BusError("nodot"),
        NotifyState::FdName("db"),
        NotifyState::FdName("a:b"),
        NotifyState::Extension { key: "X_APP", value: "v" },
        NotifyState::Other { key: "CUSTOM", value: "v\n" },
    ];
    for state in fixed {
        same_as_message(&notifier, &receiver, &[state]);
    }
}

#[test]
fn status_text_is_checked_as_it_is_copied_like_a_message_checks_it() {
    let receiver = Receiver::bind_unique_abstract().unwrap();
    let notifier = Notifier::new(receiver.address().clone()).unwrap();
    let lengths = (0..=70usize).chain([127, 128, 129, 4080, 4088, 4089, 4090, 4096, 5000]);
    for len in lengths {
        let clean: String = (0..len).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
        same_as_message(&notifier, &receiver, &[NotifyState::Status(&clean)]);
        if len == 0 {
            continue;
        }
        for bad in ['\n', '\r', '\0', '\\'] {
            for at in [0, len / 2, len - 1, len.saturating_sub(16), 15.min(len - 1), 16.min(len - 1)] {
                let mut text = clean.clone().into_bytes();
                text[at] = bad as u8;
                let text = String::from_utf8(text).unwrap();
                same_as_message(&notifier, &receiver, &[NotifyState::Status(&text)]);
            }
        }
    }
    // Multi-byte characters, and a forbidden byte right after them.
    same_as_message(&notifier, &receiver, &[NotifyState::Status("état: prêt ✓ — 100 %")]);
    same_as_message(&notifier, &receiver, &[NotifyState::Status("état: prêt ✓ — 100 %\\")]);
    // Two states still take the general path, duplicates included.
    same_as_message(&notifier, &receiver, &[NotifyState::Ready, NotifyState::Status("up")]);
    same_as_message(&notifier, &receiver, &[NotifyState::Status("a"), NotifyState::Status("b")]);
    same_as_message(&notifier, &receiver, &[NotifyState::Watchdog, NotifyState::WatchdogTrigger]);
    same_as_message(&notifier, &receiver, &[]);
}
