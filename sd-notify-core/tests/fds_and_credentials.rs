//! Descriptor passing (SCM_RIGHTS) and credentials (SCM_CREDENTIALS) on real sockets, alone
//! and together (`send_with`, `barrier_on_behalf_of`); the notifier's own socket is
//! close-on-exec.

mod common;

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::process::{Command, Stdio};

use common::{assert_from_us, assert_nothing_queued, both_kinds, is_cloexec, pair, recv};
use sd_notify_core::{MAX_FDS, Message, NotifyState, SendOptions};

fn inode(fd: BorrowedFd<'_>) -> (u64, u64) {
    // SAFETY: stat is plain old data; all-zero is valid.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is writable; `fd` is open for the call.
    assert_eq!(unsafe { libc::fstat(fd.as_raw_fd(), &mut st) }, 0);
    (st.st_dev, st.st_ino)
}

/// Sends the write ends of `count` pipes with FDSTORE=1 + FDNAME=, checks that they arrive in
/// order, refer to the same pipes, and are close-on-exec on the receiving side.
fn pass_pipes(count: usize) {
    common::raise_fd_limit();
    for (receiver, notifier) in both_kinds() {
        let pipes: Vec<(File, File)> = (0..count).map(|_| common::pipe()).collect();
        let fds: Vec<BorrowedFd<'_>> = pipes.iter().map(|(_, w)| w.as_fd()).collect();
        let msg = Message::from_states(&[NotifyState::FdStore, NotifyState::FdName("pipes")]).unwrap();
        notifier.send_with(&msg, SendOptions::new().fds(&fds)).unwrap();

        let mut n = recv(&receiver);
        assert_eq!(n.bytes(), b"FDSTORE=1\nFDNAME=pipes");
        assert_eq!(n.states(), [NotifyState::FdStore, NotifyState::FdName("pipes")]);
        assert_from_us(&n);
        assert_eq!(n.fds().len(), count);
        for (got, (_, ours)) in n.fds().iter().zip(&pipes) {
            assert_ne!(got.as_raw_fd(), ours.as_raw_fd(), "a new descriptor in the receiver");
            assert_eq!(inode(got.as_fd()), inode(ours.as_fd()), "same pipe");
            assert!(is_cloexec(got.as_fd()), "received descriptors are close-on-exec");
        }
        let received = n.take_fds();
        assert!(n.fds().is_empty());
        // Close our write ends: the received copies keep the pipes open.
        let (mut reads, writes): (Vec<File>, Vec<File>) = pipes.into_iter().unzip();
        drop(writes);
        for (i, fd) in received.into_iter().enumerate() {
            let mut w = File::from(fd);
            write!(w, "pipe {i}").unwrap();
        }
        for (i, r) in reads.iter_mut().enumerate() {
            let mut got = String::new();
            // All write ends are closed now, so this reads to EOF.
            r.read_to_string(&mut got).unwrap();
            assert_eq!(got, format!("pipe {i}"));
        }
        assert_nothing_queued(&receiver);
    }
}

#[test]
fn one_descriptor_arrives_and_is_the_same_pipe() {
    pass_pipes(1);
}

#[test]
fn two_descriptors_arrive_in_order() {
    pass_pipes(2);
}

#[test]
fn the_maximum_of_253_descriptors_arrive_in_order() {
    assert_eq!(MAX_FDS, 253);
    pass_pipes(MAX_FDS);
}

#[test]
fn a_pidfd_travels_with_mainpidfd() {
    let (receiver, notifier) = pair();
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, std::process::id() as libc::pid_t, 0) };
    assert!(raw >= 0, "pidfd_open: {}", std::io::Error::last_os_error());
    // SAFETY: pidfd_open just returned this descriptor; nobody else owns it.
    let pidfd = unsafe { OwnedFd::from_raw_fd(raw as i32) };
    notifier
        .send_with(
            &Message::from_states(&[NotifyState::MainPidFd]).unwrap(),
            SendOptions::new().fds(&[pidfd.as_fd()]),
        )
        .unwrap();
    let n = recv(&receiver);
    assert_eq!(n.bytes(), b"MAINPIDFD=1");
    let [got] = n.fds() else { panic!("one fd expected: {n:?}") };
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", got.as_raw_fd())).unwrap();
    assert!(
        info.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["Pid:", &std::process::id().to_string()]),
        "received descriptor is a pidfd of ours: {info}"
    );
    assert!(is_cloexec(got.as_fd()));
}

#[test]
fn the_notifier_keeps_one_close_on_exec_socket() {
    for (receiver, notifier) in both_kinds() {
        // No system call before the first send.
        assert_eq!(common::fds_connected_to(receiver.address()), [], "socket before the first send");
        for _ in 0..20 {
            notifier.notify(&[NotifyState::Watchdog]).unwrap();
            assert_eq!(recv(&receiver).bytes(), b"WATCHDOG=1");
        }
        let sockets = common::fds_connected_to(receiver.address());
        assert_eq!(sockets.len(), 1, "one socket for all sends: {sockets:?}");
        // SAFETY: the descriptor belongs to `notifier`, alive for the whole borrow.
        let socket = unsafe { BorrowedFd::borrow_raw(sockets[0]) };
        assert!(is_cloexec(socket), "the notifier's socket must be close-on-exec");

        // A child does not inherit it: its descriptor table has no such socket.
        let (_, ino) = inode(socket);
        let out = Command::new("sh")
            .args(["-c", "ls -l /proc/$$/fd"])
            .stdin(Stdio::null())
            .output()
            .expect("run sh");
        assert!(out.status.success());
        let listing = String::from_utf8_lossy(&out.stdout);
        assert!(listing.contains("/proc/") || listing.contains("->"), "unexpected listing: {listing}");
        assert!(
            !listing.contains(&format!("socket:[{ino}]")),
            "the child inherited the notifier socket:\n{listing}"
        );

        drop(notifier);
        assert_eq!(
            common::fds_connected_to(receiver.address()),
            [],
            "the socket is closed with the notifier"
        );
    }
}

/// A PID that no process has: counted down from pid_max, checked with kill(pid, 0).
fn unused_pid() -> u32 {
    let max: u32 = std::fs::read_to_string("/proc/sys/kernel/pid_max").unwrap().trim().parse().unwrap();
    (300..max)
        .rev()
        .find(|&pid| {
            // SAFETY: kill with signal 0 only checks for existence.
            let rc = unsafe { libc::kill(pid as libc::pid_t, 0) };
            rc == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
        })
        .expect("a free pid")
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn on_behalf_of_another_pid_claims_that_pid_when_privileged() {
    let child = Sleeper::spawn();
    let child_pid = child.pid();
    let (_, uid, gid) = common::our_creds();
    for (receiver, notifier) in both_kinds() {
        notifier
            .send_with(
                &Message::from_states(&[NotifyState::Ready, NotifyState::MainPid(child_pid)]).unwrap(),
                SendOptions::new().on_behalf_of(child_pid),
            )
            .unwrap();
        let n = recv(&receiver);
        assert_eq!(n.bytes(), format!("READY=1\nMAINPID={child_pid}").as_bytes());
        assert_eq!((n.pid(), n.uid(), n.gid()), (claimed(child_pid), Some(uid), Some(gid)));
        assert_nothing_queued(&receiver);
    }
}

#[test]
fn on_behalf_of_a_pid_that_does_not_exist_falls_back_to_ours() {
    let ghost = unused_pid();
    for (receiver, notifier) in both_kinds() {
        notifier
            .send_with(
                &Message::from_states(&[NotifyState::Stopping]).unwrap(),
                SendOptions::new().on_behalf_of(ghost),
            )
            .unwrap();
        let n = recv(&receiver);
        assert_eq!(n.bytes(), b"STOPPING=1");
        assert_from_us(&n);
        // Exactly one datagram: the failed attempt sent nothing.
        assert_nothing_queued(&receiver);
    }
}

#[test]
fn on_behalf_of_an_exited_and_reaped_child_falls_back_to_ours() {
    let mut child = Command::new("true").spawn().expect("spawn true");
    let pid = child.id();
    child.wait().unwrap();
    // SAFETY: kill with signal 0 only checks for existence.
    if unsafe { libc::kill(pid as libc::pid_t, 0) } == 0 {
        eprintln!("pid {pid} was reused at once; nothing to check");
        return;
    }
    let (receiver, notifier) = pair();
    notifier
        .send_with(
            &Message::from_states(&[NotifyState::Status("bye")]).unwrap(),
            SendOptions::new().on_behalf_of(pid),
        )
        .unwrap();
    let n = recv(&receiver);
    assert_eq!(n.bytes(), b"STATUS=bye");
    assert_from_us(&n);
}

/// A child that lives while a test claims its PID; killed and reaped on drop.
struct Sleeper(std::process::Child);

impl Sleeper {
    fn spawn() -> Self {
        Sleeper(Command::new("sleep").arg("30").stdin(Stdio::null()).spawn().expect("spawn sleep"))
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The PID a datagram that claims `pid` arrives with: `pid` where the kernel lets us claim
/// it (root), ours otherwise (the EPERM fallback).
fn claimed(pid: u32) -> Option<u32> {
    if is_root() {
        Some(pid)
    } else {
        eprintln!("not root: checking the EPERM fallback to our own pid instead");
        Some(std::process::id())
    }
}

/// `sd_pid_notify_with_fds` with a PID: descriptors and credentials in one datagram.
#[test]
fn fds_on_behalf_of_another_pid_travel_in_one_datagram() {
    let child = Sleeper::spawn();
    let (_, uid, gid) = common::our_creds();
    for (receiver, notifier) in both_kinds() {
        let (_read, write) = common::pipe();
        let msg = Message::from_states(&[NotifyState::FdStore, NotifyState::FdName("relayed")]).unwrap();
        let fds = [write.as_fd()];
        let options = SendOptions::new().fds(&fds).on_behalf_of(child.pid());
        notifier.send_with(&msg, options).unwrap();
        let n = recv(&receiver);
        assert_eq!(n.bytes(), b"FDSTORE=1\nFDNAME=relayed");
        assert_eq!((n.pid(), n.uid(), n.gid()), (claimed(child.pid()), Some(uid), Some(gid)));
        let [got] = n.fds() else { panic!("one fd expected: {n:?}") };
        assert_eq!(inode(got.as_fd()), inode(write.as_fd()), "the same pipe");
        assert!(is_cloexec(got.as_fd()));
        assert_nothing_queued(&receiver);
    }
}

#[test]
fn fds_on_behalf_of_a_pid_that_does_not_exist_fall_back_to_ours_with_the_fds() {
    let ghost = unused_pid();
    for (receiver, notifier) in both_kinds() {
        let (_read, write) = common::pipe();
        let msg = Message::from_states(&[NotifyState::FdStore]).unwrap();
        // The order of the options does not matter.
        notifier.send_with(&msg, SendOptions::new().on_behalf_of(ghost).fds(&[write.as_fd()])).unwrap();
        let n = recv(&receiver);
        assert_eq!(n.bytes(), b"FDSTORE=1");
        assert_from_us(&n);
        let [got] = n.fds() else { panic!("one fd expected: {n:?}") };
        assert_eq!(inode(got.as_fd()), inode(write.as_fd()));
        // Exactly one datagram: the refused attempt sent nothing.
        assert_nothing_queued(&receiver);
    }
}

#[test]
fn pid_0_our_own_pid_and_no_options_send_as_ourselves() {
    let ready = Message::from_states(&[NotifyState::Ready]).unwrap();
    for (receiver, notifier) in both_kinds() {
        for options in [
            SendOptions::new(),
            SendOptions::default(),
            SendOptions::new().on_behalf_of(0),
            SendOptions::new().on_behalf_of(std::process::id()),
        ] {
            notifier.send_with(&ready, options).unwrap();
            let n = recv(&receiver);
            assert_eq!(n.bytes(), b"READY=1", "{options:?}");
            assert_from_us(&n);
            assert!(n.fds().is_empty());
        }
        assert_nothing_queued(&receiver);
    }
}

/// `sd_pid_notify_barrier`: the PID goes on the `BARRIER=1` message, as libsystemd does.
#[test]
fn barrier_on_behalf_of_another_pid_claims_it_on_the_barrier_message() {
    let child = Sleeper::spawn();
    let (_, uid, gid) = common::our_creds();
    for (receiver, notifier) in both_kinds() {
        std::thread::scope(|s| {
            let manager = s.spawn(|| {
                let n = recv(&receiver);
                assert_eq!(n.bytes(), b"BARRIER=1");
                assert!(n.is_barrier());
                assert_eq!((n.pid(), n.uid(), n.gid()), (claimed(child.pid()), Some(uid), Some(gid)));
                let [fd] = n.fds() else { panic!("one fd expected: {n:?}") };
                assert!(is_cloexec(fd.as_fd()));
                // Dropping it closes the descriptor: the barrier is answered.
            });
            notifier.barrier_on_behalf_of(child.pid(), common::WAIT).expect("barrier answered");
            manager.join().unwrap();
        });
        assert_nothing_queued(&receiver);
    }
}

#[test]
fn barrier_on_behalf_of_a_pid_that_does_not_exist_falls_back_to_ours() {
    let ghost = unused_pid();
    for (receiver, notifier) in both_kinds() {
        std::thread::scope(|s| {
            let manager = s.spawn(|| {
                let n = recv(&receiver);
                assert!(n.is_barrier());
                assert_eq!(n.fds().len(), 1);
                assert_from_us(&n);
            });
            notifier.barrier_on_behalf_of(ghost, common::WAIT).expect("barrier answered");
            manager.join().unwrap();
        });
        // One datagram: the refused attempt sent nothing.
        assert_nothing_queued(&receiver);
    }
}
