//! `NOTIFY_SOCKET` addresses: every form libsystemd rejects, with its exact `AddressError`;
//! accepted forms round-trip through `Display`; the limits of `sun_path` on real sockets.

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use common::{io_errno, recv};
use sd_notify_core::{
    AddressError, Error, Notifier, NotifyAddress, NotifyState, Receiver, SendOptions, VsockKind,
};

#[test]
fn rejected_forms_give_their_exact_error() {
    let long_path = format!("/{}", "p".repeat(107)); // 108 bytes: 108 + 1 > 108
    let long_abstract = format!("@{}", "a".repeat(107));
    let cases: Vec<(&str, AddressError)> = vec![
        ("", AddressError::Empty),
        ("run/notify", AddressError::Relative),
        ("notify", AddressError::Relative),
        ("./notify", AddressError::Relative),
        ("~/notify", AddressError::Relative),
        ("unix:/x", AddressError::Relative),
        ("unix:@x", AddressError::Relative),
        (" /x", AddressError::Relative),
        (" @x", AddressError::Relative),
        ("\t/x", AddressError::Relative),
        ("VSOCK:1:2", AddressError::Relative),
        ("/", AddressError::TooShort),
        ("@", AddressError::TooShort),
        (&long_path, AddressError::TooLong),
        (&long_abstract, AddressError::TooLong),
        ("/a\0b", AddressError::Nul),
        ("@a\0b", AddressError::Nul),
        // vsock
        ("vsock::1", AddressError::MissingCid),
        ("vsock-stream::1", AddressError::MissingCid),
        ("vsock:1:4294967295", AddressError::InvalidPort),
        ("vsock:1:", AddressError::InvalidPort),
        ("vsock:1:x", AddressError::InvalidPort),
        ("vsock:1:-1", AddressError::InvalidPort),
        ("vsock:1:+1", AddressError::InvalidPort),
        ("vsock:1: 1", AddressError::InvalidPort),
        ("vsock:1:4294967296", AddressError::InvalidPort),
        ("vsock:1:2:3", AddressError::InvalidPort),
        ("vsock:1", AddressError::InvalidVsock),
        ("vsock:", AddressError::InvalidVsock),
        ("vsock", AddressError::InvalidVsock),
        ("vsockx:1:2", AddressError::InvalidVsock),
        ("vsock-foo:1:2", AddressError::InvalidVsock),
        ("vsock-:1:2", AddressError::InvalidVsock),
        ("vsock-DGRAM:1:2", AddressError::InvalidVsock),
        ("vsock:abc:1", AddressError::InvalidCid),
        ("vsock:Host:1", AddressError::InvalidCid),
        ("vsock:-1:1", AddressError::InvalidCid),
        ("vsock: 1:1", AddressError::InvalidCid),
        ("vsock:4294967296:1", AddressError::InvalidCid),
    ];
    for (value, want) in cases {
        assert_eq!(NotifyAddress::parse(value), Err(want.clone()), "{value:?}");
        assert_eq!(NotifyAddress::parse_os(OsStr::new(value)), Err(want.clone()), "{value:?}");
        assert!(!want.to_string().is_empty());
        // As a crate error it is EINVAL, as libsystemd returns.
        assert_eq!(Error::from(want).raw_os_error(), Some(libc::EINVAL));
    }
    // Not UTF-8 in a vsock address.
    assert_eq!(NotifyAddress::parse_os(OsStr::from_bytes(b"vsock:\xff:1")), Err(AddressError::InvalidVsock));
}

#[test]
fn accepted_forms_round_trip_through_display() {
    let max_path = format!("/{}", "p".repeat(106)); // 107 bytes: 107 + 1 = 108
    let max_abstract = format!("@{}", "a".repeat(106));
    let cases: Vec<(&str, NotifyAddress)> = vec![
        ("/run/systemd/notify", NotifyAddress::Path("/run/systemd/notify".into())),
        ("/x", NotifyAddress::Path("/x".into())),
        ("/path with space", NotifyAddress::Path("/path with space".into())),
        (&max_path, NotifyAddress::Path(max_path.clone().into())),
        ("@x", NotifyAddress::Abstract(b"x".to_vec())),
        (
            "@/org/freedesktop/systemd1/notify/123",
            NotifyAddress::Abstract(b"/org/freedesktop/systemd1/notify/123".to_vec()),
        ),
        ("@name with space", NotifyAddress::Abstract(b"name with space".to_vec())),
        ("@ünïcödé", NotifyAddress::Abstract("ünïcödé".as_bytes().to_vec())),
        ("@@", NotifyAddress::Abstract(b"@".to_vec())),
        (&max_abstract, NotifyAddress::Abstract(max_abstract.as_bytes()[1..].to_vec())),
        ("vsock:2:1234", NotifyAddress::Vsock { kind: VsockKind::Any, cid: 2, port: 1234 }),
        ("vsock:0:0", NotifyAddress::Vsock { kind: VsockKind::Any, cid: 0, port: 0 }),
        ("vsock-dgram:3:5", NotifyAddress::Vsock { kind: VsockKind::Datagram, cid: 3, port: 5 }),
        ("vsock-stream:7:9000", NotifyAddress::Vsock { kind: VsockKind::Stream, cid: 7, port: 9000 }),
        (
            "vsock-seqpacket:4294967295:4294967294",
            NotifyAddress::Vsock { kind: VsockKind::SeqPacket, cid: u32::MAX, port: u32::MAX - 1 },
        ),
    ];
    for (value, want) in cases {
        let parsed = NotifyAddress::parse(value).unwrap_or_else(|e| panic!("{value:?}: {e}"));
        assert_eq!(parsed, want, "{value:?}");
        assert_eq!(parsed.to_string(), value, "Display of {value:?}");
        assert_eq!(NotifyAddress::parse(&parsed.to_string()).unwrap(), parsed);
        assert_eq!(parsed.path().is_some(), value.starts_with('/'));
    }
}

#[test]
fn named_cids_map_to_numbers_and_display_as_numbers() {
    for (name, cid) in [("hypervisor", 0), ("local", 1), ("host", 2)] {
        for (prefix, kind) in [
            ("vsock:", VsockKind::Any),
            ("vsock-dgram:", VsockKind::Datagram),
            ("vsock-stream:", VsockKind::Stream),
            ("vsock-seqpacket:", VsockKind::SeqPacket),
        ] {
            let value = format!("{prefix}{name}:77");
            let parsed = NotifyAddress::parse(&value).unwrap();
            assert_eq!(parsed, NotifyAddress::Vsock { kind, cid, port: 77 }, "{value}");
            assert_eq!(parsed.to_string(), format!("{prefix}{cid}:77"));
            assert_eq!(NotifyAddress::parse(&parsed.to_string()).unwrap(), parsed);
        }
    }
}

#[test]
fn longest_path_and_abstract_name_work_on_real_sockets() {
    // An abstract name of 106 bytes (107 with '@').
    let name = format!("@{}-{}", std::process::id(), "n".repeat(106));
    let name = &name[..107];
    let address = NotifyAddress::parse(name).unwrap();
    let receiver = Receiver::bind(&address).unwrap();
    Notifier::new(address).unwrap().notify(&[NotifyState::Ready]).unwrap();
    assert_eq!(recv(&receiver).bytes(), b"READY=1");

    // A path of 107 bytes.
    let dir = std::env::temp_dir();
    let mut path = format!("{}/sd-{}-", dir.display(), std::process::id());
    assert!(path.len() < 100, "temp dir too long for this test: {path}");
    while path.len() < 107 {
        path.push('p');
    }
    let address = NotifyAddress::parse(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    let receiver = Receiver::bind(&address).unwrap();
    Notifier::new(address).unwrap().notify(&[NotifyState::Stopping]).unwrap();
    assert_eq!(recv(&receiver).bytes(), b"STOPPING=1");
}

#[test]
fn abstract_names_match_exactly_no_padding_no_terminator() {
    let receiver = Receiver::bind_unique_abstract().unwrap();
    let NotifyAddress::Abstract(name) = receiver.address().clone() else { panic!() };

    // A prefix of the name or the name plus a byte is another socket (nobody listening).
    for other in [name[..name.len() - 1].to_vec(), [name.clone(), b"x".to_vec()].concat()] {
        let n = Notifier::new(NotifyAddress::Abstract(other)).unwrap();
        let err = n.notify(&[NotifyState::Ready]).unwrap_err();
        assert_eq!(io_errno(&err), libc::ECONNREFUSED, "{err:?}");
    }
    common::assert_nothing_queued(&receiver);

    let n = Notifier::new(NotifyAddress::Abstract(name)).unwrap();
    n.notify(&[NotifyState::Ready]).unwrap();
    assert_eq!(recv(&receiver).bytes(), b"READY=1");
    // The notifier's connected peer is exactly the receiver's name.
    assert_eq!(common::fds_connected_to(receiver.address()).len(), 1);
}

#[test]
fn non_utf8_paths_work() {
    let mut bytes = std::env::temp_dir().into_os_string().into_vec();
    bytes.extend_from_slice(format!("/sd-notify-\u{0}-{}.sock", std::process::id()).as_bytes());
    // Replace the placeholder NUL by an invalid UTF-8 byte.
    let at = bytes.iter().position(|&b| b == 0).unwrap();
    bytes[at] = 0xff;
    let parsed = NotifyAddress::parse_os(OsStr::from_bytes(&bytes)).unwrap();
    assert_eq!(parsed, NotifyAddress::Path(PathBuf::from(OsStr::from_bytes(&bytes))));
    let _ = std::fs::remove_file(OsStr::from_bytes(&bytes));
    let receiver = Receiver::bind(&parsed).unwrap();
    Notifier::new(parsed).unwrap().notify(&[NotifyState::Watchdog]).unwrap();
    assert_eq!(recv(&receiver).bytes(), b"WATCHDOG=1");
}

#[test]
fn notifier_refuses_addresses_that_do_not_fit_sun_path() {
    let too_long = |e: Error| matches!(e, Error::Address(AddressError::TooLong));
    let nul = |e: Error| matches!(e, Error::Address(AddressError::Nul));
    assert!(too_long(
        Notifier::new(NotifyAddress::Path(format!("/{}", "p".repeat(107)).into())).unwrap_err()
    ));
    assert!(too_long(Notifier::new(NotifyAddress::Abstract(vec![b'a'; 108])).unwrap_err()));
    assert!(nul(Notifier::new(NotifyAddress::Path(PathBuf::from(OsStr::from_bytes(b"/a\0b")))).unwrap_err()));
    assert!(nul(Notifier::new(NotifyAddress::Abstract(b"a\0b".to_vec())).unwrap_err()));
    // Nothing happens before the first send: a notifier to a missing socket is created fine.
    let n = Notifier::new(NotifyAddress::parse("/nonexistent/dir/notify").unwrap()).unwrap();
    assert_eq!(n.address().to_string(), "/nonexistent/dir/notify");
}

#[test]
fn vsock_notifiers_refuse_fds_and_credentials_before_any_system_call() {
    let n = Notifier::new(NotifyAddress::parse("vsock:1:1234").unwrap()).unwrap();
    let (_r, w) = common::pipe();
    let fdstore = sd_notify_core::Message::from_states(&[NotifyState::FdStore]).unwrap();
    use std::os::fd::AsFd;
    assert!(matches!(
        n.send_with(&fdstore, SendOptions::new().fds(&[w.as_fd()])),
        Err(Error::NeedsUnixSocket)
    ));
    let ready = sd_notify_core::Message::from_states(&[NotifyState::Ready]).unwrap();
    assert!(matches!(n.send_with(&ready, SendOptions::new().on_behalf_of(1)), Err(Error::NeedsUnixSocket)));
    // The barrier's pipe cannot cross to another machine: its own error, with words that say
    // so (not "not supported on this platform", which sent users looking at the wrong thing).
    let barrier = n.barrier(std::time::Duration::from_secs(1)).unwrap_err();
    assert!(matches!(barrier, Error::NeedsUnixSocket));
    assert_eq!(
        barrier.to_string(),
        "file descriptors, barriers and notifying for another PID need a Unix socket; a vsock address cannot carry them"
    );
    assert_eq!(barrier.raw_os_error(), Some(libc::EOPNOTSUPP));
}
