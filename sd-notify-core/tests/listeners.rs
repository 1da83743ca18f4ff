//! `listener()`, `release_unclaimed_listeners()` and `ServiceHandle::listener` against the
//! crate's [`Receiver`] playing the manager: the exact datagrams (`FDSTORE=1\nFDNAME=…`,
//! `FDSTOREREMOVE=1\nFDNAME=…`), the descriptor that arrives (the same socket: same inode),
//! reuse of a passed descriptor, a changed address, the wrong kind, an unclaimed descriptor.
//!
//! Each scenario runs in a fresh process, as in `env_process.rs`: the test binary re-executes
//! itself through `bash`, which sets `LISTEN_PID=$$` and puts the parent's sockets at
//! descriptors 3 and 4; the environment (`NOTIFY_SOCKET` of the parent's receiver,
//! `LISTEN_FDS`, `LISTEN_FDNAMES`, `FDSTORE`) is given by `Command::env`. The child prints
//! `INODE <name> <n>` for the sockets it got and `CHILD-OK <scenario>` at its end; its stderr
//! holds the crate's warnings.

mod common;

use std::ffi::OsString;
use std::net::{TcpListener, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use common::{assert_nothing_queued, recv};
use sd_notify_core::{
    ListenerError, Receiver, Rule, SYSTEMD_VARIABLES, listener, release_unclaimed_listeners,
};

const CHILD_VAR: &str = "SD_NOTIFY_CORE_TEST_CHILD";
const CHILD_TEST: &str = "child_entry";

// ---------------------------------------------------------------- parent side

/// Serialises spawning: the descriptors passed to a child are made inheritable for the
/// spawn only, and no other child of this binary may inherit them meanwhile.
static SPAWN: Mutex<()> = Mutex::new(());

fn set_cloexec(fd: RawFd, on: bool) {
    // SAFETY: F_GETFD/F_SETFD have no memory preconditions; `fd` is open (the caller owns it).
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFD);
        assert!(flags >= 0);
        let flags = if on { flags | libc::FD_CLOEXEC } else { flags & !libc::FD_CLOEXEC };
        assert!(libc::fcntl(fd, libc::F_SETFD, flags) >= 0);
    }
}

/// What a child printed.
struct Output {
    stdout: String,
    stderr: String,
}

impl Output {
    /// The inode the child printed for `name`.
    fn inode(&self, name: &str) -> u64 {
        let prefix = format!("INODE {name} ");
        self.stdout
            .lines()
            .find_map(|l| l.split_once(&prefix).map(|(_, n)| n))
            .unwrap_or_else(|| panic!("no inode for {name}:\n{}", self.stdout))
            .parse()
            .unwrap()
    }

    /// The crate's warnings (lines on stderr).
    fn warnings(&self) -> Vec<&str> {
        self.stderr.lines().filter(|l| l.starts_with("sd_service: ")).collect()
    }
}

/// Runs `scenario` in a child with `passed` at descriptors 3, 4, … (`LISTEN_PID` its own;
/// bash, since dash takes single-digit descriptor numbers only),
/// `env` in its environment, and returns its output once it succeeded.
fn run_child(scenario: &str, passed: &[&dyn AsFd], env: &[(&str, OsString)]) -> Output {
    let exe = std::env::current_exe().unwrap();
    let raws: Vec<RawFd> = passed.iter().map(|f| f.as_fd().as_raw_fd()).collect();
    let mut shell = String::new();
    if !raws.is_empty() {
        // Through 100, 101, … so that no number is overwritten before it was moved; the
        // parent's numbers are closed, so the passed sockets are open only at 3, 4, ….
        for (i, raw) in raws.iter().enumerate() {
            shell.push_str(&format!("exec {}<&{raw} {raw}<&-\n", 100 + i));
        }
        for i in 0..raws.len() {
            shell.push_str(&format!("exec {}<&{} {}<&-\n", 3 + i, 100 + i, 100 + i));
        }
        shell.push_str(&format!("export LISTEN_PID=$$ LISTEN_FDS={}\n", raws.len()));
    }
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(format!("{shell}exec \"$0\" \"$@\""))
        .arg(exe)
        .args([CHILD_TEST, "--exact", "--include-ignored", "--nocapture", "--test-threads=1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in SYSTEMD_VARIABLES.iter().chain(&["FDSTORE"]) {
        cmd.env_remove(var);
    }
    cmd.env(CHILD_VAR, scenario);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = {
        let _spawning = SPAWN.lock().unwrap_or_else(|p| p.into_inner());
        raws.iter().for_each(|&raw| set_cloexec(raw, false));
        let child = cmd.spawn().expect("spawn child");
        raws.iter().for_each(|&raw| set_cloexec(raw, true));
        child
    };
    let (stdout, stderr) = common::finish_child(child, scenario);
    Output { stdout, stderr }
}

fn os(s: &str) -> OsString {
    s.into()
}

/// The inode of the socket behind `fd` (`socket:[N]` in /proc).
fn inode(fd: RawFd) -> u64 {
    let link = std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap();
    let link = link.to_string_lossy();
    link.strip_prefix("socket:[")
        .and_then(|l| l.strip_suffix(']'))
        .unwrap_or_else(|| panic!("fd {fd} is {link}, not a socket"))
        .parse()
        .unwrap()
}

/// A receiver and the environment that makes the child send to it.
fn manager() -> (Receiver, (&'static str, OsString)) {
    let r = Receiver::bind_unique_abstract().unwrap();
    let env = r.env();
    (r, env)
}

/// Asserts the next datagram is `FDSTORE=1\nFDNAME=<name>` with one descriptor, a
/// listening socket, and returns its inode.
fn expect_stored(r: &Receiver, name: &str) -> u64 {
    let n = recv(r);
    assert_eq!(n.bytes(), format!("FDSTORE=1\nFDNAME={name}").as_bytes(), "{n:?}");
    assert_eq!(n.fds().len(), 1, "one descriptor travels with FDSTORE=1");
    inode(n.fds()[0].as_raw_fd())
}

#[test]
fn a_new_listener_is_bound_and_stored_under_its_name() {
    let (r, notify) = manager();
    let out = run_child("new", &[], &[notify, ("FDSTORE", os("4"))]);
    let stored = expect_stored(&r, "http");
    assert_eq!(stored, out.inode("http"), "the stored descriptor is the child's socket");
    assert_nothing_queued(&r);
    assert_eq!(out.warnings(), Vec::<&str>::new());
}

#[test]
fn a_store_the_unit_did_not_enable_is_one_warning_and_the_listener_works() {
    let (r, notify) = manager();
    let out = run_child("two_new", &[], &[notify]);
    expect_stored(&r, "http");
    expect_stored(&r, "admin");
    let warnings = out.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("$FDSTORE is not set")
            && warnings[0].contains("will not survive a restart")
            && warnings[0].contains("FileDescriptorStoreMax="),
        "{warnings:?}"
    );
}

#[test]
fn more_listeners_than_file_descriptor_store_max_is_one_warning() {
    let (r, notify) = manager();
    let out = run_child("two_new", &[], &[notify, ("FDSTORE", os("1"))]);
    expect_stored(&r, "http");
    expect_stored(&r, "admin");
    let warnings = out.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("FileDescriptorStoreMax= is 1"), "{warnings:?}");
}

#[test]
fn without_notify_socket_it_just_binds() {
    let out = run_child("new", &[], &[]);
    assert_eq!(out.warnings(), Vec::<&str>::new());
}

#[test]
fn a_passed_listener_on_the_address_is_reused_not_stored_again_and_made_blocking() {
    let (r, notify) = manager();
    let passed = TcpListener::bind("127.0.0.1:0").unwrap();
    passed.set_nonblocking(true).unwrap(); // as a tokio service leaves it
    let port = passed.local_addr().unwrap().port().to_string();
    let env = [notify, ("LISTEN_FDNAMES", os("http")), ("PORT", os(&port)), ("FDSTORE", os("4"))];
    let out = run_child("reuse", &[&passed], &env);
    assert_eq!(out.inode("http"), inode(passed.as_raw_fd()), "the same socket");
    assert_nothing_queued(&r);
    assert_eq!(out.warnings(), Vec::<&str>::new());
    // Port 0 asked for: any port of the same address is the one.
    passed.set_nonblocking(true).unwrap();
    let (r, notify) = manager();
    let env = [notify, ("LISTEN_FDNAMES", os("http")), ("PORT", os("0")), ("FDSTORE", os("4"))];
    let out = run_child("reuse", &[&passed], &env);
    assert_eq!(out.inode("http"), inode(passed.as_raw_fd()));
    assert_nothing_queued(&r);
}

#[test]
fn datagram_sockets_udp_and_unix_are_reused_too() {
    let (r, notify) = manager();
    let dns = UdpSocket::bind("127.0.0.1:0").unwrap();
    let dir = std::env::temp_dir().join(format!("sd-notify-listeners-dgram-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("log.sock");
    let _ = std::fs::remove_file(&path);
    let log = UnixDatagram::bind(&path).unwrap();
    let port = dns.local_addr().unwrap().port().to_string();
    let env = [
        notify,
        ("LISTEN_FDNAMES", os("dns:log")),
        ("PORT", os(&port)),
        ("SOCK_PATH", path.clone().into_os_string()),
    ];
    let out = run_child("datagrams", &[&dns, &log], &env);
    assert_eq!(out.inode("dns"), inode(dns.as_raw_fd()));
    assert_eq!(out.inode("log"), inode(log.as_raw_fd()));
    assert_nothing_queued(&r);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_passed_listener_on_another_address_is_removed_from_the_store_and_replaced() {
    let (r, notify) = manager();
    let passed = TcpListener::bind("127.0.0.1:0").unwrap();
    let old = inode(passed.as_raw_fd()).to_string();
    let env = [notify, ("LISTEN_FDNAMES", os("http")), ("FDSTORE", os("4")), ("OLD_INODE", os(&old))];
    let out = run_child("changed", &[&passed], &env);
    let n = recv(&r);
    assert_eq!(n.bytes(), b"FDSTOREREMOVE=1\nFDNAME=http");
    assert!(n.fds().is_empty());
    let stored = expect_stored(&r, "http");
    assert_eq!(stored, out.inode("http"));
    assert_ne!(stored, inode(passed.as_raw_fd()));
    assert_nothing_queued(&r);
    let warnings = out.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let old = passed.local_addr().unwrap();
    assert!(warnings[0].contains(&format!("bound to {old}, not 127.0.0.2:0")), "{warnings:?}");
}

#[test]
fn the_wrong_kind_under_a_name_is_an_error_naming_it() {
    let (r, notify) = manager();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = udp.local_addr().unwrap().port().to_string();
    let file = std::fs::File::open("/dev/null").unwrap();
    let connected = UnixDatagram::pair().unwrap().0;
    let env = [
        notify,
        ("LISTEN_FDNAMES", os("http:file:unix")),
        ("PORT", os(&port)),
        ("FDSTORE", os("4")),
        ("OLD_INODE", os(&inode(udp.as_raw_fd()).to_string())),
    ];
    let out = run_child("wrong_kind", &[&udp, &file, &connected], &env);
    // Each one out of the store, so that the next start does not fail the same way.
    for name in ["http", "file", "unix"] {
        assert_eq!(recv(&r).bytes(), format!("FDSTOREREMOVE=1\nFDNAME={name}").as_bytes());
    }
    // Asked for again, the name gets a new socket (stored).
    assert_eq!(expect_stored(&r, "http"), out.inode("tcp"));
    assert_nothing_queued(&r);
}

#[test]
fn unix_listeners_are_reused_by_path_and_replaced_when_it_changes() {
    let dir = std::env::temp_dir().join(format!("sd-notify-listeners-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("a.sock");
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(dir.join("b.sock"));
    let _ = std::fs::remove_file(dir.join("c.sock"));
    let passed = UnixListener::bind(&path).unwrap();
    let moved = UnixListener::bind(dir.join("c.sock")).unwrap();
    let (r, notify) = manager();
    let env = [
        notify,
        ("LISTEN_FDNAMES", os("ctl:ctl2")),
        ("SOCK_DIR", dir.clone().into_os_string()),
        ("FDSTORE", os("4")),
        ("OLD_INODE", os(&inode(moved.as_raw_fd()).to_string())),
    ];
    let out = run_child("unix", &[&passed, &moved], &env);
    assert_eq!(out.inode("ctl"), inode(passed.as_raw_fd()));
    // ctl2 was passed at c.sock and is asked for at b.sock: the old one leaves the store.
    let n = recv(&r);
    assert_eq!(n.bytes(), b"FDSTOREREMOVE=1\nFDNAME=ctl2");
    assert_eq!(expect_stored(&r, "ctl2"), out.inode("ctl2"));
    assert_nothing_queued(&r);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unclaimed_descriptor_is_reported_once_closed_and_removed_from_the_store() {
    let (r, notify) = manager();
    let http = TcpListener::bind("127.0.0.1:0").unwrap();
    let old = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = http.local_addr().unwrap().port().to_string();
    let env = [notify, ("LISTEN_FDNAMES", os("http:old")), ("PORT", os(&port)), ("FDSTORE", os("4"))];
    let out = run_child("unclaimed", &[&http, &old], &env);
    let n = recv(&r);
    assert_eq!(n.bytes(), b"FDSTOREREMOVE=1\nFDNAME=old");
    assert_nothing_queued(&r);
    let warnings = out.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("under the name \"old\", which no listener asked for: closed"),
        "{warnings:?}"
    );
}

#[test]
fn the_same_socket_passed_twice_under_a_name_is_quietly_closed_once() {
    let (r, notify) = manager();
    let http = TcpListener::bind("127.0.0.1:0").unwrap();
    let again = http.try_clone().unwrap(); // a .socket unit's socket, stored as well
    let port = http.local_addr().unwrap().port().to_string();
    let inodes = format!("{0},{0}", inode(http.as_raw_fd()));
    let env =
        [notify, ("LISTEN_FDNAMES", os("http:http")), ("PORT", os(&port)), ("PASSED_INODES", os(&inodes))];
    let out = run_child("duplicates", &[&http, &again], &env);
    assert_eq!(out.inode("http"), inode(http.as_raw_fd()));
    assert_nothing_queued(&r);
    assert_eq!(out.warnings(), Vec::<&str>::new());
}

#[test]
fn a_stale_socket_beside_the_one_in_use_leaves_the_store_and_the_one_in_use_is_stored_again() {
    let (r, notify) = manager();
    let stale = TcpListener::bind("127.0.0.1:0").unwrap();
    let http = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = http.local_addr().unwrap().port().to_string();
    let inodes = format!("{},{}", inode(stale.as_raw_fd()), inode(http.as_raw_fd()));
    let env = [
        notify,
        ("LISTEN_FDNAMES", os("http:http")),
        ("PORT", os(&port)),
        ("FDSTORE", os("4")),
        ("PASSED_INODES", os(&inodes)),
    ];
    let out = run_child("duplicates", &[&stale, &http], &env);
    assert_eq!(out.inode("http"), inode(http.as_raw_fd()));
    assert_eq!(recv(&r).bytes(), b"FDSTOREREMOVE=1\nFDNAME=http");
    assert_eq!(expect_stored(&r, "http"), inode(http.as_raw_fd()), "the one in use, stored again");
    assert_nothing_queued(&r);
    let warnings = out.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("passed 1 other socket under this name: closed and removed"),
        "{warnings:?}"
    );
}

#[test]
fn under_sd_service_the_ready_marker_releases_what_no_listener_took() {
    let (r, notify) = manager();
    let http = TcpListener::bind("127.0.0.1:0").unwrap();
    let old = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = http.local_addr().unwrap().port().to_string();
    let env = [notify, ("LISTEN_FDNAMES", os("http:old")), ("PORT", os(&port)), ("FDSTORE", os("4"))];
    // The manager's side runs meanwhile, so that the service's exit barrier is answered
    // (each datagram dropped closes its descriptors) instead of timing out.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let manager = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut got = Vec::new();
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                if let Ok(n) = r.recv_timeout(Duration::from_millis(20)) {
                    got.push(String::from_utf8(n.bytes().to_vec()).unwrap());
                }
            }
            while let Some(n) = r.try_recv().unwrap() {
                got.push(String::from_utf8(n.bytes().to_vec()).unwrap());
            }
            got
        })
    };
    let out = run_child("service", &[&http, &old], &env);
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let got = manager.join().unwrap();
    assert_eq!(out.inode("http"), inode(http.as_raw_fd()));
    let remove = got.iter().position(|m| m == "FDSTOREREMOVE=1\nFDNAME=old");
    let ready = got.iter().position(|m| m.starts_with("READY=1"));
    assert!(matches!((remove, ready), (Some(a), Some(b)) if a < b), "{got:?}");
}

#[test]
fn listen_fds_first_leaves_listener_binding_new_sockets_with_a_warning() {
    let http = TcpListener::bind("127.0.0.1:0").unwrap();
    let out = run_child("listen_fds_first", &[&http], &[("LISTEN_FDNAMES", os("http"))]);
    let warnings = out.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("listen_fds() took the descriptors"), "{warnings:?}");
}

#[test]
fn bind_errors_name_the_listener_and_address_and_keep_the_io_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    run_child("bind_error", &[], &[("ADDR", os(&addr))]);
}

#[test]
fn names_that_break_fdname_rules_are_refused_before_anything_is_bound() {
    let too_long = "x".repeat(256);
    for (name, rule) in [
        ("a:b", Rule::Character(':')),
        ("", Rule::Empty),
        ("tab\there", Rule::Character('\t')),
        ("back\\slash", Rule::Character('\\')),
        (too_long.as_str(), Rule::TooLong { max: 255 }),
    ] {
        let bound = std::cell::Cell::new(false);
        let err = listener(name, "127.0.0.1:0", |a| {
            bound.set(true);
            TcpListener::bind(a)
        })
        .unwrap_err();
        assert!(!bound.get(), "nothing bound for {name:?}");
        match &err {
            ListenerError::InvalidName { name: n, rule: r } => assert_eq!((n.as_str(), *r), (name, rule)),
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().starts_with(&format!("listener name {name:?} cannot be an FDNAME=")));
    }
}

// ---------------------------------------------------------------- child side

/// The entry point of the child processes, run only by them (`--include-ignored`).
#[test]
#[ignore = "the entry point of the child processes that the other tests spawn"]
fn child_entry() {
    let Some(scenario) = std::env::var_os(CHILD_VAR) else { return };
    let scenario = scenario.into_string().unwrap();
    match scenario.as_str() {
        "new" => {
            let l = listener("http", "127.0.0.1:0", TcpListener::bind).unwrap();
            print_inode("http", &l);
            release_unclaimed_listeners();
        }
        "two_new" => {
            let http = listener("http", "127.0.0.1:0", TcpListener::bind).unwrap();
            let admin = listener("admin", "127.0.0.1:0", TcpListener::bind).unwrap();
            print_inode("http", &http);
            print_inode("admin", &admin);
        }
        "reuse" => child_reuse(),
        "changed" => {
            let l = listener("http", "127.0.0.2:0", TcpListener::bind).unwrap();
            assert_eq!(l.local_addr().unwrap().ip().to_string(), "127.0.0.2");
            assert_closed(&env("OLD_INODE"));
            print_inode("http", &l);
        }
        "wrong_kind" => child_wrong_kind(),
        "datagrams" => {
            let port = env("PORT");
            let dns = listener("dns", format!("127.0.0.1:{port}"), UdpSocket::bind).unwrap();
            let log = listener("log", env("SOCK_PATH"), UnixDatagram::bind).unwrap();
            assert_eq!((dns.as_raw_fd(), log.as_raw_fd()), (3, 4));
            print_inode("dns", &dns);
            print_inode("log", &log);
        }
        "unix" => child_unix(),
        "unclaimed" => {
            let port = env("PORT");
            let l = listener("http", format!("127.0.0.1:{port}"), TcpListener::bind).unwrap();
            assert_eq!(l.as_raw_fd(), 3);
            assert!(is_open(4));
            release_unclaimed_listeners();
            assert!(!is_open(4), "the unclaimed descriptor is closed");
            release_unclaimed_listeners(); // nothing left: no second report
            // The name was taken: a second call for it is an error.
            let err = listener("http", format!("127.0.0.1:{port}"), TcpListener::bind).unwrap_err();
            assert!(matches!(&err, ListenerError::AlreadyClaimed { name } if name == "http"), "{err:?}");
            assert_eq!(err.to_string(), "listener \"http\" was already asked for in this process");
        }
        "service" => assert_eq!(child_service(), std::process::ExitCode::SUCCESS),
        "duplicates" => {
            let port = env("PORT");
            let l = listener("http", format!("127.0.0.1:{port}"), TcpListener::bind).unwrap();
            print_inode("http", &l);
            // One descriptor left of the passed ones: the listener's.
            let sockets: Vec<u64> = [3, 4].into_iter().filter(|&fd| is_open(fd)).map(inode).collect();
            let passed: Vec<u64> = env("PASSED_INODES").split(',').map(|i| i.parse().unwrap()).collect();
            assert_eq!(sockets.iter().filter(|i| passed.contains(i)).count(), 1, "{sockets:?} {passed:?}");
            release_unclaimed_listeners(); // nothing left to report
        }
        "listen_fds_first" => {
            let fds = sd_notify_core::listen_fds().unwrap();
            assert_eq!(fds.len(), 1);
            let l = listener("http", "127.0.0.1:0", TcpListener::bind).unwrap();
            assert_ne!(l.as_raw_fd(), 3);
        }
        "bind_error" => {
            let addr = env("ADDR");
            let err = listener("http", addr.as_str(), TcpListener::bind).unwrap_err();
            assert_eq!(err.to_string(), format!("listener \"http\": could not bind {addr}"));
            let source = std::error::Error::source(&err).unwrap().downcast_ref::<std::io::Error>().unwrap();
            assert_eq!(source.kind(), std::io::ErrorKind::AddrInUse);
            let io = std::io::Error::from(err);
            assert_eq!(io.kind(), std::io::ErrorKind::AddrInUse);
            // Not claimed by the failure: a later call may bind it elsewhere.
            listener("http", "127.0.0.1:0", TcpListener::bind).unwrap();
        }
        other => panic!("unknown scenario {other}"),
    }
    println!("CHILD-OK {scenario}");
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} not set for the child"))
}

fn is_open(raw: RawFd) -> bool {
    // SAFETY: F_GETFD has no memory preconditions; on a closed descriptor it fails.
    unsafe { libc::fcntl(raw, libc::F_GETFD) >= 0 }
}

fn is_nonblocking(raw: RawFd) -> bool {
    // SAFETY: F_GETFL has no memory preconditions; `raw` is open (checked by the result).
    let flags = unsafe { libc::fcntl(raw, libc::F_GETFL) };
    assert!(flags >= 0);
    flags & libc::O_NONBLOCK != 0
}

/// Asserts that no descriptor of this process is the socket with inode `old`.
fn assert_closed(old: &str) {
    let old: u64 = old.parse().unwrap();
    for fd in common::open_fds() {
        if std::fs::read_link(format!("/proc/self/fd/{fd}"))
            .is_ok_and(|l| l.to_string_lossy().contains("socket:"))
        {
            assert_ne!(inode(fd), old, "the old socket is still open as fd {fd}");
        }
    }
}

fn print_inode(name: &str, fd: &impl AsFd) {
    println!("INODE {name} {}", inode(fd.as_fd().as_raw_fd()));
}

fn child_reuse() {
    assert!(is_nonblocking(3), "precondition: the parent left it non-blocking");
    let port = env("PORT");
    let l = listener("http", format!("127.0.0.1:{port}"), TcpListener::bind).unwrap();
    assert_eq!(l.as_raw_fd(), 3, "the passed descriptor itself");
    assert!(!is_nonblocking(3), "made blocking, as a socket fresh from bind is");
    print_inode("http", &l);
}

fn child_wrong_kind() {
    let port = env("PORT");
    let err = listener("http", format!("127.0.0.1:{port}"), TcpListener::bind).unwrap_err();
    match &err {
        ListenerError::WrongKind { name, found, expected } => {
            assert_eq!(
                (name.as_str(), found.as_str(), expected.as_str()),
                ("http", "a UDP socket", "a listening TCP socket")
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "listener \"http\": the descriptor the service manager passed under this name is a UDP socket, \
         expected a listening TCP socket"
    );
    let err = listener("file", "127.0.0.1:0", TcpListener::bind).unwrap_err();
    assert!(matches!(&err, ListenerError::WrongKind { found, .. } if found == "not a socket"), "{err:?}");
    let err = listener("unix", "/run/x.sock", UnixListener::bind).unwrap_err();
    assert!(
        matches!(&err, ListenerError::WrongKind { found, expected, .. }
            if found == "a Unix datagram socket" && expected == "a listening Unix stream socket"),
        "{err:?}"
    );
    // Closed: the name binds a new socket now.
    assert_closed(&env("OLD_INODE"));
    let tcp = listener("http", "127.0.0.1:0", TcpListener::bind).unwrap();
    print_inode("tcp", &tcp);
}

fn child_unix() {
    let dir = std::path::PathBuf::from(env("SOCK_DIR"));
    let l = listener("ctl", dir.join("a.sock"), UnixListener::bind).unwrap();
    assert_eq!(l.as_raw_fd(), 3);
    print_inode("ctl", &l);
    // Passed at c.sock, asked for at b.sock: replaced.
    let l2 = listener("ctl2", dir.join("b.sock"), UnixListener::bind).unwrap();
    print_inode("ctl2", &l2);
    assert_closed(&env("OLD_INODE"));
}

#[sd_notify_core::sd_service]
fn child_service(service: sd_notify_core::ServiceHandle) -> std::io::Result<()> {
    let port = env("PORT");
    #[ready]
    let http = service.listener("http", format!("127.0.0.1:{port}"), TcpListener::bind)?;
    assert!(!is_open(4), "the unclaimed descriptor was closed at #[ready]");
    print_inode("http", &http);
    Ok(())
}
