//! vsock notification sockets (`vsock:`, `vsock-dgram:`, `vsock-seqpacket:`, `vsock-stream:`)
//! against a listener bound with libc on CID 1 (VMADDR_CID_LOCAL, the loopback transport).
//!
//! Where the kernel has no vsock loopback (socket() or bind() fails: EAFNOSUPPORT,
//! EADDRNOTAVAIL, ENODEV, …) the loopback tests print `SKIPPED: <reason>` to stderr and
//! return. The error-path tests at the end need no listener and always run.

mod common;

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use common::WAIT;
use sd_notify_core::{Error, Message, Notifier, NotifyAddress, NotifyState, SendOptions};

/// A socket of `sock_type` bound to CID 1 on a free port (listening, for connection types);
/// Err(reason) when the kernel cannot do that.
fn local_listener(sock_type: libc::c_int) -> Result<(OwnedFd, u32), String> {
    // SAFETY: socket() has no memory preconditions.
    let raw = unsafe { libc::socket(libc::AF_VSOCK, sock_type | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(format!("socket(AF_VSOCK, {sock_type}): {}", io::Error::last_os_error()));
    }
    // SAFETY: `raw` was just returned by socket().
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: sockaddr_vm is plain old data; all-zero is valid.
    let mut addr: libc::sockaddr_vm = unsafe { std::mem::zeroed() };
    addr.svm_family = libc::AF_VSOCK as libc::sa_family_t;
    addr.svm_cid = libc::VMADDR_CID_LOCAL;
    addr.svm_port = libc::VMADDR_PORT_ANY;
    let len = size_of::<libc::sockaddr_vm>() as libc::socklen_t;
    // SAFETY: `addr` is a valid sockaddr_vm of `len` bytes.
    if unsafe { libc::bind(fd.as_raw_fd(), (&raw const addr).cast(), len) } != 0 {
        return Err(format!("bind(AF_VSOCK, CID 1 local): {}", io::Error::last_os_error()));
    }
    let mut got_len = len;
    // SAFETY: `addr` is writable for `got_len` bytes.
    if unsafe { libc::getsockname(fd.as_raw_fd(), (&raw mut addr).cast(), &mut got_len) } != 0 {
        return Err(format!("getsockname: {}", io::Error::last_os_error()));
    }
    if sock_type != libc::SOCK_DGRAM {
        // SAFETY: listen() has no memory preconditions.
        if unsafe { libc::listen(fd.as_raw_fd(), 4) } != 0 {
            return Err(format!("listen: {}", io::Error::last_os_error()));
        }
    }
    Ok((fd, addr.svm_port))
}

/// Waits until `fd` is readable (bounded).
fn wait_readable(fd: &OwnedFd) {
    let mut pfd = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: `pfd` is one valid pollfd.
    let n = unsafe { libc::poll(&mut pfd, 1, WAIT.as_millis() as libc::c_int) };
    assert_eq!(n, 1, "nothing to read within {WAIT:?}");
}

fn accept(listener: &OwnedFd) -> OwnedFd {
    wait_readable(listener);
    // SAFETY: accept4 with null address pointers only returns a new descriptor.
    let raw = unsafe {
        libc::accept4(listener.as_raw_fd(), std::ptr::null_mut(), std::ptr::null_mut(), libc::SOCK_CLOEXEC)
    };
    assert!(raw >= 0, "accept: {}", io::Error::last_os_error());
    // SAFETY: `raw` was just returned by accept4().
    unsafe { OwnedFd::from_raw_fd(raw) }
}

fn recv_once(fd: &OwnedFd) -> Vec<u8> {
    wait_readable(fd);
    let mut buf = vec![0u8; 8192];
    // SAFETY: `buf` is writable for its length.
    let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    assert!(n >= 0, "recv: {}", io::Error::last_os_error());
    buf.truncate(n as usize);
    buf
}

fn read_to_eof(fd: &OwnedFd) -> Vec<u8> {
    let mut all = Vec::new();
    loop {
        let chunk = recv_once(fd);
        if chunk.is_empty() {
            return all;
        }
        all.extend_from_slice(&chunk);
    }
}

/// Runs one loopback case, or prints why it is skipped.
fn loopback(prefix: &str, sock_type: libc::c_int) {
    let (listener, port) = match local_listener(sock_type) {
        Ok(l) => l,
        Err(reason) => {
            eprintln!("SKIPPED: {prefix} loopback test: no vsock loopback on this kernel ({reason})");
            return;
        }
    };
    let notifier = Notifier::new(NotifyAddress::parse(&format!("{prefix}1:{port}")).unwrap()).unwrap();
    let expected: &[u8] = b"READY=1\nSTATUS=over vsock";
    std::thread::scope(|s| {
        let server = s.spawn(|| match sock_type {
            libc::SOCK_DGRAM => recv_once(&listener),
            libc::SOCK_SEQPACKET => recv_once(&accept(&listener)),
            _ => read_to_eof(&accept(&listener)),
        });
        notifier.notify(&[NotifyState::Ready, NotifyState::Status("over vsock")]).unwrap();
        assert_eq!(server.join().unwrap(), expected);
    });
}

#[test]
fn vsock_dgram_loopback() {
    loopback("vsock-dgram:", libc::SOCK_DGRAM);
}

#[test]
fn vsock_seqpacket_loopback() {
    loopback("vsock-seqpacket:", libc::SOCK_SEQPACKET);
}

#[test]
fn vsock_stream_loopback_reads_to_eof() {
    loopback("vsock-stream:", libc::SOCK_STREAM);
}

#[test]
fn plain_vsock_falls_back_to_a_stream_listener() {
    // Plain `vsock:` tries dgram, then seqpacket, then stream.
    loopback("vsock:", libc::SOCK_STREAM);
}

/// `on_behalf_of` 0 or our own PID claims nothing, so it works over vsock like a plain send.
#[test]
fn vsock_sends_on_our_own_behalf() {
    let (listener, port) = match local_listener(libc::SOCK_STREAM) {
        Ok(l) => l,
        Err(reason) => {
            eprintln!("SKIPPED: vsock on our own behalf: no vsock loopback on this kernel ({reason})");
            return;
        }
    };
    let notifier = Notifier::new(NotifyAddress::parse(&format!("vsock-stream:1:{port}")).unwrap()).unwrap();
    let ready = Message::from_states(&[NotifyState::Ready]).unwrap();
    for pid in [0, std::process::id()] {
        std::thread::scope(|s| {
            let server = s.spawn(|| read_to_eof(&accept(&listener)));
            notifier.send_with(&ready, SendOptions::new().on_behalf_of(pid)).unwrap();
            assert_eq!(server.join().unwrap(), b"READY=1", "pid {pid}");
        });
    }
}

/// Credentials of another process and descriptors need an `AF_UNIX` socket: refused before
/// any connection, for sends and barriers alike.
#[test]
fn vsock_refuses_another_pid_fds_and_barriers() {
    let notifier = Notifier::new(NotifyAddress::parse("vsock:1:1234").unwrap()).unwrap();
    let ready = Message::from_states(&[NotifyState::Ready]).unwrap();
    let fdstore = Message::from_states(&[NotifyState::FdStore]).unwrap();
    let (_r, w) = common::pipe();
    use std::os::fd::AsFd;
    let refused = |r: Result<(), Error>| matches!(r, Err(Error::NeedsUnixSocket));
    assert!(refused(notifier.send_with(&ready, SendOptions::new().on_behalf_of(1))));
    assert!(refused(notifier.send_with(&fdstore, SendOptions::new().fds(&[w.as_fd()]))));
    assert!(refused(notifier.send_with(&fdstore, SendOptions::new().fds(&[w.as_fd()]).on_behalf_of(1))));
    assert!(refused(notifier.barrier_on_behalf_of(1, WAIT)));
    assert!(refused(notifier.barrier_on_behalf_of(0, WAIT)));
    // Ourselves (0 or our PID) claims nothing: not refused, whatever the transport says
    // (here without a listener, and maybe without vsock at all).
    let notifier = Notifier::new(NotifyAddress::parse("vsock-dgram:local:1").unwrap()).unwrap();
    notifier.set_timeout(Duration::from_millis(500)).unwrap();
    for pid in [0, std::process::id()] {
        let result = notifier.send_with(&ready, SendOptions::new().on_behalf_of(pid));
        assert!(!refused(result), "pid {pid}");
    }
}

/// No listener (and, here, maybe no transport): a clean `Error::Io`, or `Error::Timeout` when
/// the connect ran out of the notifier's time; bounded, no panic.
#[test]
fn vsock_without_listener_is_an_io_error() {
    for prefix in ["vsock:", "vsock-dgram:", "vsock-seqpacket:", "vsock-stream:"] {
        // Port 1 on the local CID: nobody listens there in a test environment.
        let notifier = Notifier::new(NotifyAddress::parse(&format!("{prefix}local:1")).unwrap()).unwrap();
        notifier.set_timeout(Duration::from_millis(500)).unwrap();
        let started = Instant::now();
        match notifier.notify(&[NotifyState::Ready]) {
            Err(Error::Io(e)) => eprintln!("{prefix}local:1 -> {e} (errno {:?})", e.raw_os_error()),
            Err(Error::Timeout) => eprintln!("{prefix}local:1 -> timeout"),
            // A datagram transport may accept a datagram nobody will read.
            Ok(()) if prefix == "vsock-dgram:" || prefix == "vsock:" => eprintln!("{prefix}local:1 -> sent"),
            other => panic!("{prefix}local:1: expected Error::Io or Error::Timeout, got {other:?}"),
        }
        assert!(started.elapsed() < WAIT, "{prefix}: took {:?}", started.elapsed());
    }
}
