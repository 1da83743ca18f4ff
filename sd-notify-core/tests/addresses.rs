//! `NOTIFY_SOCKET` addresses: every form libsystemd rejects, with its exact `AddressError`,
//! through every way in (parse, `FromStr`, `TryFrom<&OsStr>`/`TryFrom<OsString>` and the
//! constructors); accepted forms round-trip through `to_os_string()` (and `Display` when
//! printable); the limits of `sun_path` on real sockets.

mod common;

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use common::{io_errno, recv};
use sd_notify_core::{
    AddressError, Error, Notifier, NotifyAddress, NotifyState, Receiver, SendOptions, VsockKind,
};

/// Every way to read a `NOTIFY_SOCKET` value agrees.
#[track_caller]
fn parse_all_ways(value: &str) -> Result<NotifyAddress, AddressError> {
    let parsed = NotifyAddress::parse(value);
    assert_eq!(value.parse::<NotifyAddress>(), parsed, "FromStr {value:?}");
    assert_eq!(NotifyAddress::try_from(OsStr::new(value)), parsed, "TryFrom<&OsStr> {value:?}");
    assert_eq!(NotifyAddress::try_from(OsString::from(value)), parsed, "TryFrom<OsString> {value:?}");
    parsed
}

fn vsock(kind: VsockKind, cid: u32, port: u32) -> NotifyAddress {
    NotifyAddress::from_vsock(kind, cid, port).unwrap()
}

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
        assert_eq!(parse_all_ways(value), Err(want.clone()), "{value:?}");
        assert!(!want.to_string().is_empty());
        // As a crate error it is EINVAL, as libsystemd returns.
        assert_eq!(Error::from(want).raw_os_error(), Some(libc::EINVAL));
    }
    // Not UTF-8 in a vsock address.
    assert_eq!(NotifyAddress::try_from(OsStr::from_bytes(b"vsock:\xff:1")), Err(AddressError::InvalidVsock));
}

/// The constructors enforce the rules `parse` does: no invalid address can be built by hand
/// (before, `NotifyAddress::Path("run/x".into())` and the like reached `Notifier::new`).
#[test]
fn hand_built_addresses_follow_the_same_rules() {
    let path = |p: &str| NotifyAddress::from_path(p);
    assert_eq!(path(""), Err(AddressError::Empty));
    assert_eq!(path("run/notify"), Err(AddressError::Relative));
    assert_eq!(path("./notify"), Err(AddressError::Relative));
    assert_eq!(path("@x"), Err(AddressError::Relative), "an abstract name is not a path");
    assert_eq!(path("/"), Err(AddressError::TooShort));
    assert_eq!(path(&format!("/{}", "p".repeat(107))), Err(AddressError::TooLong));
    assert_eq!(NotifyAddress::from_path(OsStr::from_bytes(b"/a\0b")), Err(AddressError::Nul));
    assert_eq!(
        path(&format!("/{}", "p".repeat(106))).unwrap(),
        NotifyAddress::parse(&format!("/{}", "p".repeat(106))).unwrap()
    );

    let name = |n: &[u8]| NotifyAddress::from_abstract_name(n);
    assert_eq!(name(b""), Err(AddressError::TooShort));
    assert_eq!(name(&[b'a'; 107]), Err(AddressError::TooLong));
    assert_eq!(name(&[b'a'; 108]), Err(AddressError::TooLong));
    assert_eq!(name(b"a\0b"), Err(AddressError::Nul));
    assert_eq!(name(&[b'a'; 106]).unwrap(), NotifyAddress::parse(&format!("@{}", "a".repeat(106))).unwrap());
    assert_eq!(name(b"x").unwrap().as_abstract_name(), Some(&b"x"[..]));

    assert_eq!(NotifyAddress::from_vsock(VsockKind::Any, 1, u32::MAX), Err(AddressError::InvalidPort));
    assert_eq!(
        vsock(VsockKind::Stream, u32::MAX, u32::MAX - 1).as_vsock(),
        Some((VsockKind::Stream, u32::MAX, u32::MAX - 1))
    );
    // The accessors answer for their own kind only.
    let p = path("/run/x").unwrap();
    assert_eq!((p.as_path(), p.as_abstract_name(), p.as_vsock()), (Some(Path::new("/run/x")), None, None));
    let v = vsock(VsockKind::Any, 2, 1);
    assert_eq!((v.as_path(), v.as_abstract_name()), (None, None));
}

#[test]
fn accepted_forms_round_trip_through_os_string_and_display() {
    let max_path = format!("/{}", "p".repeat(106)); // 107 bytes: 107 + 1 = 108
    let max_abstract = format!("@{}", "a".repeat(106));
    let cases: Vec<(&str, NotifyAddress)> = vec![
        ("/run/systemd/notify", NotifyAddress::from_path("/run/systemd/notify").unwrap()),
        ("/x", NotifyAddress::from_path("/x").unwrap()),
        ("/path with space", NotifyAddress::from_path("/path with space").unwrap()),
        (&max_path, NotifyAddress::from_path(&max_path).unwrap()),
        ("@x", NotifyAddress::from_abstract_name("x").unwrap()),
        (
            "@/org/freedesktop/systemd1/notify/123",
            NotifyAddress::from_abstract_name("/org/freedesktop/systemd1/notify/123").unwrap(),
        ),
        ("@name with space", NotifyAddress::from_abstract_name("name with space").unwrap()),
        ("@ünïcödé", NotifyAddress::from_abstract_name("ünïcödé").unwrap()),
        ("@@", NotifyAddress::from_abstract_name("@").unwrap()),
        (&max_abstract, NotifyAddress::from_abstract_name(&max_abstract.as_bytes()[1..]).unwrap()),
        ("vsock:2:1234", vsock(VsockKind::Any, 2, 1234)),
        ("vsock:0:0", vsock(VsockKind::Any, 0, 0)),
        ("vsock-dgram:3:5", vsock(VsockKind::Datagram, 3, 5)),
        ("vsock-stream:7:9000", vsock(VsockKind::Stream, 7, 9000)),
        ("vsock-seqpacket:4294967295:4294967294", vsock(VsockKind::SeqPacket, u32::MAX, u32::MAX - 1)),
    ];
    for (value, want) in cases {
        let parsed = parse_all_ways(value).unwrap_or_else(|e| panic!("{value:?}: {e}"));
        assert_eq!(parsed, want, "{value:?}");
        assert_eq!(parsed.to_os_string(), value, "to_os_string of {value:?}");
        assert_eq!(NotifyAddress::try_from(parsed.to_os_string()).unwrap(), parsed);
        // Printable and without a backslash: Display is the value too.
        assert_eq!(parsed.to_string(), value, "Display of {value:?}");
        assert_eq!(parsed.as_path().is_some(), value.starts_with('/'));
        assert_eq!(parsed.as_abstract_name().is_some(), value.starts_with('@'));
        assert_eq!(parsed.as_vsock().is_some(), value.starts_with("vsock"));
    }
}

/// `Display` is for people: it escapes what is not printable UTF-8 (before, `@\xffx`
/// displayed as `@\u{fffd}x`, which parses to another address). The lossless form is
/// `to_os_string()`, which round-trips through `TryFrom` for any bytes.
#[test]
fn display_escapes_and_to_os_string_is_lossless() {
    let cases: [(&[u8], &str); 8] = [
        (b"@\xffx", r"@\xffx"),
        (b"@a\nb", r"@a\nb"),
        (b"@tab\there", r"@tab\there"),
        (b"@esc\x1b", r"@esc\u{1b}"),
        (b"@back\\slash", r"@back\\slash"),
        (b"@\xc3", r"@\xc3"), // a truncated UTF-8 sequence
        (b"/tmp/\xfe\xff.sock", r"/tmp/\xfe\xff.sock"),
        (b"@\xc3\xbc\x7f", "@\u{fc}\\u{7f}"), // ü is printable, DEL is not
    ];
    for (bytes, shown) in cases {
        let address = NotifyAddress::try_from(OsStr::from_bytes(bytes)).unwrap();
        assert_eq!(address.to_string(), shown, "Display of {:?}", OsStr::from_bytes(bytes));
        assert!(format!("{address:?}").contains(shown), "Debug of {address:?}");
        // The value for NOTIFY_SOCKET is exact, and reads back as the same address.
        let value = address.to_os_string();
        assert_eq!(value.as_bytes(), bytes);
        assert_eq!(NotifyAddress::try_from(value.clone()).unwrap(), address);
        assert_eq!(NotifyAddress::try_from(value.as_os_str()).unwrap(), address);
        // The displayed text, read as a value, is another address (or none): never mistaken
        // for this one.
        assert_ne!(NotifyAddress::parse(shown).ok(), Some(address.clone()), "{shown}");
    }
    // Distinct addresses never display alike, even when one is another's escaped form.
    let raw = NotifyAddress::try_from(OsStr::from_bytes(b"@\xffx")).unwrap();
    let look_alike = NotifyAddress::parse(r"@\xffx").unwrap();
    assert_ne!(raw.to_string(), look_alike.to_string());
}

/// A receiver bound at a non-UTF-8 abstract name is reached by a child that was given
/// `Receiver::env()` (built from `to_os_string()`), byte for byte.
#[test]
fn a_child_reaches_a_non_utf8_abstract_name_through_env() {
    let name = [format!("sd-notify-{}-", std::process::id()).as_bytes(), b"\xff\xfe"].concat();
    let address = NotifyAddress::from_abstract_name(name).unwrap();
    let receiver = Receiver::bind(address.clone()).unwrap();
    let (key, value) = receiver.env();
    assert_eq!(value, address.to_os_string());
    // The child: sends to whatever NOTIFY_SOCKET says, with the kernel's credentials.
    let script = r#"import os, socket
a = os.environb[b"NOTIFY_SOCKET"]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b"READY=1", b"\0" + a[1:])"#;
    let status = std::process::Command::new("python3").arg("-c").arg(script).env(key, &value).status();
    match status {
        Ok(status) => {
            assert!(status.success(), "python3 child failed: {status}");
            assert_eq!(recv(&receiver).bytes(), b"READY=1");
        }
        // Without python3 the in-process notifier checks the same bytes.
        Err(e) => {
            eprintln!("python3 not available ({e}); in-process check only");
            Notifier::new(NotifyAddress::try_from(value).unwrap())
                .unwrap()
                .notify(&[NotifyState::Ready])
                .unwrap();
            assert_eq!(recv(&receiver).bytes(), b"READY=1");
        }
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
            let parsed = parse_all_ways(&value).unwrap();
            assert_eq!(parsed, vsock(kind, cid, 77), "{value}");
            assert_eq!(parsed.to_string(), format!("{prefix}{cid}:77"));
            assert_eq!(parsed.to_os_string(), OsString::from(format!("{prefix}{cid}:77")));
            assert_eq!(NotifyAddress::try_from(parsed.to_os_string()).unwrap(), parsed);
        }
    }
}

#[test]
fn longest_path_and_abstract_name_work_on_real_sockets() {
    // An abstract name of 106 bytes (107 with '@').
    let name = format!("@{}-{}", std::process::id(), "n".repeat(106));
    let name = &name[..107];
    let address = NotifyAddress::parse(name).unwrap();
    let receiver = Receiver::bind(address.clone()).unwrap();
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
    let receiver = Receiver::bind(address.clone()).unwrap();
    Notifier::new(address).unwrap().notify(&[NotifyState::Stopping]).unwrap();
    assert_eq!(recv(&receiver).bytes(), b"STOPPING=1");
}

#[test]
fn abstract_names_match_exactly_no_padding_no_terminator() {
    let receiver = Receiver::bind_unique_abstract().unwrap();
    let name = receiver.address().as_abstract_name().unwrap().to_vec();

    // A prefix of the name or the name plus a byte is another socket (nobody listening).
    for other in [name[..name.len() - 1].to_vec(), [name.clone(), b"x".to_vec()].concat()] {
        let n = Notifier::new(NotifyAddress::from_abstract_name(other).unwrap()).unwrap();
        let err = n.notify(&[NotifyState::Ready]).unwrap_err();
        assert_eq!(io_errno(&err), libc::ECONNREFUSED, "{err:?}");
    }
    common::assert_nothing_queued(&receiver);

    let n = Notifier::new(NotifyAddress::from_abstract_name(name).unwrap()).unwrap();
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
    let parsed = NotifyAddress::try_from(OsStr::from_bytes(&bytes)).unwrap();
    assert_eq!(parsed, NotifyAddress::from_path(PathBuf::from(OsStr::from_bytes(&bytes))).unwrap());
    assert_eq!(parsed.to_os_string().as_bytes(), bytes);
    let _ = std::fs::remove_file(OsStr::from_bytes(&bytes));
    let receiver = Receiver::bind(parsed.clone()).unwrap();
    Notifier::new(parsed).unwrap().notify(&[NotifyState::Watchdog]).unwrap();
    assert_eq!(recv(&receiver).bytes(), b"WATCHDOG=1");
}

#[test]
fn notifier_is_created_without_a_system_call() {
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
        "this needs a Unix socket: a vsock address cannot carry file descriptors, barriers or notifications for another PID, nor be bound by the receiver"
    );
    assert_eq!(barrier.raw_os_error(), Some(libc::EOPNOTSUPP));
}

/// `Receiver::bind` takes its address as `Notifier::new` does (by value) and fails with the
/// same error type; a vsock address is refused before any system call.
#[test]
fn receiver_bind_and_notifier_new_take_and_return_alike() {
    let address =
        NotifyAddress::from_abstract_name(format!("sd-notify-alike-{}", std::process::id())).unwrap();
    let receiver: Result<Receiver, Error> = Receiver::bind(address.clone());
    let notifier: Result<Notifier, Error> = Notifier::new(address);
    notifier.unwrap().notify(&[NotifyState::Ready]).unwrap();
    assert_eq!(recv(&receiver.unwrap()).bytes(), b"READY=1");
    let vsock = NotifyAddress::parse("vsock:1:1234").unwrap();
    assert!(matches!(Receiver::bind(vsock), Err(Error::NeedsUnixSocket)));
}
