//! The receiver reads datagrams as the manager of systemd 252 and later does: raw datagrams
//! sent with libc `sendto(2)` on a plain socket (not through the crate's notifier).

mod common;

use std::io;

use common::{assert_nothing_queued, recv};
use sd_notify_core::{DropReason, Error, MAX_MESSAGE_LEN, NotifyAddress, NotifyState, Receiver};

/// Sends `bytes` as one datagram to `to` from a fresh, unconnected AF_UNIX socket.
fn raw_sendto(to: &NotifyAddress, bytes: &[u8]) {
    // SAFETY: socket() has no memory preconditions.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    assert!(fd >= 0, "socket: {}", io::Error::last_os_error());
    // SAFETY: sockaddr_un is plain old data; all-zero is valid.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let name = common::sun_path_of(to);
    for (dst, &src) in addr.sun_path.iter_mut().zip(&name) {
        *dst = src as libc::c_char;
    }
    // Paths are NUL-terminated (the zeroed byte after them), abstract names are not.
    let extra = usize::from(to.as_path().is_some());
    let len = (size_of::<libc::sa_family_t>() + name.len() + extra) as libc::socklen_t;
    let big: libc::c_int = 1 << 20;
    // SAFETY: `big` is a valid c_int for SO_SNDBUF; failure (capped) is fine.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            (&raw const big).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    // SAFETY: `bytes` and `addr` are valid for the lengths passed for the duration of the call.
    let sent = unsafe {
        libc::sendto(
            fd,
            bytes.as_ptr().cast(),
            bytes.len(),
            libc::MSG_NOSIGNAL,
            (&raw const addr).cast(),
            len,
        )
    };
    let err = io::Error::last_os_error();
    // SAFETY: `fd` was returned by socket() above and is closed exactly once.
    unsafe { libc::close(fd) };
    assert_eq!(sent, bytes.len() as isize, "sendto: {err}");
}

fn lines(v: &[&str]) -> Result<Vec<String>, DropReason> {
    Ok(v.iter().map(|s| (*s).to_owned()).collect())
}

/// A datagram and its lines as 252 reads them.
type Vector = (Vec<u8>, Result<Vec<String>, DropReason>);

fn vectors() -> Vec<Vector> {
    vec![
        (b"READY=1".to_vec(), lines(&["READY=1"])),
        (b"READY=1\nSTATUS=a".to_vec(), lines(&["READY=1", "STATUS=a"])),
        // \r splits as \n does
        (b"READY=1\rSTATUS=a".to_vec(), lines(&["READY=1", "STATUS=a"])),
        (b"READY=1\r\nSTATUS=a".to_vec(), lines(&["READY=1", "STATUS=a"])),
        // empty lines dropped, leading and trailing separators too
        (b"\n\nREADY=1\n\r\n\rSTATUS=x\n\n".to_vec(), lines(&["READY=1", "STATUS=x"])),
        (b"\n\r\n".to_vec(), lines(&[])),
        (b"".to_vec(), lines(&[])),
        // spaces kept
        (b"READY=1 ".to_vec(), lines(&["READY=1 "])),
        (b" READY=1".to_vec(), lines(&[" READY=1"])),
        (b"STATUS=  two  spaces ".to_vec(), lines(&["STATUS=  two  spaces "])),
        // a backslash escapes the next byte and is removed
        (b"STATUS=C:\\dir".to_vec(), lines(&["STATUS=C:dir"])),
        (b"STATUS=x\\\\".to_vec(), lines(&["STATUS=x\\"])),
        (b"\\READY=1".to_vec(), lines(&["READY=1"])),
        // a backslash before a newline joins the lines
        (b"STATUS=a\\\nREADY=1".to_vec(), lines(&["STATUS=a\nREADY=1"])),
        (b"STATUS=a\\\rREADY=1".to_vec(), lines(&["STATUS=a\rREADY=1"])),
        // a lone trailing backslash drops the datagram
        (b"STATUS=x\\".to_vec(), Err(DropReason::TrailingBackslash)),
        (b"READY=1\nSTATUS=x\\".to_vec(), Err(DropReason::TrailingBackslash)),
        (b"\\".to_vec(), Err(DropReason::TrailingBackslash)),
        (b"STATUS=x\\\\\\".to_vec(), Err(DropReason::TrailingBackslash)),
        // NUL anywhere drops it
        (b"READY=1\0".to_vec(), Err(DropReason::Nul)),
        (b"\0READY=1".to_vec(), Err(DropReason::Nul)),
        (b"READY=1\nSTATUS=a\0b".to_vec(), Err(DropReason::Nul)),
        // invalid UTF-8 is read lossily, not dropped
        (b"STATUS=\xff".to_vec(), lines(&["STATUS=\u{fffd}"])),
        // barrier lines are lines like any other here (is_barrier looks at them)
        (b"READY=1\nBARRIER=1\nSTATUS=x".to_vec(), lines(&["READY=1", "BARRIER=1", "STATUS=x"])),
    ]
}

#[test]
fn raw_datagrams_are_read_as_252_reads_them() {
    for receiver in [Receiver::bind_unique_path().unwrap(), Receiver::bind_unique_abstract().unwrap()] {
        for (bytes, want) in vectors() {
            raw_sendto(receiver.address(), &bytes);
            let n = recv(&receiver);
            assert_eq!(n.bytes(), bytes);
            assert_eq!(n.datagram_len(), bytes.len());
            assert_eq!(n.is_empty(), bytes.is_empty());
            assert_eq!(n.lines().map(<[String]>::to_vec), want, "{n:?}");
            common::assert_from_us(&n);
        }
        assert_nothing_queued(&receiver);
    }
}

#[test]
fn states_follow_the_lines() {
    let receiver = Receiver::bind_unique_abstract().unwrap();
    let cases: Vec<(&[u8], Vec<NotifyState<'static>>)> = vec![
        (b"READY=1\rSTATUS=a", vec![NotifyState::Ready, NotifyState::Status("a")]),
        // "READY=1 " is not READY
        (b"READY=1 ", vec![NotifyState::Other { key: "READY", value: "1 " }]),
        (b" READY=1", vec![NotifyState::Other { key: " READY", value: "1" }]),
        (b"READY=2", vec![NotifyState::Other { key: "READY", value: "2" }]),
        (b"STATUS=C:\\dir", vec![NotifyState::Status("C:dir")]),
        // joined by an escaped newline: one STATUS line, not READY; its value breaks the
        // STATUS rules, so it parses as a free-form line
        (b"STATUS=a\\\nREADY=1", vec![NotifyState::Other { key: "STATUS", value: "a\nREADY=1" }]),
        // lines without '=' are skipped
        (b"garbage\nREADY=1\n=", vec![NotifyState::Ready, NotifyState::Other { key: "", value: "" }]),
        (
            b"WATCHDOG=trigger\nX_Y=z",
            vec![NotifyState::WatchdogTrigger, NotifyState::Extension { key: "X_Y", value: "z" }],
        ),
        (
            b"MAINPID=0\nERRNO=4096",
            vec![
                NotifyState::Other { key: "MAINPID", value: "0" },
                NotifyState::Other { key: "ERRNO", value: "4096" },
            ],
        ),
        (b"BARRIER=1 ", vec![NotifyState::Other { key: "BARRIER", value: "1 " }]),
        // dropped datagrams have no states
        (b"READY=1\nSTATUS=x\\", vec![]),
        (b"READY=1\0", vec![]),
        (b"", vec![]),
    ];
    for (bytes, want) in cases {
        raw_sendto(receiver.address(), bytes);
        let n = recv(&receiver);
        assert_eq!(n.states(), want, "{n:?}");
        assert!(!n.is_barrier(), "{n:?}");
    }
}

#[test]
fn barrier_lines_make_a_barrier_and_hide_the_other_states() {
    let receiver = Receiver::bind_unique_abstract().unwrap();
    for bytes in [&b"BARRIER=1"[..], b"READY=1\nBARRIER=1\nSTATUS=x", b"BARRIER=1\rREADY=1", b"\\BARRIER=1"] {
        raw_sendto(receiver.address(), bytes);
        let n = recv(&receiver);
        assert!(n.is_barrier(), "{n:?}");
        assert_eq!(n.states(), [], "{n:?}");
        assert!(n.lines().unwrap().iter().any(|l| l == "BARRIER=1"));
    }
    for bytes in [&b"BARRIER=1\\"[..], b"BARRIER=1\0", b"BARRIER=10", b"X_BARRIER=1"] {
        raw_sendto(receiver.address(), bytes);
        let n = recv(&receiver);
        assert!(!n.is_barrier(), "{n:?}");
    }
}

#[test]
fn oversized_datagrams_are_dropped_and_report_their_full_length() {
    let receiver = Receiver::bind_unique_abstract().unwrap();
    for size in [MAX_MESSAGE_LEN + 1, 5000, 65_000] {
        let mut bytes = b"STATUS=".to_vec();
        bytes.resize(size, b'z');
        raw_sendto(receiver.address(), &bytes);
        let n = recv(&receiver);
        assert_eq!(n.datagram_len(), size, "datagram_len() is the full datagram size");
        assert_eq!(n.bytes(), &bytes[..MAX_MESSAGE_LEN + 1], "bytes() keeps the first 4097");
        // The honest name: for a datagram beyond the 4097 kept bytes, the two differ.
        assert_eq!(n.datagram_len() > n.bytes().len(), size > MAX_MESSAGE_LEN + 1);
        assert_eq!(n.lines(), Err(DropReason::TooLong));
        assert_eq!(n.states(), []);
        assert!(!n.is_barrier());
    }
    // 4096 is not too long.
    let mut bytes = b"STATUS=".to_vec();
    bytes.resize(MAX_MESSAGE_LEN, b'z');
    raw_sendto(receiver.address(), &bytes);
    let n = recv(&receiver);
    assert_eq!(n.datagram_len(), MAX_MESSAGE_LEN);
    assert_eq!(n.bytes(), bytes);
    assert_eq!(n.states(), [NotifyState::Status(std::str::from_utf8(&bytes[7..]).unwrap())]);
}

#[test]
fn receiver_waits_are_bounded() {
    let receiver = Receiver::bind_unique_abstract().unwrap();
    assert!(receiver.try_recv().unwrap().is_none());
    let err = receiver.recv_timeout(std::time::Duration::from_millis(20)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);
}

#[test]
fn receiver_addresses_and_cleanup() {
    let path_receiver = Receiver::bind_unique_path().unwrap();
    let path = path_receiver.address().as_path().unwrap().to_owned();
    assert!(path.is_absolute());
    assert!(std::fs::symlink_metadata(&path).is_ok(), "socket file exists while bound");
    // Binding the same address again fails with EADDRINUSE.
    let err = Receiver::bind(path_receiver.address().clone()).unwrap_err();
    assert!(matches!(&err, Error::Io(e) if e.raw_os_error() == Some(libc::EADDRINUSE)), "{err:?}");
    drop(path_receiver);
    assert!(std::fs::symlink_metadata(&path).is_err(), "socket file removed on drop");

    let a = Receiver::bind_unique_abstract().unwrap();
    let b = Receiver::bind_unique_abstract().unwrap();
    assert_ne!(a.address(), b.address());
    assert!(a.address().to_string().starts_with("@sd-notify-"));
    assert_eq!(Receiver::bind(a.address().clone()).unwrap_err().raw_os_error(), Some(libc::EADDRINUSE));
    // A vsock address is refused by the receiver.
    let vsock = NotifyAddress::parse("vsock:1:1234").unwrap();
    assert!(matches!(Receiver::bind(vsock), Err(Error::NeedsUnixSocket)));
}

/// `DropReason` is an error of its own: words for people, usable with `?` and `Box<dyn Error>`.
#[test]
fn drop_reasons_are_errors_with_words() {
    let receiver = Receiver::bind_unique_abstract().unwrap();
    for (bytes, reason, words) in [
        (&b"READY=1\0"[..], DropReason::Nul, "the datagram contains a NUL byte"),
        (b"STATUS=x\\", DropReason::TrailingBackslash, "the datagram ends in a lone backslash"),
        (&[b'z'; MAX_MESSAGE_LEN + 1], DropReason::TooLong, "the datagram is longer than 4096 bytes"),
    ] {
        raw_sendto(receiver.address(), bytes);
        let n = recv(&receiver);
        assert_eq!(n.lines(), Err(reason));
        let err: Box<dyn std::error::Error> = n.lines().unwrap_err().into();
        assert_eq!(err.to_string(), words);
        assert!(err.source().is_none());
    }
}
