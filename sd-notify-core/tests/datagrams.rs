//! Byte-exact datagrams on real sockets: every `NotifyState` alone, combinations in one datagram,
//! `Message::push_status_fmt`, and the credentials the kernel attaches.

mod common;

use std::fmt;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};

use common::{assert_from_us, assert_nothing_queued, both_kinds, pair, recv};
use sd_notify_core::{Error, MAX_MESSAGE_LEN, Message, NotifyAccess, NotifyState, Rule, SendOptions};

/// Every state that travels without descriptors, with its exact line.
fn plain_states() -> Vec<(NotifyState<'static>, &'static str)> {
    vec![
        (NotifyState::Ready, "READY=1"),
        (NotifyState::Reloading, "RELOADING=1"),
        (NotifyState::Stopping, "STOPPING=1"),
        (NotifyState::MonotonicUsec(0), "MONOTONIC_USEC=0"),
        (NotifyState::MonotonicUsec(u64::MAX), "MONOTONIC_USEC=18446744073709551615"),
        (NotifyState::Status("serving on :8080 — ünïcödé ✓"), "STATUS=serving on :8080 — ünïcödé ✓"),
        (NotifyState::Status(""), "STATUS="),
        (NotifyState::Status(" padded = equals= "), "STATUS= padded = equals= "),
        (NotifyState::NotifyAccess(NotifyAccess::None), "NOTIFYACCESS=none"),
        (NotifyState::NotifyAccess(NotifyAccess::Main), "NOTIFYACCESS=main"),
        (NotifyState::NotifyAccess(NotifyAccess::Exec), "NOTIFYACCESS=exec"),
        (NotifyState::NotifyAccess(NotifyAccess::All), "NOTIFYACCESS=all"),
        (NotifyState::Errno(0), "ERRNO=0"),
        (NotifyState::Errno(2), "ERRNO=2"),
        (NotifyState::Errno(4095), "ERRNO=4095"),
        (
            NotifyState::BusError("org.freedesktop.DBus.Error.TimedOut"),
            "BUSERROR=org.freedesktop.DBus.Error.TimedOut",
        ),
        (
            NotifyState::VarlinkError("io.systemd.Example.Not-Found"),
            "VARLINKERROR=io.systemd.Example.Not-Found",
        ),
        (NotifyState::ExitStatus(0), "EXIT_STATUS=0"),
        (NotifyState::ExitStatus(255), "EXIT_STATUS=255"),
        (NotifyState::MainPid(1), "MAINPID=1"),
        (NotifyState::MainPid(i32::MAX as u32), "MAINPID=2147483647"),
        (NotifyState::MainPidFdId(u64::MAX), "MAINPIDFDID=18446744073709551615"),
        (NotifyState::Watchdog, "WATCHDOG=1"),
        (NotifyState::WatchdogTrigger, "WATCHDOG=trigger"),
        (NotifyState::WatchdogUsec(1), "WATCHDOG_USEC=1"),
        // Beyond u32 µs (71 minutes): no cap.
        (NotifyState::WatchdogUsec(5_400_000_000), "WATCHDOG_USEC=5400000000"),
        (NotifyState::WatchdogUsec(u64::MAX), "WATCHDOG_USEC=18446744073709551615"),
        (NotifyState::ExtendTimeoutUsec(0), "EXTEND_TIMEOUT_USEC=0"),
        (NotifyState::ExtendTimeoutUsec(u64::MAX), "EXTEND_TIMEOUT_USEC=18446744073709551615"),
        (NotifyState::RestartReset, "RESTART_RESET=1"),
        (NotifyState::FdStoreRemove, "FDSTOREREMOVE=1"),
        (NotifyState::FdName("db-main"), "FDNAME=db-main"),
        (NotifyState::FdName("with space ~!"), "FDNAME=with space ~!"),
        (NotifyState::FdPollDisable, "FDPOLL=0"),
        (NotifyState::Extension { key: "X_APP_PHASE", value: "warm=up" }, "X_APP_PHASE=warm=up"),
        (NotifyState::Extension { key: "X_1", value: "" }, "X_1="),
        (NotifyState::Other { key: "SOME_FUTURE_KEY", value: "42" }, "SOME_FUTURE_KEY=42"),
    ]
}

#[test]
fn every_plain_state_alone_is_exactly_its_line_via_path_and_abstract() {
    for (receiver, notifier) in both_kinds() {
        for (state, line) in plain_states() {
            notifier.notify(&[state]).unwrap_or_else(|e| panic!("{state:?}: {e}"));
            let n = recv(&receiver);
            assert_eq!(n.bytes(), line.as_bytes(), "{state:?} via {}", receiver.address());
            assert_eq!(n.datagram_len(), line.len());
            assert_eq!(n.lines(), Ok(&[line.to_owned()][..]));
            assert_eq!(n.states(), [state], "{line} parses back");
            assert!(n.fds().is_empty());
            assert_from_us(&n);
        }
        assert_nothing_queued(&receiver);
    }
}

#[test]
fn display_of_a_state_is_its_line() {
    for (state, line) in plain_states() {
        assert_eq!(state.to_string(), line);
        assert_eq!(Message::from_states(&[state]).unwrap().as_bytes(), line.as_bytes());
    }
}

#[test]
fn fd_carrying_states_alone_and_with_their_companions() {
    for (receiver, notifier) in both_kinds() {
        let (_read, write) = common::pipe();

        notifier
            .send_with(
                &Message::from_states(&[NotifyState::FdStore]).unwrap(),
                SendOptions::new().fds(&[write.as_fd()]),
            )
            .unwrap();
        let n = recv(&receiver);
        assert_eq!(n.bytes(), b"FDSTORE=1");
        assert_eq!(n.states(), [NotifyState::FdStore]);
        assert_eq!(n.fds().len(), 1);

        let msg = Message::from_states(&[
            NotifyState::FdStore,
            NotifyState::FdName("pipe"),
            NotifyState::FdPollDisable,
        ])
        .unwrap();
        notifier.send_with(&msg, SendOptions::new().fds(&[write.as_fd()])).unwrap();
        let n = recv(&receiver);
        assert_eq!(n.bytes(), b"FDSTORE=1\nFDNAME=pipe\nFDPOLL=0");
        assert_eq!(
            n.states(),
            [NotifyState::FdStore, NotifyState::FdName("pipe"), NotifyState::FdPollDisable]
        );
        assert_eq!(n.fds().len(), 1);

        // MAINPIDFD=1 travels with a pidfd of the new main process (here: ourselves).
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
        let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, std::process::id() as libc::pid_t, 0) };
        assert!(raw >= 0, "pidfd_open: {}", std::io::Error::last_os_error());
        // SAFETY: pidfd_open just returned this descriptor; nobody else owns it.
        let pidfd = unsafe { OwnedFd::from_raw_fd(raw as i32) };
        let msg = Message::from_states(&[NotifyState::MainPidFd, NotifyState::MainPidFdId(12345)]).unwrap();
        notifier.send_with(&msg, SendOptions::new().fds(&[pidfd.as_fd()])).unwrap();
        let n = recv(&receiver);
        assert_eq!(n.bytes(), b"MAINPIDFD=1\nMAINPIDFDID=12345");
        assert_eq!(n.states(), [NotifyState::MainPidFd, NotifyState::MainPidFdId(12345)]);
        assert_eq!(n.fds().len(), 1);
        assert_from_us(&n);
        assert_nothing_queued(&receiver);
    }
}

#[test]
fn reloading_now_is_one_datagram_with_a_fresh_monotonic_timestamp() {
    for (receiver, notifier) in both_kinds() {
        let before = common::monotonic_usec();
        notifier.notify(&NotifyState::reloading_now()).unwrap();
        let after = common::monotonic_usec();

        let n = recv(&receiver);
        let text = std::str::from_utf8(n.bytes()).unwrap();
        let stamp = text
            .strip_prefix("RELOADING=1\nMONOTONIC_USEC=")
            .unwrap_or_else(|| panic!("not RELOADING=1 + MONOTONIC_USEC= in one datagram: {text:?}"));
        assert!(stamp.bytes().all(|b| b.is_ascii_digit()) && !stamp.is_empty(), "{text:?}");
        let stamp: u64 = stamp.parse().unwrap();
        assert!((before..=after).contains(&stamp), "{before} <= {stamp} <= {after}");
        assert_eq!(n.states(), [NotifyState::Reloading, NotifyState::MonotonicUsec(stamp)]);
        // Nothing else: the pair is not split over two datagrams.
        assert_nothing_queued(&receiver);
    }
}

#[test]
fn monotonic_now_is_monotonic_and_in_microseconds() {
    let before = common::monotonic_usec();
    let NotifyState::MonotonicUsec(a) = NotifyState::monotonic_now() else { panic!("not MonotonicUsec") };
    let NotifyState::MonotonicUsec(b) = NotifyState::monotonic_now() else { panic!("not MonotonicUsec") };
    let after = common::monotonic_usec();
    assert!(before <= a && a <= b && b <= after, "{before} {a} {b} {after}");
}

#[test]
fn combinations_travel_in_one_datagram_in_order() {
    let cases: Vec<(Vec<NotifyState<'static>>, &[u8])> = vec![
        (vec![NotifyState::Ready, NotifyState::Status("up")], b"READY=1\nSTATUS=up"),
        (vec![NotifyState::Status("up"), NotifyState::Ready], b"STATUS=up\nREADY=1"),
        (
            vec![NotifyState::Stopping, NotifyState::Status("draining 3 connections")],
            b"STOPPING=1\nSTATUS=draining 3 connections",
        ),
        (
            vec![NotifyState::Reloading, NotifyState::MonotonicUsec(77), NotifyState::Status("reloading")],
            b"RELOADING=1\nMONOTONIC_USEC=77\nSTATUS=reloading",
        ),
        (
            vec![
                NotifyState::Status("failed"),
                NotifyState::Errno(2),
                NotifyState::BusError("org.example.Error.NotFound"),
            ],
            b"STATUS=failed\nERRNO=2\nBUSERROR=org.example.Error.NotFound",
        ),
        (vec![NotifyState::Ready, NotifyState::MainPid(4242)], b"READY=1\nMAINPID=4242"),
        (
            vec![
                NotifyState::Watchdog,
                NotifyState::WatchdogUsec(30_000_000),
                NotifyState::ExtendTimeoutUsec(5_000_000),
            ],
            b"WATCHDOG=1\nWATCHDOG_USEC=30000000\nEXTEND_TIMEOUT_USEC=5000000",
        ),
        (vec![NotifyState::FdStoreRemove, NotifyState::FdName("old")], b"FDSTOREREMOVE=1\nFDNAME=old"),
        (
            vec![
                NotifyState::Extension { key: "X_A", value: "1" },
                NotifyState::Extension { key: "X_B", value: "2" },
                NotifyState::Other { key: "NEW", value: "3" },
            ],
            b"X_A=1\nX_B=2\nNEW=3",
        ),
    ];
    for (receiver, notifier) in both_kinds() {
        for (states, bytes) in &cases {
            notifier.notify(states).unwrap();
            let n = recv(&receiver);
            assert_eq!(n.bytes(), *bytes, "{states:?}");
            assert_eq!(&n.states(), states);
            // No trailing newline, no NUL.
            assert!(!n.bytes().ends_with(b"\n") && !n.bytes().contains(&0));
            assert_from_us(&n);
        }
        assert_nothing_queued(&receiver);
    }
}

#[test]
fn every_plain_state_at_once_in_one_datagram() {
    // One of each key (WATCHDOG appears once: WATCHDOG=1 and WATCHDOG=trigger share it).
    let states = [
        NotifyState::Ready,
        NotifyState::Reloading,
        NotifyState::Stopping,
        NotifyState::MonotonicUsec(1),
        NotifyState::Status("all"),
        NotifyState::NotifyAccess(NotifyAccess::All),
        NotifyState::Errno(5),
        NotifyState::BusError("a.b"),
        NotifyState::VarlinkError("c.d"),
        NotifyState::ExitStatus(3),
        NotifyState::MainPid(9),
        NotifyState::MainPidFdId(8),
        NotifyState::WatchdogTrigger,
        NotifyState::WatchdogUsec(7),
        NotifyState::ExtendTimeoutUsec(6),
        NotifyState::RestartReset,
        NotifyState::FdStoreRemove,
        NotifyState::FdName("n"),
        NotifyState::FdPollDisable,
        NotifyState::Extension { key: "X_E", value: "e" },
        NotifyState::Other { key: "O", value: "o" },
    ];
    let expected = "READY=1\nRELOADING=1\nSTOPPING=1\nMONOTONIC_USEC=1\nSTATUS=all\nNOTIFYACCESS=all\nERRNO=5\n\
                    BUSERROR=a.b\nVARLINKERROR=c.d\nEXIT_STATUS=3\nMAINPID=9\nMAINPIDFDID=8\nWATCHDOG=trigger\n\
                    WATCHDOG_USEC=7\nEXTEND_TIMEOUT_USEC=6\nRESTART_RESET=1\nFDSTOREREMOVE=1\nFDNAME=n\nFDPOLL=0\n\
                    X_E=e\nO=o";
    let (receiver, notifier) = pair();
    notifier.notify(&states).unwrap();
    let n = recv(&receiver);
    assert_eq!(std::str::from_utf8(n.bytes()).unwrap(), expected);
    assert_eq!(n.states(), states);
}

#[test]
fn a_prepared_message_is_sent_unchanged_every_time() {
    let (receiver, notifier) = pair();
    let ping = Message::from_states(&[NotifyState::Watchdog]).unwrap();
    for _ in 0..5 {
        notifier.send(&ping).unwrap();
        assert_eq!(recv(&receiver).bytes(), b"WATCHDOG=1");
    }
    assert_eq!(ping.as_bytes(), b"WATCHDOG=1");
}

#[test]
fn message_of_exactly_4096_bytes_is_accepted_and_received_intact() {
    for (receiver, notifier) in both_kinds() {
        // "STATUS=" is 7 bytes.
        let value: String = (0..MAX_MESSAGE_LEN - 7).map(|i| (b'a' + (i % 26) as u8) as char).collect();
        let msg = Message::from_states(&[NotifyState::Status(&value)]).unwrap();
        assert_eq!(msg.as_bytes().len(), 4096);
        notifier.send(&msg).unwrap();
        let n = recv(&receiver);
        assert_eq!(n.datagram_len(), 4096);
        assert_eq!(n.bytes(), msg.as_bytes());
        assert_eq!(n.states(), [NotifyState::Status(&value)]);

        // Two lines adding up to exactly 4096 (separator included).
        let v2 = &value[..MAX_MESSAGE_LEN - "READY=1\nSTATUS=".len()];
        let msg = Message::from_states(&[NotifyState::Ready, NotifyState::Status(v2)]).unwrap();
        assert_eq!(msg.as_bytes().len(), 4096);
        notifier.send(&msg).unwrap();
        let n = recv(&receiver);
        assert_eq!(n.bytes(), msg.as_bytes());
        assert_eq!(n.states(), [NotifyState::Ready, NotifyState::Status(v2)]);
    }
}

#[test]
fn push_status_fmt_formats_into_one_status_line() {
    let (receiver, notifier) = pair();

    let mut msg = Message::new();
    msg.push(NotifyState::Ready).unwrap();
    msg.push_status_fmt(format_args!("{} of {:>4} done, {:.2}% — {:?}", 3, 10, 30.0_f64, "q")).unwrap();
    assert_eq!(msg.as_bytes(), "READY=1\nSTATUS=3 of   10 done, 30.00% — \"q\"".as_bytes());
    notifier.send(&msg).unwrap();
    let n = recv(&receiver);
    assert_eq!(n.bytes(), msg.as_bytes());
    assert_eq!(n.states(), [NotifyState::Ready, NotifyState::Status("3 of   10 done, 30.00% — \"q\"")]);

    // Status first, then more states.
    let mut msg = Message::new();
    msg.push_status_fmt(format_args!("{}", "stopping")).unwrap().push(NotifyState::Stopping).unwrap();
    notifier.send(&msg).unwrap();
    assert_eq!(recv(&receiver).bytes(), b"STATUS=stopping\nSTOPPING=1");

    // Empty formatted text clears the status.
    let mut msg = Message::new();
    msg.push_status_fmt(format_args!("")).unwrap();
    notifier.send(&msg).unwrap();
    assert_eq!(recv(&receiver).bytes(), b"STATUS=");
    assert_nothing_queued(&receiver);
}

/// Writes its text in several pieces, the last one `bad`.
struct Pieces(&'static str);

impl fmt::Display for Pieces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("piece one, ")?;
        f.write_str("piece two, ")?;
        f.write_str(self.0)
    }
}

#[test]
fn push_status_fmt_checks_every_piece_and_leaves_the_message_unchanged_on_error() {
    let (receiver, notifier) = pair();
    for (bad, rule) in [
        ("x\nREADY=1", Rule::Newline),
        ("x\rREADY=1", Rule::CarriageReturn),
        ("x\0", Rule::Nul),
        ("C:\\dir", Rule::Backslash),
        ("trailing\\", Rule::Backslash),
    ] {
        let mut msg = Message::from_states(&[NotifyState::Ready]).unwrap();
        let err = msg.push_status_fmt(format_args!("{}", Pieces(bad))).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidValue { key, rule: r } if key == "STATUS" && *r == rule),
            "{bad:?}: {err:?}"
        );
        assert_eq!(msg.as_bytes(), b"READY=1", "failed push left the message unchanged");
        let err = Message::new().push_status_fmt(format_args!("user said: {bad}")).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidValue { key, rule: r } if key == "STATUS" && *r == rule),
            "{bad:?}: {err:?}"
        );
    }
    // Fine pieces go through.
    let mut msg = Message::new();
    msg.push_status_fmt(format_args!("{}", Pieces("end"))).unwrap();
    notifier.send(&msg).unwrap();
    assert_eq!(recv(&receiver).bytes(), b"STATUS=piece one, piece two, end");

    // Duplicate STATUS and overflow.
    let mut msg = Message::from_states(&[NotifyState::Status("a")]).unwrap();
    let err = msg.push_status_fmt(format_args!("b")).unwrap_err();
    assert!(matches!(&err, Error::DuplicateKey { key } if key == "STATUS"), "{err:?}");
    assert_eq!(msg.as_bytes(), b"STATUS=a");

    let mut msg = Message::from_states(&[NotifyState::Ready]).unwrap();
    let long = "y".repeat(MAX_MESSAGE_LEN);
    let err = msg.push_status_fmt(format_args!("{long}")).unwrap_err();
    assert!(matches!(err, Error::MessageTooLong), "{err:?}");
    assert_eq!(msg.as_bytes(), b"READY=1");
    // Exactly filling the buffer is fine.
    let fill = "y".repeat(MAX_MESSAGE_LEN - "READY=1\nSTATUS=".len());
    msg.push_status_fmt(format_args!("{fill}")).unwrap();
    assert_eq!(msg.as_bytes().len(), MAX_MESSAGE_LEN);
    notifier.send(&msg).unwrap();
    assert_eq!(recv(&receiver).bytes(), msg.as_bytes());
    assert_nothing_queued(&receiver);
}

#[test]
fn credentials_are_ours_for_path_and_abstract() {
    for (receiver, notifier) in both_kinds() {
        notifier.notify(&[NotifyState::Ready]).unwrap();
        let n = recv(&receiver);
        assert_from_us(&n);
        // Our own PID claims nothing: the kernel attaches our credentials, as to any send.
        notifier
            .send_with(
                &Message::from_states(&[NotifyState::Watchdog]).unwrap(),
                SendOptions::new().on_behalf_of(std::process::id()),
            )
            .unwrap();
        let n = recv(&receiver);
        assert_eq!(n.bytes(), b"WATCHDOG=1");
        assert_from_us(&n);
    }
}

#[test]
fn receiver_notifier_and_env_point_at_the_same_socket() {
    for (receiver, _) in both_kinds() {
        let (key, value) = receiver.env();
        assert_eq!(key, "NOTIFY_SOCKET");
        assert_eq!(value.to_str().unwrap(), receiver.address().to_string());
        let n = receiver.notifier().unwrap();
        assert_eq!(n.address(), receiver.address());
        n.notify(&[NotifyState::Ready]).unwrap();
        assert_eq!(recv(&receiver).bytes(), b"READY=1");
    }
}
