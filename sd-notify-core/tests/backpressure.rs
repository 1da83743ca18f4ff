//! A full queue, a missing or wrong socket, a replaced receiver: bounded errors, no hangs,
//! no silent drops, and the reconnect-once logic.

mod common;

use std::os::fd::RawFd;
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{WAIT, assert_nothing_queued, io_errno, recv};
use sd_notify_core::{
    DEFAULT_SEND_TIMEOUT, Error, Message, Notifier, NotifyAddress, NotifyState, Receiver, SendOptions,
};

const SHORT: Duration = Duration::from_millis(100);

fn max_dgram_qlen() -> usize {
    std::fs::read_to_string("/proc/sys/net/unix/max_dgram_qlen").unwrap().trim().parse().unwrap()
}

fn temp_path(tag: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("sd-notify-bp-{tag}-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

/// The send timeout (SO_SNDTIMEO) of the notifier's socket connected to `address`.
fn socket_send_timeout(address: &NotifyAddress) -> Duration {
    let fds: Vec<RawFd> = common::fds_connected_to(address);
    assert_eq!(fds.len(), 1, "one notifier socket to {address}");
    let mut tv = libc::timeval { tv_sec: 0, tv_usec: 0 };
    let mut len = size_of::<libc::timeval>() as libc::socklen_t;
    // SAFETY: `tv` is writable for `len` bytes.
    let rc = unsafe {
        libc::getsockopt(fds[0], libc::SOL_SOCKET, libc::SO_SNDTIMEO, (&raw mut tv).cast(), &mut len)
    };
    assert_eq!(rc, 0);
    Duration::from_secs(tv.tv_sec as u64) + Duration::from_micros(tv.tv_usec as u64)
}

/// Sends `X_SEQ=i` until the queue is full; returns how many were sent.
fn fill(notifier: &Notifier) -> usize {
    let started = Instant::now();
    for i in 0..10_000 {
        let seq = i.to_string();
        match notifier.notify(&[NotifyState::Extension { key: "X_SEQ", value: &seq }]) {
            Ok(()) => {}
            Err(Error::Timeout) => {
                // Loose bound against hangs only.
                assert!(started.elapsed() < WAIT, "filling took {:?}", started.elapsed());
                return i;
            }
            Err(e) => panic!("send {i}: expected Ok or Timeout, got {e:?}"),
        }
    }
    panic!("10000 datagrams fit a receiver that never reads");
}

/// Every datagram that was accepted is queued, intact and in order; the one that timed out
/// is not (no silent drop, no half-sent message).
fn drain_and_check(receiver: &Receiver, sent: usize) {
    for i in 0..sent {
        let n = receiver.try_recv().unwrap().unwrap_or_else(|| panic!("datagram {i} of {sent} missing"));
        assert_eq!(n.bytes(), format!("X_SEQ={i}").as_bytes());
    }
    assert_nothing_queued(receiver);
}

#[test]
fn a_full_queue_is_a_timeout_not_a_hang_nor_a_drop() {
    let qlen = max_dgram_qlen();
    for receiver in [Receiver::bind_unique_path().unwrap(), Receiver::bind_unique_abstract().unwrap()] {
        let notifier = Notifier::new(receiver.address().clone()).unwrap();
        // Set before the socket exists: applied when it is created.
        notifier.set_timeout(SHORT).unwrap();
        assert_eq!(notifier.timeout(), SHORT);
        let sent = fill(&notifier);
        assert_eq!(socket_send_timeout(receiver.address()), SHORT);
        eprintln!(
            "{}: {sent} datagrams queued before the timeout (max_dgram_qlen {qlen})",
            receiver.address()
        );
        assert!(sent >= qlen, "only {sent} sent, the queue holds {qlen}");

        // Every further send times out too, including a barrier (its send part).
        let started = Instant::now();
        assert!(matches!(notifier.notify(&[NotifyState::Watchdog]), Err(Error::Timeout)));
        assert!(matches!(notifier.barrier(WAIT), Err(Error::Timeout)));
        assert!(started.elapsed() < WAIT);

        drain_and_check(&receiver, sent);
        // Room again: sending works.
        notifier.notify(&[NotifyState::Ready]).unwrap();
        assert_eq!(recv(&receiver).bytes(), b"READY=1");
    }
}

#[test]
fn set_timeout_applies_to_an_existing_socket() {
    let receiver = Receiver::bind_unique_abstract().unwrap();
    let notifier = Notifier::new(receiver.address().clone()).unwrap();
    assert_eq!(notifier.timeout(), DEFAULT_SEND_TIMEOUT);
    notifier.notify(&[NotifyState::Ready]).unwrap();
    recv(&receiver);
    assert_eq!(socket_send_timeout(receiver.address()), DEFAULT_SEND_TIMEOUT);

    notifier.set_timeout(SHORT).unwrap();
    assert_eq!(socket_send_timeout(receiver.address()), SHORT);
    let sent = fill(&notifier);
    drain_and_check(&receiver, sent);

    // Zero means "forever" to the kernel, so it becomes 1 µs (which the kernel rounds up to
    // one jiffy: non-zero, at most 10 ms at HZ=100).
    notifier.set_timeout(Duration::ZERO).unwrap();
    assert_eq!(notifier.timeout(), Duration::from_micros(1));
    let kernel = socket_send_timeout(receiver.address());
    assert!(kernel > Duration::ZERO && kernel <= Duration::from_millis(10), "SO_SNDTIMEO {kernel:?}");
    let sent = fill(&notifier);
    drain_and_check(&receiver, sent);
}

#[test]
fn a_socket_file_without_a_listener_is_econnrefused() {
    let path = temp_path("nolistener");
    // Bound then closed: the file stays, nobody listens.
    drop(UnixDatagram::bind(&path).unwrap());
    assert!(path.exists());
    let notifier = Notifier::new(NotifyAddress::from_path(path.clone()).unwrap()).unwrap();
    for _ in 0..3 {
        let err = notifier.notify(&[NotifyState::Ready]).unwrap_err();
        assert_eq!(io_errno(&err), libc::ECONNREFUSED, "{err:?}");
    }
    let (_r, w) = common::pipe();
    let fdstore = Message::from_states(&[NotifyState::FdStore]).unwrap();
    use std::os::fd::AsFd;
    assert_eq!(
        io_errno(&notifier.send_with(&fdstore, SendOptions::new().fds(&[w.as_fd()])).unwrap_err()),
        libc::ECONNREFUSED
    );
    let ready = Message::from_states(&[NotifyState::Ready]).unwrap();
    assert_eq!(
        io_errno(&notifier.send_with(&ready, SendOptions::new().on_behalf_of(1)).unwrap_err()),
        libc::ECONNREFUSED
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_missing_path_is_enoent() {
    let path = temp_path("missing");
    let notifier = Notifier::new(NotifyAddress::from_path(path).unwrap()).unwrap();
    let err = notifier.notify(&[NotifyState::Ready]).unwrap_err();
    assert_eq!(io_errno(&err), libc::ENOENT, "{err:?}");
    let notifier = Notifier::new(NotifyAddress::parse("/nonexistent-dir/sub/notify").unwrap()).unwrap();
    assert_eq!(io_errno(&notifier.notify(&[NotifyState::Ready]).unwrap_err()), libc::ENOENT);
}

/// What the kernel gives for a datagram socket connecting to a stream socket: EPROTOTYPE at
/// a path (as on 252).
#[test]
fn a_stream_socket_at_the_path_is_eprototype() {
    let path = temp_path("stream");
    let listener = UnixListener::bind(&path).unwrap();
    let notifier = Notifier::new(NotifyAddress::from_path(path.clone()).unwrap()).unwrap();
    let err = notifier.notify(&[NotifyState::Ready]).unwrap_err();
    assert_eq!(io_errno(&err), libc::EPROTOTYPE, "{err:?}");
    drop(listener);
    std::fs::remove_file(&path).unwrap();

    // An abstract stream socket is not even found: Linux hashes abstract names together with
    // the socket type, so a datagram connect sees nobody there (ECONNREFUSED, observed here).
    use std::os::linux::net::SocketAddrExt;
    let name = format!("sd-notify-bp-stream-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let _listener = UnixListener::bind_addr(&addr).unwrap();
    let notifier = Notifier::new(NotifyAddress::from_abstract_name(name.into_bytes()).unwrap()).unwrap();
    assert_eq!(io_errno(&notifier.notify(&[NotifyState::Ready]).unwrap_err()), libc::ECONNREFUSED);
}

/// A regular file where the socket should be: the kernel says ECONNREFUSED.
#[test]
fn a_regular_file_at_the_path_is_econnrefused() {
    let path = temp_path("file");
    std::fs::write(&path, b"not a socket").unwrap();
    let notifier = Notifier::new(NotifyAddress::from_path(path.clone()).unwrap()).unwrap();
    assert_eq!(io_errno(&notifier.notify(&[NotifyState::Ready]).unwrap_err()), libc::ECONNREFUSED);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn the_notifier_reconnects_to_a_replaced_path_receiver() {
    let path = temp_path("replace");
    let address = NotifyAddress::from_path(path.clone()).unwrap();
    let notifier = Notifier::new(address.clone()).unwrap();
    let mut receiver = Receiver::bind(address.clone()).unwrap();
    notifier.notify(&[NotifyState::Status("to receiver 0")]).unwrap();
    assert_eq!(recv(&receiver).bytes(), b"STATUS=to receiver 0");
    let socket = common::fds_connected_to(&address);
    assert_eq!(socket.len(), 1);
    for round in 1..=3 {
        // The manager re-creates its socket: the old one closes (the drop removes its file)
        // and a new one is bound at the same path.
        drop(receiver);
        assert!(!path.exists());
        receiver = Receiver::bind(address.clone()).unwrap();
        let status = format!("to receiver {round}");
        notifier.notify(&[NotifyState::Status(&status)]).unwrap();
        assert_eq!(recv(&receiver).bytes(), format!("STATUS={status}").as_bytes());
        assert_nothing_queued(&receiver);
        assert_eq!(common::fds_connected_to(&address), socket, "the same socket, connected again");
    }
}

#[test]
fn the_notifier_reconnects_to_a_replaced_abstract_receiver() {
    let first = Receiver::bind_unique_abstract().unwrap();
    let address = first.address().clone();
    let notifier = Notifier::new(address.clone()).unwrap();
    notifier.notify(&[NotifyState::Ready]).unwrap();
    assert_eq!(recv(&first).bytes(), b"READY=1");
    let socket = common::fds_connected_to(&address);
    assert_eq!(socket.len(), 1);
    drop(first);

    let second = Receiver::bind(address.clone()).unwrap();
    notifier.notify(&[NotifyState::Status("second")]).unwrap();
    assert_eq!(recv(&second).bytes(), b"STATUS=second");
    assert_eq!(common::fds_connected_to(&address), socket, "the same socket, connected again");
    assert_nothing_queued(&second);
}

#[test]
fn the_notifier_recovers_after_failing_while_the_receiver_was_gone() {
    let path = temp_path("gone");
    let address = NotifyAddress::from_path(path.clone()).unwrap();
    let notifier = Notifier::new(address.clone()).unwrap();
    let first = Receiver::bind(address.clone()).unwrap();
    notifier.notify(&[NotifyState::Ready]).unwrap();
    assert_eq!(recv(&first).bytes(), b"READY=1");
    drop(first); // removes the file

    // While nobody is there: a clean error, every time.
    for _ in 0..2 {
        let err = notifier.notify(&[NotifyState::Watchdog]).unwrap_err();
        assert!(
            matches!(io_errno(&err), libc::ENOENT | libc::ECONNREFUSED),
            "expected ENOENT or ECONNREFUSED, got {err:?}"
        );
    }
    // The manager is back: the next send reaches it, and nothing stale was queued.
    let second = Receiver::bind(address.clone()).unwrap();
    notifier.notify(&[NotifyState::Status("back")]).unwrap();
    assert_eq!(recv(&second).bytes(), b"STATUS=back");
    assert_nothing_queued(&second);
}

#[test]
fn with_fds_and_credentials_the_notifier_reconnects_too() {
    let first = Receiver::bind_unique_abstract().unwrap();
    let address = first.address().clone();
    let notifier = Notifier::new(address.clone()).unwrap();
    notifier.notify(&[NotifyState::Ready]).unwrap();
    recv(&first);
    drop(first);
    let second = Receiver::bind(address.clone()).unwrap();
    let (_r, w) = common::pipe();
    use std::os::fd::AsFd;
    notifier
        .send_with(
            &Message::from_states(&[NotifyState::FdStore]).unwrap(),
            SendOptions::new().fds(&[w.as_fd()]),
        )
        .unwrap();
    let n = recv(&second);
    assert_eq!((n.bytes(), n.fds().len()), (&b"FDSTORE=1"[..], 1));
    drop(second);

    // Credentials (PID 1 always exists; root claims it, anyone else falls back to ours).
    // SAFETY: geteuid has no preconditions.
    let claimed = if unsafe { libc::geteuid() } == 0 { 1 } else { std::process::id() };
    let third = Receiver::bind(address.clone()).unwrap();
    let stopping = Message::from_states(&[NotifyState::Stopping]).unwrap();
    notifier.send_with(&stopping, SendOptions::new().on_behalf_of(1)).unwrap();
    let n = recv(&third);
    assert_eq!((n.bytes(), n.pid()), (&b"STOPPING=1"[..], Some(claimed)));
    drop(third);

    // Both at once.
    let fourth = Receiver::bind(address.clone()).unwrap();
    let fdstore = Message::from_states(&[NotifyState::FdStore]).unwrap();
    notifier.send_with(&fdstore, SendOptions::new().fds(&[w.as_fd()]).on_behalf_of(1)).unwrap();
    let n = recv(&fourth);
    assert_eq!((n.bytes(), n.fds().len(), n.pid()), (&b"FDSTORE=1"[..], 1, Some(claimed)));
}

/// As libsystemd: SO_SNDBUF raised towards 8 MiB (the kernel caps the request at
/// net.core.wmem_max and doubles it).
#[test]
fn the_notifier_raises_its_send_buffer() {
    let read = |p: &str| -> libc::c_int { std::fs::read_to_string(p).unwrap().trim().parse().unwrap() };
    let wmem_max = read("/proc/sys/net/core/wmem_max");
    let wmem_default = read("/proc/sys/net/core/wmem_default");
    let receiver = Receiver::bind_unique_abstract().unwrap();
    let notifier = Notifier::new(receiver.address().clone()).unwrap();
    notifier.notify(&[NotifyState::Ready]).unwrap();
    let fds = common::fds_connected_to(receiver.address());
    assert_eq!(fds.len(), 1);
    let mut size: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `size` is writable for `len` bytes.
    let rc = unsafe {
        libc::getsockopt(fds[0], libc::SOL_SOCKET, libc::SO_SNDBUF, (&raw mut size).cast(), &mut len)
    };
    assert_eq!(rc, 0);
    let expected = 2 * wmem_max.min(8 << 20);
    assert_eq!(size, expected, "SO_SNDBUF (wmem_default {wmem_default}, wmem_max {wmem_max})");
}
