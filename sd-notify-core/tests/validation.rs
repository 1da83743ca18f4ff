//! The rejection list: every rule breach gives its exact `Error`/`Rule`, and nothing reaches
//! the receiver.

mod common;

use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use common::{assert_nothing_queued, both_kinds, pair, recv};
use sd_notify_core::{
    AddressError, Error, MAX_FDS, MAX_MESSAGE_LEN, Message, Notifier, NotifyState, Receiver, Rule,
    SendOptions,
};

/// `Error` has no `PartialEq` (it carries an `io::Error`); its `Debug` form is exact enough.
#[track_caller]
fn assert_err(got: Result<impl std::fmt::Debug, Error>, want: &Error, what: &str) {
    match got {
        Ok(v) => panic!("{what}: accepted ({v:?}), expected {want:?}"),
        Err(e) => assert_eq!(format!("{e:?}"), format!("{want:?}"), "{what}"),
    }
}

fn invalid(key: &'static str, rule: Rule) -> Error {
    Error::InvalidValue { key: key.into(), rule }
}

/// Rejected through every path: validate (for one state), from_states, push, notify. Then
/// nothing is queued at the receiver.
#[track_caller]
fn assert_rejected(receiver: &Receiver, notifier: &Notifier, states: &[NotifyState<'_>], want: &Error) {
    let mut what = format!("{states:?}");
    what.truncate(200);
    // `validate` checks one state's own rules (not the message's length or duplicates).
    if let [state] = states
        && matches!(want, Error::InvalidValue { .. } | Error::InvalidKey { .. })
    {
        assert_err(state.validate(), want, &what);
    }
    assert_err(Message::from_states(states), want, &what);
    // Pushing one by one fails at the offending state and leaves the message as it was.
    let mut msg = Message::new();
    let mut failed = false;
    for state in states {
        let before = msg.as_bytes().to_vec();
        if let Err(e) = msg.push(*state) {
            assert_eq!(format!("{e:?}"), format!("{want:?}"), "{what}");
            assert_eq!(msg.as_bytes(), before, "{what}: failed push changed the message");
            failed = true;
            break;
        }
    }
    assert!(failed, "{what}: every push succeeded");
    assert_err(notifier.notify(states), want, &what);
    assert_nothing_queued(receiver);
}

/// After all rejections: a sentinel arrives first, proving nothing was queued before it.
fn assert_only_sentinel_arrives(receiver: &Receiver, notifier: &Notifier) {
    notifier.notify(&[NotifyState::Other { key: "SENTINEL", value: "1" }]).unwrap();
    assert_eq!(recv(receiver).bytes(), b"SENTINEL=1");
    assert_nothing_queued(receiver);
}

const LINE_BREAKING: [(&str, Rule); 9] = [
    ("\n", Rule::Newline),
    ("ok\nREADY=1", Rule::Newline),
    ("ok\nWATCHDOG=trigger", Rule::Newline),
    ("ok\rMAINPID=1", Rule::CarriageReturn),
    ("\r", Rule::CarriageReturn),
    ("nul\0byte", Rule::Nul),
    ("C:\\dir", Rule::Backslash),
    ("trailing\\", Rule::Backslash),
    ("\\", Rule::Backslash),
];

#[test]
fn text_values_with_line_breaks_nul_or_backslash_are_rejected() {
    for (receiver, notifier) in both_kinds() {
        for (value, rule) in LINE_BREAKING {
            assert_rejected(&receiver, &notifier, &[NotifyState::Status(value)], &invalid("STATUS", rule));
            assert_rejected(
                &receiver,
                &notifier,
                &[NotifyState::Ready, NotifyState::Status(value)],
                &invalid("STATUS", rule),
            );
            assert_rejected(
                &receiver,
                &notifier,
                &[NotifyState::Extension { key: "X_K", value }],
                &invalid("X_K", rule), // the real key, not a stand-in
            );
            assert_rejected(
                &receiver,
                &notifier,
                &[NotifyState::Other { key: "FUTURE", value }],
                &invalid("FUTURE", rule),
            );
        }
        assert_only_sentinel_arrives(&receiver, &notifier);
    }
}

#[test]
fn the_first_offending_byte_names_the_rule() {
    let (receiver, notifier) = pair();
    for (value, rule) in [
        ("a\\b\nc", Rule::Backslash),
        ("a\nb\\", Rule::Newline),
        ("a\rb\n", Rule::CarriageReturn),
        ("\0\n", Rule::Nul),
    ] {
        assert_rejected(&receiver, &notifier, &[NotifyState::Status(value)], &invalid("STATUS", rule));
    }
    assert_only_sentinel_arrives(&receiver, &notifier);
}

#[test]
fn fdname_rules() {
    let (receiver, notifier) = pair();
    let too_long = "n".repeat(256);
    let cases: Vec<(&str, Rule)> = vec![
        ("", Rule::Empty),
        (&too_long, Rule::TooLong { max: 255 }),
        ("db:main", Rule::Character(':')),
        (":", Rule::Character(':')),
        ("tab\there", Rule::Character('\t')),
        ("nl\n", Rule::Character('\n')),
        ("cr\r", Rule::Character('\r')),
        ("nul\0", Rule::Character('\0')),
        ("del\x7f", Rule::Character('\x7f')),
        ("ünicode", Rule::Character('ü')),
        ("back\\slash", Rule::Character('\\')),
        ("trailing\\", Rule::Character('\\')),
    ];
    for (value, rule) in cases {
        assert_rejected(&receiver, &notifier, &[NotifyState::FdName(value)], &invalid("FDNAME", rule));
    }
    // The limits themselves are accepted.
    let max = "m".repeat(255);
    for ok in [max.as_str(), "a", " ", "~!#$%&'()*+,-./;<=>?@[]^_`{|}"] {
        NotifyState::FdName(ok).validate().unwrap_or_else(|e| panic!("{ok:?}: {e}"));
        notifier.notify(&[NotifyState::FdName(ok)]).unwrap();
        assert_eq!(recv(&receiver).bytes(), format!("FDNAME={ok}").as_bytes());
    }
    assert_only_sentinel_arrives(&receiver, &notifier);
}

#[test]
fn bus_and_varlink_error_name_syntax() {
    let (receiver, notifier) = pair();
    let long = format!("a.{}", "b".repeat(254));
    let common_bad: Vec<(&str, Rule)> = vec![
        ("", Rule::Empty),
        ("NoDots", Rule::Syntax),
        ("a..b", Rule::Syntax),
        (".a.b", Rule::Syntax),
        ("a.b.", Rule::Syntax),
        ("a.1b", Rule::Syntax),
        ("1a.b", Rule::Syntax),
        ("a b.c", Rule::Character(' ')),
        ("a.b\n", Rule::Character('\n')),
        ("a.b\rREADY=1", Rule::Character('\r')),
        ("a.b\0", Rule::Character('\0')),
        ("a.b\\", Rule::Character('\\')),
        ("a.b:c", Rule::Character(':')),
        ("a.bé", Rule::Character('é')),
        (&long, Rule::TooLong { max: 255 }),
    ];
    for (value, rule) in &common_bad {
        assert_rejected(&receiver, &notifier, &[NotifyState::BusError(value)], &invalid("BUSERROR", *rule));
        assert_rejected(
            &receiver,
            &notifier,
            &[NotifyState::VarlinkError(value)],
            &invalid("VARLINKERROR", *rule),
        );
    }
    // '-' is a Varlink name character, not a D-Bus one.
    assert_rejected(
        &receiver,
        &notifier,
        &[NotifyState::BusError("org.example.Not-Found")],
        &invalid("BUSERROR", Rule::Character('-')),
    );
    let max = format!("a.{}", "b".repeat(253));
    for ok in ["a.b", "org.freedesktop.DBus.Error.TimedOut", "_x.y_1", max.as_str()] {
        NotifyState::BusError(ok).validate().unwrap_or_else(|e| panic!("{ok:?}: {e}"));
        NotifyState::VarlinkError(ok).validate().unwrap_or_else(|e| panic!("{ok:?}: {e}"));
    }
    NotifyState::VarlinkError("io.systemd.Example.Not-Found").validate().unwrap();
    assert_only_sentinel_arrives(&receiver, &notifier);
}

#[test]
fn numbers_out_of_range() {
    let (receiver, notifier) = pair();
    for errno in [-1, 4096, i32::MIN, i32::MAX] {
        assert_rejected(
            &receiver,
            &notifier,
            &[NotifyState::Errno(errno)],
            &invalid("ERRNO", Rule::OutOfRange),
        );
    }
    for pid in [0, i32::MAX as u32 + 1, u32::MAX] {
        assert_rejected(
            &receiver,
            &notifier,
            &[NotifyState::MainPid(pid)],
            &invalid("MAINPID", Rule::OutOfRange),
        );
    }
    for ok in [
        NotifyState::Errno(0),
        NotifyState::Errno(4095),
        NotifyState::MainPid(1),
        NotifyState::MainPid(i32::MAX as u32),
    ] {
        ok.validate().unwrap();
    }
    assert_only_sentinel_arrives(&receiver, &notifier);
}

#[test]
fn extension_and_other_keys() {
    let (receiver, notifier) = pair();
    let bad_key = |key: &str, rule| Error::InvalidKey { key: key.to_owned().into(), rule };
    for (key, rule) in [
        ("X_", Rule::Syntax),
        ("", Rule::Syntax),
        ("X", Rule::Syntax),
        ("x_A", Rule::Syntax),
        ("Y_A", Rule::Syntax),
        ("READY", Rule::Syntax),
        ("X_a", Rule::Character('a')),
        ("X_lower", Rule::Character('l')),
        ("X_A-B", Rule::Character('-')),
        ("X_A=B", Rule::Character('=')),
        ("X_A B", Rule::Character(' ')),
        ("X_A\nREADY", Rule::Character('\n')),
        ("X_É", Rule::Character('É')),
    ] {
        assert_rejected(
            &receiver,
            &notifier,
            &[NotifyState::Extension { key, value: "v" }],
            &bad_key(key, rule),
        );
    }
    for (key, rule) in [
        ("", Rule::Empty),
        ("BARRIER", Rule::Reserved),
        ("lower", Rule::Character('l')),
        ("A B", Rule::Character(' ')),
        ("A=B", Rule::Character('=')),
        ("READY=1\nA", Rule::Character('=')),
        ("A\nREADY", Rule::Character('\n')),
    ] {
        assert_rejected(&receiver, &notifier, &[NotifyState::Other { key, value: "1" }], &bad_key(key, rule));
    }
    // BARRIER=1 cannot be smuggled in with other lines either.
    assert_rejected(
        &receiver,
        &notifier,
        &[NotifyState::Ready, NotifyState::Other { key: "BARRIER", value: "1" }],
        &bad_key("BARRIER", Rule::Reserved),
    );
    // The key is the one given, and the text quotes it (a key with a line break stays one line).
    let err = NotifyState::Other { key: "A\nREADY", value: "1" }.validate().unwrap_err();
    assert!(matches!(&err, Error::InvalidKey { key, .. } if key == "A\nREADY"));
    assert_eq!(
        err.to_string(),
        "assignment key \"A\\nREADY\" rejected: it contains the character '\\n', which this field does not allow"
    );
    assert_only_sentinel_arrives(&receiver, &notifier);
}

#[test]
fn duplicate_keys_are_rejected() {
    let (receiver, notifier) = pair();
    let dup = |key: &str| Error::DuplicateKey { key: key.to_owned().into() };
    let cases: Vec<(Vec<NotifyState<'static>>, &str)> = vec![
        (vec![NotifyState::Ready, NotifyState::Ready], "READY"),
        (vec![NotifyState::Watchdog, NotifyState::WatchdogTrigger], "WATCHDOG"),
        (vec![NotifyState::WatchdogTrigger, NotifyState::Watchdog], "WATCHDOG"),
        (vec![NotifyState::Status("a"), NotifyState::Ready, NotifyState::Status("b")], "STATUS"),
        (
            vec![NotifyState::MonotonicUsec(1), NotifyState::Reloading, NotifyState::MonotonicUsec(2)],
            "MONOTONIC_USEC",
        ),
        (
            vec![
                NotifyState::Extension { key: "X_A", value: "1" },
                NotifyState::Extension { key: "X_A", value: "2" },
            ],
            "X_A",
        ),
        (vec![NotifyState::Ready, NotifyState::Other { key: "READY", value: "1" }], "READY"),
        (vec![NotifyState::Other { key: "STATUS", value: "x" }, NotifyState::Status("y")], "STATUS"),
        (vec![NotifyState::FdName("a"), NotifyState::FdName("b")], "FDNAME"),
    ];
    for (states, key) in cases {
        assert_rejected(&receiver, &notifier, &states, &dup(key));
    }
    // Prefixes are not duplicates.
    let ok = [
        NotifyState::Extension { key: "X_A", value: "1" },
        NotifyState::Extension { key: "X_AB", value: "2" },
        NotifyState::WatchdogUsec(5),
        NotifyState::Watchdog,
        NotifyState::FdStoreRemove,
        NotifyState::Other { key: "FDSTOR", value: "x" },
    ];
    notifier.notify(&ok).unwrap();
    assert_eq!(
        recv(&receiver).bytes(),
        b"X_A=1\nX_AB=2\nWATCHDOG_USEC=5\nWATCHDOG=1\nFDSTOREREMOVE=1\nFDSTOR=x"
    );
    assert_only_sentinel_arrives(&receiver, &notifier);
}

#[test]
fn messages_over_4096_bytes_are_rejected() {
    for (receiver, notifier) in both_kinds() {
        let value = "v".repeat(MAX_MESSAGE_LEN - "STATUS=".len() + 1);
        assert_rejected(&receiver, &notifier, &[NotifyState::Status(&value)], &Error::MessageTooLong);
        let value = "v".repeat(MAX_MESSAGE_LEN);
        assert_rejected(&receiver, &notifier, &[NotifyState::Status(&value)], &Error::MessageTooLong);
        // Two lines adding up to 4097 with the separator.
        let value = "v".repeat(MAX_MESSAGE_LEN - "READY=1\nSTATUS=".len() + 1);
        assert_rejected(
            &receiver,
            &notifier,
            &[NotifyState::Ready, NotifyState::Status(&value)],
            &Error::MessageTooLong,
        );
        // A full message takes nothing more, and stays as it was.
        let fill = "v".repeat(MAX_MESSAGE_LEN - "STATUS=".len());
        let mut msg = Message::from_states(&[NotifyState::Status(&fill)]).unwrap();
        assert_eq!(msg.as_bytes().len(), MAX_MESSAGE_LEN);
        assert_err(msg.push(NotifyState::Ready), &Error::MessageTooLong, "push onto a full message");
        assert_eq!(msg.as_bytes().len(), MAX_MESSAGE_LEN);
        assert_eq!(&msg.as_bytes()[..7], b"STATUS=");
        // The 4096-byte message is still sendable and intact.
        notifier.send(&msg).unwrap();
        let n = recv(&receiver);
        assert_eq!(n.datagram_len(), MAX_MESSAGE_LEN);
        assert_eq!(n.bytes(), msg.as_bytes());
        assert_only_sentinel_arrives(&receiver, &notifier);
    }
}

#[test]
fn empty_messages_are_rejected() {
    let (receiver, notifier) = pair();
    let (_r, w) = common::pipe();
    assert_err(Message::from_states(&[]), &Error::EmptyMessage, "from_states(&[])");
    assert_err(notifier.notify(&[]), &Error::EmptyMessage, "notify(&[])");
    assert_err(notifier.send(&Message::new()), &Error::EmptyMessage, "send(empty)");
    assert_err(notifier.send(&Message::default()), &Error::EmptyMessage, "send(default)");
    assert_err(
        notifier.send_with(&Message::new(), SendOptions::new().on_behalf_of(std::process::id())),
        &Error::EmptyMessage,
        "send_with(empty)",
    );
    assert_err(
        notifier.send_with(&Message::new(), SendOptions::new().fds(&[w.as_fd()])),
        &Error::EmptyMessage,
        "send_with_fds(empty)",
    );
    assert!(Message::new().is_empty());
    assert_nothing_queued(&receiver);
    assert_only_sentinel_arrives(&receiver, &notifier);
}

#[test]
fn descriptors_and_fdstore_must_come_together() {
    for (receiver, notifier) in both_kinds() {
        let (_r, w) = common::pipe();
        let fdstore = Message::from_states(&[NotifyState::FdStore, NotifyState::FdName("x")]).unwrap();
        let mainpidfd = Message::from_states(&[NotifyState::MainPidFd]).unwrap();
        let ready = Message::from_states(&[NotifyState::Ready]).unwrap();
        let remove = Message::from_states(&[NotifyState::FdStoreRemove, NotifyState::FdName("x")]).unwrap();
        assert_err(notifier.send(&fdstore), &Error::FdMismatch, "FDSTORE=1 without fds");
        assert_err(notifier.send(&mainpidfd), &Error::FdMismatch, "MAINPIDFD=1 without fds");
        assert_err(
            notifier.send_with(&fdstore, SendOptions::new().on_behalf_of(std::process::id())),
            &Error::FdMismatch,
            "FDSTORE=1 on behalf of a pid, no fds",
        );
        assert_err(
            notifier.send_with(&fdstore, SendOptions::new().fds(&[])),
            &Error::FdMismatch,
            "FDSTORE=1 with no fds",
        );
        assert_err(
            notifier.send_with(&ready, SendOptions::new().fds(&[w.as_fd()])),
            &Error::FdMismatch,
            "fds with READY=1",
        );
        assert_err(
            notifier.send_with(&remove, SendOptions::new().fds(&[w.as_fd()])),
            &Error::FdMismatch,
            "fds with FDSTOREREMOVE=1",
        );
        assert_err(notifier.notify(&[NotifyState::FdStore]), &Error::FdMismatch, "notify(FDSTORE)");
        assert_only_sentinel_arrives(&receiver, &notifier);
    }
}

#[test]
fn more_than_253_descriptors_are_rejected() {
    let (receiver, notifier) = pair();
    let (_r, w) = common::pipe();
    let fdstore = Message::from_states(&[NotifyState::FdStore]).unwrap();
    assert_eq!(MAX_FDS, 253);
    for count in [254, 1000] {
        let fds: Vec<BorrowedFd<'_>> = vec![w.as_fd(); count];
        assert_err(
            notifier.send_with(&fdstore, SendOptions::new().fds(&fds)),
            &Error::TooManyFds { count },
            "too many fds",
        );
        // Checked before anything else, even for a message that could not carry them.
        let ready = Message::from_states(&[NotifyState::Ready]).unwrap();
        assert_err(
            notifier.send_with(&ready, SendOptions::new().fds(&fds)),
            &Error::TooManyFds { count },
            "too many fds",
        );
    }
    assert_nothing_queued(&receiver);
    // 253 (the same descriptor 253 times) is fine.
    let fds: Vec<BorrowedFd<'_>> = vec![w.as_fd(); MAX_FDS];
    notifier.send_with(&fdstore, SendOptions::new().fds(&fds)).unwrap();
    let n = recv(&receiver);
    assert_eq!(n.bytes(), b"FDSTORE=1");
    assert_eq!(n.fds().len(), MAX_FDS);
    drop(n);
    assert_only_sentinel_arrives(&receiver, &notifier);
}

#[test]
fn errors_map_to_libsystemd_errnos_and_read_well() {
    let einval = Message::from_states(&[NotifyState::Status("a\nb")]).unwrap_err();
    assert_eq!(einval.raw_os_error(), Some(libc::EINVAL));
    assert_eq!(
        einval.to_string(),
        "STATUS= value rejected: it contains a line feed (\\n), which would inject an assignment"
    );
    assert_eq!(io::Error::from(einval).kind(), io::ErrorKind::InvalidInput);
    assert_eq!(Error::MessageTooLong.raw_os_error(), Some(libc::EMSGSIZE));
    assert_eq!(Error::TooManyFds { count: 254 }.raw_os_error(), Some(libc::E2BIG));
    assert_eq!(Error::Timeout.raw_os_error(), Some(libc::ETIMEDOUT));
    assert_eq!(io::Error::from(Error::Timeout).kind(), io::ErrorKind::TimedOut);
    for e in [
        Error::EmptyMessage,
        Error::FdMismatch,
        Error::DuplicateKey { key: "READY".into() },
        Error::InvalidKey { key: "BARRIER".into(), rule: Rule::Reserved },
    ] {
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e:?}");
        assert!(!e.to_string().is_empty());
    }
    let refused = Error::from(io::Error::from_raw_os_error(libc::ECONNREFUSED));
    assert_eq!(common::io_errno(&refused), libc::ECONNREFUSED);
    assert_eq!(refused.raw_os_error(), Some(libc::ECONNREFUSED));
}

/// The public `From<io::Error>` is a plain conversion: a `WouldBlock` from the user's own
/// non-blocking I/O stays an `Io` error (before, it became `Error::Timeout`, "the service
/// manager did not accept the message in time"). Only the crate's sends report a full queue
/// as a timeout (tests/backpressure.rs).
#[test]
fn users_would_block_stays_an_io_error() {
    let err = Error::from(io::Error::from(io::ErrorKind::WouldBlock));
    assert!(matches!(&err, Error::Io(e) if e.kind() == io::ErrorKind::WouldBlock), "{err:?}");
    // Through `?` on the user's own I/O, too.
    fn users_code() -> Result<(), Error> {
        let (a, _b) = std::os::unix::net::UnixDatagram::pair()?;
        a.set_nonblocking(true)?;
        a.recv(&mut [0; 8])?; // nothing queued: EAGAIN
        Ok(())
    }
    let err = users_code().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EAGAIN));
    assert!(matches!(&err, Error::Io(e) if e.kind() == io::ErrorKind::WouldBlock), "{err:?}");
    assert_eq!(io::Error::from(err).kind(), io::ErrorKind::WouldBlock);
}

/// An error's text says only its own layer; the inner error is `source()`, so a reporter that
/// walks the chain (anyhow's `{:#}`, the exit report) shows the OS's words once.
#[test]
fn inner_errors_are_sources_not_part_of_the_text() {
    fn chain(e: &dyn std::error::Error) -> Vec<String> {
        let mut out = vec![e.to_string()];
        let mut cur = e.source();
        while let Some(s) = cur {
            out.push(s.to_string());
            cur = s.source();
        }
        out
    }
    let os_text = io::Error::from_raw_os_error(libc::ECONNREFUSED).to_string();
    let io = Error::from(io::Error::from_raw_os_error(libc::ECONNREFUSED));
    assert_eq!(chain(&io), ["the operating system reported an error".to_owned(), os_text.clone()]);
    let address = Error::from(AddressError::Relative);
    assert_eq!(
        chain(&address),
        ["invalid notification socket address".to_owned(), AddressError::Relative.to_string()]
    );
    // Each cause once, in a real failure: a send to nobody.
    let n = Notifier::new(sd_notify_core::NotifyAddress::parse("@sd-notify-nobody-listens-here").unwrap())
        .unwrap();
    let err = n.notify(&[NotifyState::Ready]).unwrap_err();
    let joined = chain(&err).join(": ");
    assert_eq!(joined.matches(&os_text).count(), 1, "{joined}");
    // Rule breaches have no inner error: their text is whole.
    let rule = Message::from_states(&[NotifyState::Status("a\nb")]).unwrap_err();
    assert_eq!(chain(&rule).len(), 1);
    // Errors that convert to io::Error keep their words once, too.
    let as_io = io::Error::from(Error::from(AddressError::Relative));
    assert_eq!(as_io.kind(), io::ErrorKind::InvalidInput);
    assert_eq!(
        chain(&as_io),
        ["invalid notification socket address".to_owned(), AddressError::Relative.to_string()]
    );
}

/// `raw_os_error` uses the platform's numbers (`libc::E*`), not Linux's written out.
#[test]
fn errnos_are_the_platforms() {
    assert_eq!(Error::Timeout.raw_os_error(), Some(libc::ETIMEDOUT));
    assert_eq!(Error::MessageTooLong.raw_os_error(), Some(libc::EMSGSIZE));
    assert_eq!(Error::TooManyFds { count: 300 }.raw_os_error(), Some(libc::E2BIG));
    assert_eq!(Error::NeedsUnixSocket.raw_os_error(), Some(libc::EOPNOTSUPP));
    assert_eq!(Error::Unsupported.raw_os_error(), Some(libc::EOPNOTSUPP));
    assert_eq!(Error::EmptyMessage.raw_os_error(), Some(libc::EINVAL));
}

#[test]
fn sanitize_status_makes_any_text_acceptable() {
    use sd_notify_core::sanitize_status;
    assert_eq!(sanitize_status("bad\nREADY=1"), "bad READY=1");
    assert_eq!(sanitize_status("a\r\n\0b"), "a   b");
    assert_eq!(sanitize_status(r"C:\dir\"), "C:/dir/");
    assert!(matches!(sanitize_status("fine text ✓"), std::borrow::Cow::Borrowed("fine text ✓")));
    let (receiver, notifier) = pair();
    let clean = sanitize_status("x\\\nWATCHDOG=trigger\\");
    notifier.notify(&[NotifyState::Status(&clean)]).unwrap();
    let n = recv(&receiver);
    assert_eq!(n.bytes(), b"STATUS=x/ WATCHDOG=trigger/");
    assert_eq!(n.states(), [NotifyState::Status("x/ WATCHDOG=trigger/")]);
}
