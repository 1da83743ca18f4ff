//! Everything that reads or changes the process environment, each in a fresh process: the
//! test binary re-executes itself (through `sh`, which sets `LISTEN_PID=$$` and friends to
//! the child's own pid and arranges descriptors 3 and 4) running only [`child_entry`] with a
//! scenario named in `SD_NOTIFY_CORE_TEST_CHILD`. The environment is given to the child by
//! `Command::env`, so no test changes the environment of a process that has threads (except
//! `remove_systemd_environment`, whose scenario documents why that is sound there).
//!
//! Covered: the process-wide `Notifier::from_env` (one notifier, one socket) and the free
//! `notify`/`barrier`/`status!` with `NOTIFY_SOCKET` unset, set (path and abstract) and invalid; `listen_fds()` and
//! `listen_fds_with_names()` for real; `watchdog_enabled()`; `remove_systemd_environment()`.

mod common;

use std::ffi::OsString;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{WAIT, is_cloexec, recv};
use sd_notify_core::{
    AddressError, EnvError, Error, Message, Notifier, NotifyState, Receiver, Rule, SYSTEMD_VARIABLES,
    SendOptions, barrier, listen_fds, listen_fds_with_names, notify, remove_systemd_environment,
    watchdog_enabled,
};

const CHILD_VAR: &str = "SD_NOTIFY_CORE_TEST_CHILD";
const CHILD_TEST: &str = "child_entry";

// ---------------------------------------------------------------- parent side

/// A child run of this binary for `scenario`. `shell` runs in `sh` before the `exec` (it may
/// `export VAR=$$` or redirect descriptors); `stdin` becomes its descriptor 0.
fn spawn_child(scenario: &str, shell: &str, env: &[(&str, OsString)], stdin: Stdio) -> Child {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("{shell}\nexec \"$0\" \"$@\""))
        .arg(exe)
        .args([CHILD_TEST, "--exact", "--include-ignored", "--nocapture", "--test-threads=1"])
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in SYSTEMD_VARIABLES {
        cmd.env_remove(var);
    }
    cmd.env(CHILD_VAR, scenario);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().expect("spawn child")
}

/// Waits (bounded) for the child and checks that the scenario ran to its end.
fn finish(child: Child, scenario: &str) {
    common::finish_child(child, scenario);
}

fn run_child(scenario: &str, shell: &str, env: &[(&str, OsString)]) {
    finish(spawn_child(scenario, shell, env, Stdio::null()), scenario);
}

fn os(s: &str) -> OsString {
    s.into()
}

#[test]
fn unset_notify_socket_makes_every_call_a_successful_no_op() {
    run_child("notify_unset", "", &[]);
}

#[test]
fn notify_socket_set_reaches_the_receiver_path_and_abstract() {
    for receiver in [Receiver::bind_unique_path().unwrap(), Receiver::bind_unique_abstract().unwrap()] {
        let (key, value) = receiver.env();
        let child =
            spawn_child("notify_set", "", &[(key, value.clone()), ("EXPECT_ADDRESS", value)], Stdio::null());
        let pid = child.id();
        // Play the manager while the child runs: receive, check, drop (answers the barrier).
        let expected: [&[u8]; 6] = [
            b"READY=1\nSTATUS=child up",
            b"STATUS=3 jobs queued",
            b"WATCHDOG=1",
            b"FDSTORE=1\nFDNAME=child-pipe",
            b"STOPPING=1",
            b"BARRIER=1",
        ];
        for want in expected {
            let n = recv(&receiver);
            assert_eq!(n.bytes(), want, "{n:?}");
            assert_eq!(n.pid(), Some(pid), "sent by the child");
            if want.starts_with(b"FDSTORE") || want.starts_with(b"BARRIER") {
                assert_eq!(n.fds().len(), 1);
            }
        }
        finish(child, "notify_set");
        common::assert_nothing_queued(&receiver);
    }
}

#[test]
fn invalid_notify_socket_is_an_address_error_everywhere() {
    for (value, error) in
        [("relative/path", "Relative"), ("", "Empty"), ("unix:/x", "Relative"), ("@", "TooShort")]
    {
        run_child("notify_invalid", "", &[("NOTIFY_SOCKET", os(value)), ("EXPECT_ERROR", os(error))]);
    }
}

#[test]
fn remove_systemd_environment_removes_all_and_notify_keeps_working() {
    let receiver = Receiver::bind_unique_abstract().unwrap();
    let (key, value) = receiver.env();
    let env = [
        (key, value),
        ("WATCHDOG_USEC", os("1000000")),
        ("LISTEN_PID", os("1")),
        ("LISTEN_FDS", os("1")),
        ("LISTEN_FDNAMES", os("x")),
    ];
    let child = spawn_child("remove_env", "export WATCHDOG_PID=$$", &env, Stdio::null());
    let n = recv(&receiver);
    assert_eq!(n.bytes(), b"READY=1");
    assert_eq!(n.pid(), Some(child.id()));
    finish(child, "remove_env");
}

#[test]
fn watchdog_enabled_reads_the_environment() {
    run_child("watchdog_ours", "export WATCHDOG_PID=$$", &[("WATCHDOG_USEC", os("30000000"))]);
    run_child("watchdog_no_pid", "", &[("WATCHDOG_USEC", os("1500000"))]);
    run_child("watchdog_other", "", &[("WATCHDOG_USEC", os("30000000")), ("WATCHDOG_PID", os("1"))]);
    run_child("watchdog_invalid", "", &[("WATCHDOG_USEC", os("0"))]);
    run_child("watchdog_unset", "", &[]);
}

/// Descriptor 3: an abstract datagram socket (given as stdin, moved by `sh`); descriptor 4:
/// a file with known content.
fn activation_fixtures(tag: &str) -> (String, UnixDatagram, std::path::PathBuf) {
    use std::os::linux::net::SocketAddrExt;
    let name = format!("sd-notify-test-activation-{tag}-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let socket = UnixDatagram::bind_addr(&addr).unwrap();
    let file =
        std::env::temp_dir().join(format!("sd-notify-test-activation-{tag}-{}.txt", std::process::id()));
    std::fs::write(&file, format!("content of {tag}")).unwrap();
    (name, socket, file)
}

#[test]
fn listen_fds_takes_descriptors_3_and_4_for_real() {
    let (name, socket, file) = activation_fixtures("real");
    let env = [
        ("LISTEN_FDS", os("2")),
        ("LISTEN_FDNAMES", os("sock:file")),
        ("EXPECT_SOCK_NAME", os(&name)),
        ("EXPECT_FILE_CONTENT", os("content of real")),
        ("FD4_FILE", file.clone().into_os_string()),
    ];
    let shell = "exec 3<&0 0</dev/null 4<\"$FD4_FILE\"\nexport LISTEN_PID=$$";
    let child = spawn_child("listen_fds", shell, &env, Stdio::from(OwnedFd::from(socket)));
    finish(child, "listen_fds");
    std::fs::remove_file(&file).unwrap();
}

#[test]
fn listen_fds_without_names_reports_unknown() {
    let (name, socket, file) = activation_fixtures("unnamed");
    let env = [("LISTEN_FDS", os("1")), ("EXPECT_SOCK_NAME", os(&name))];
    let child = spawn_child(
        "listen_fds_unnamed",
        "exec 3<&0 0</dev/null\nexport LISTEN_PID=$$",
        &env,
        Stdio::from(OwnedFd::from(socket)),
    );
    finish(child, "listen_fds_unnamed");
    std::fs::remove_file(&file).unwrap();
}

#[test]
fn listen_fds_for_another_process_takes_nothing() {
    let (_name, socket, file) = activation_fixtures("other");
    let env = [("LISTEN_PID", os("1")), ("LISTEN_FDS", os("1"))];
    let child =
        spawn_child("listen_fds_other", "exec 3<&0 0</dev/null", &env, Stdio::from(OwnedFd::from(socket)));
    finish(child, "listen_fds_other");
    std::fs::remove_file(&file).unwrap();
}

#[test]
fn listen_fds_with_a_closed_descriptor_is_an_error() {
    run_child("listen_fds_closed", "exec 3<&-\nexport LISTEN_PID=$$", &[("LISTEN_FDS", os("1"))]);
}

#[test]
fn listen_fds_name_count_mismatch_is_an_error() {
    let (_name, socket, file) = activation_fixtures("mismatch");
    let env = [("LISTEN_FDS", os("1")), ("LISTEN_FDNAMES", os("a:b"))];
    let child = spawn_child(
        "listen_fds_mismatch",
        "exec 3<&0 0</dev/null\nexport LISTEN_PID=$$",
        &env,
        Stdio::from(OwnedFd::from(socket)),
    );
    finish(child, "listen_fds_mismatch");
    std::fs::remove_file(&file).unwrap();
}

/// `LISTEN_FDS=1` for us, but nothing was passed (a service that re-executes itself, a
/// wrapper that passes the variables on without the descriptors): descriptor 3 is free, and
/// the process-wide notifier's socket takes it. `listen_fds()` must refuse to hand out the
/// crate's own socket (two owners of one descriptor), and notifications must keep working.
#[test]
fn listen_fds_never_hands_out_the_crates_own_socket() {
    let receiver = Receiver::bind_unique_abstract().unwrap();
    let (key, value) = receiver.env();
    let env = [(key, value), ("LISTEN_FDS", os("1"))];
    run_child("listen_fds_not_inherited", "exec 3<&-\nexport LISTEN_PID=$$", &env);
    assert_eq!(recv(&receiver).bytes(), b"STATUS=before");
    assert_eq!(recv(&receiver).bytes(), b"STATUS=after the refused claim");
}

/// Descriptor 3 open, descriptor 4 announced but closed: an error, and descriptor 3 must stay
/// open (libsystemd leaves the descriptors as they are on error; closing one the process was
/// handed, without handing it out, loses it).
#[test]
fn listen_fds_error_on_the_second_descriptor_keeps_the_first_open() {
    let (name, socket, file) = activation_fixtures("partial");
    let env = [("LISTEN_FDS", os("2")), ("EXPECT_SOCK_NAME", os(&name))];
    let shell = "exec 3<&0 0</dev/null 4<&-\nexport LISTEN_PID=$$";
    let child = spawn_child("listen_fds_partial", shell, &env, Stdio::from(OwnedFd::from(socket)));
    finish(child, "listen_fds_partial");
    std::fs::remove_file(&file).unwrap();
}

// ---------------------------------------------------------------- child side

/// The entry point of the child processes, run only by them (`--include-ignored`): in the
/// normal test run it is ignored rather than counted as a pass. The parent tests above check,
/// through the `CHILD-OK` marker, that each scenario really ran in its child.
#[test]
#[ignore = "the entry point of the child processes that the other tests spawn"]
fn child_entry() {
    let Some(scenario) = std::env::var_os(CHILD_VAR) else { return };
    let scenario = scenario.into_string().unwrap();
    match scenario.as_str() {
        "notify_unset" => child_notify_unset(),
        "notify_set" => child_notify_set(),
        "notify_invalid" => child_notify_invalid(),
        "remove_env" => child_remove_env(),
        "watchdog_ours" => assert_eq!(watchdog_enabled(), Ok(Some(Duration::from_secs(30)))),
        "watchdog_no_pid" => assert_eq!(watchdog_enabled(), Ok(Some(Duration::from_millis(1500)))),
        "watchdog_other" => assert_eq!(watchdog_enabled(), Ok(None)),
        "watchdog_invalid" => {
            assert_eq!(watchdog_enabled(), Err(EnvError::Invalid { name: "WATCHDOG_USEC" }))
        }
        "watchdog_unset" => assert_eq!(watchdog_enabled(), Ok(None)),
        "listen_fds" => child_listen_fds(),
        "listen_fds_unnamed" => child_listen_fds_unnamed(),
        "listen_fds_other" => child_listen_fds_other(),
        "listen_fds_closed" => child_listen_fds_closed(),
        "listen_fds_mismatch" => child_listen_fds_mismatch(),
        "listen_fds_partial" => child_listen_fds_partial(),
        "listen_fds_not_inherited" => child_listen_fds_not_inherited(),
        other => panic!("unknown scenario {other}"),
    }
    println!("CHILD-OK {scenario}");
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} not set for the child"))
}

fn open_sockets() -> usize {
    common::open_fds()
        .into_iter()
        .filter(|fd| {
            std::fs::read_link(format!("/proc/self/fd/{fd}"))
                .is_ok_and(|l| l.to_string_lossy().starts_with("socket:"))
        })
        .count()
}

fn child_notify_unset() {
    assert!(std::env::var_os("NOTIFY_SOCKET").is_none());
    let sockets = open_sockets();
    assert!(Notifier::from_env().unwrap().is_none());
    notify(&[NotifyState::Ready, NotifyState::Status("no manager")]).unwrap();
    sd_notify_core::status!("{} jobs", 3).unwrap();
    barrier(WAIT).unwrap();
    // Still validated, so that a program fails the same with and without systemd.
    assert!(matches!(
        notify(&[NotifyState::Status("a\nREADY=1")]),
        Err(Error::InvalidValue { key, rule: Rule::Newline }) if key == "STATUS"
    ));
    assert!(matches!(
        sd_notify_core::status!("x{}", "\\"),
        Err(Error::InvalidValue { key, rule: Rule::Backslash }) if key == "STATUS"
    ));
    assert!(matches!(notify(&[]), Err(Error::EmptyMessage)));
    // Nothing was sent: no socket was even created.
    assert_eq!(open_sockets(), sockets);
}

fn child_notify_set() {
    let sockets = open_sockets();
    let n = Notifier::from_env().unwrap().expect("NOTIFY_SOCKET is set");
    assert_eq!(n.address().to_string(), env("EXPECT_ADDRESS"));
    notify(&[NotifyState::Ready, NotifyState::Status("child up")]).unwrap();
    sd_notify_core::status!("{} jobs queued", 3).unwrap();
    n.send(&Message::from_states(&[NotifyState::Watchdog]).unwrap()).unwrap();
    let (_r, w) = common::pipe();
    let fdstore = Message::from_states(&[NotifyState::FdStore, NotifyState::FdName("child-pipe")]).unwrap();
    n.send_with(&fdstore, SendOptions::new().fds(&[w.as_fd()]).on_behalf_of(std::process::id())).unwrap();
    n.send_with(&Message::from_states(&[NotifyState::Stopping]).unwrap(), SendOptions::new()).unwrap();
    // Rejections send nothing (the parent checks that only the six expected datagrams came).
    assert!(notify(&[NotifyState::Status("x\nREADY=1")]).is_err());
    assert!(sd_notify_core::status!("{}", "x\rREADY=1").is_err());
    // The parent drops the barrier notification: answered.
    barrier(WAIT).unwrap();
    // One process-wide notifier, read once: the same one at every call, and one socket for
    // the free functions, `status!` and the notifier's own methods together.
    assert!(std::ptr::eq(Notifier::from_env().unwrap().unwrap(), n));
    assert_eq!(open_sockets(), sockets + 1, "one socket for every send of the process");
}

fn child_notify_invalid() {
    let want = match env("EXPECT_ERROR").as_str() {
        "Relative" => AddressError::Relative,
        "Empty" => AddressError::Empty,
        "TooShort" => AddressError::TooShort,
        other => panic!("{other}"),
    };
    let is_want = |r: Result<(), Error>| matches!(r, Err(Error::Address(ref a)) if *a == want);
    assert!(matches!(Notifier::from_env(), Err(Error::Address(ref a)) if *a == want));
    assert!(is_want(notify(&[NotifyState::Ready])), "notify");
    assert!(is_want(sd_notify_core::status!("x")), "status!");
    assert!(is_want(barrier(WAIT)), "barrier");
    // Every call answers the same: the error is kept, not the variable read again.
    assert!(matches!(Notifier::from_env(), Err(Error::Address(ref a)) if *a == want));
    assert_eq!(Error::Address(want).raw_os_error(), Some(libc::EINVAL));
}

fn child_remove_env() {
    for var in SYSTEMD_VARIABLES {
        assert!(std::env::var_os(var).is_some(), "{var} set for the child");
    }
    // SAFETY: the only other thread of this process is the test harness's main thread, which
    // is blocked waiting for this single test (--test-threads=1) and does not touch the
    // environment meanwhile.
    unsafe { remove_systemd_environment() };
    for var in SYSTEMD_VARIABLES {
        assert!(std::env::var_os(var).is_none(), "{var} removed");
    }
    // A grandchild does not inherit them.
    let out = Command::new("sh").args(["-c", "env"]).output().unwrap();
    let env_listing = String::from_utf8_lossy(&out.stdout);
    for var in SYSTEMD_VARIABLES {
        assert!(!env_listing.lines().any(|l| l.starts_with(&format!("{var}="))), "{var} inherited");
    }
    // The process-wide notifier was set up before the removal: it still reaches the manager.
    notify(&[NotifyState::Ready]).unwrap();
}

fn fd(raw: i32) -> BorrowedFd<'static> {
    // SAFETY: only used on descriptors this test checked to be open; the borrow is used
    // before any of them is closed.
    unsafe { BorrowedFd::borrow_raw(raw) }
}

fn is_open(raw: i32) -> bool {
    // SAFETY: F_GETFD has no memory preconditions; on a closed descriptor it fails.
    unsafe { libc::fcntl(raw, libc::F_GETFD) >= 0 }
}

fn sock_name_is(raw: i32, name: &str) {
    let mut want = vec![0u8];
    want.extend_from_slice(name.as_bytes());
    assert_eq!(common::unix_sock_name(raw), Some(want), "descriptor {raw} is the parent's socket");
}

fn child_listen_fds() {
    // Inherited as sh arranged them: open, not close-on-exec.
    assert!(is_open(3) && is_open(4));
    assert!(!is_cloexec(fd(3)) && !is_cloexec(fd(4)));
    let fds = listen_fds_with_names().unwrap();
    assert_eq!(fds.len(), 2);
    assert_eq!((fds[0].as_fd().as_raw_fd(), fds[0].name()), (3, "sock"));
    assert_eq!((fds[1].as_fd().as_raw_fd(), fds[1].name()), (4, "file"));
    for f in &fds {
        assert!(is_cloexec(f.as_fd()), "claimed descriptors are close-on-exec");
    }
    sock_name_is(3, &env("EXPECT_SOCK_NAME"));
    let mut content = String::new();
    let mut fds = fds.into_iter();
    let _sock = fds.next().unwrap();
    std::fs::File::from(fds.next().unwrap().into_fd()).read_to_string(&mut content).unwrap();
    assert_eq!(content, env("EXPECT_FILE_CONTENT"));
    // Each descriptor has one owner: a second call cannot take them again.
    assert_eq!(listen_fds_with_names().unwrap_err(), EnvError::AlreadyTaken);
    assert_eq!(listen_fds().unwrap_err(), EnvError::AlreadyTaken);
}

fn child_listen_fds_unnamed() {
    let fds = listen_fds_with_names().unwrap();
    assert_eq!(fds.len(), 1);
    assert_eq!((fds[0].as_fd().as_raw_fd(), fds[0].name()), (3, "unknown"));
    sock_name_is(3, &env("EXPECT_SOCK_NAME"));
}

fn child_listen_fds_other() {
    assert!(listen_fds().unwrap().is_empty());
    // Untouched: still open, still inheritable.
    assert!(is_open(3));
    assert!(!is_cloexec(fd(3)));
}

fn child_listen_fds_closed() {
    assert!(!is_open(3), "precondition: descriptor 3 is closed in the child");
    assert_eq!(listen_fds().unwrap_err(), EnvError::BadDescriptor(libc::EBADF));
}

fn child_listen_fds_mismatch() {
    assert_eq!(listen_fds().unwrap_err(), EnvError::NameCountMismatch { fds: 1, names: 2 });
    assert!(is_open(3), "nothing taken");
}

fn child_listen_fds_partial() {
    assert!(is_open(3) && !is_open(4), "precondition: 3 open, 4 closed");
    assert_eq!(listen_fds().unwrap_err(), EnvError::BadDescriptor(libc::EBADF));
    assert!(is_open(3), "descriptor 3 was closed by the failed listen_fds()");
    sock_name_is(3, &env("EXPECT_SOCK_NAME"));
}

fn child_listen_fds_not_inherited() {
    assert!(!is_open(3), "precondition: descriptor 3 is closed in the child");
    notify(&[NotifyState::Status("before")]).unwrap();
    assert!(is_open(3), "precondition: the notifier's socket took descriptor 3");
    let err = listen_fds().unwrap_err();
    assert_eq!(err, EnvError::NotInherited { fd: 3, used_for: "the notification socket" });
    assert_eq!(
        err.to_string(),
        "LISTEN_FDS claims fd 3, but it was not passed to this process (this crate opened it as the \
         notification socket); the variables were inherited without their descriptors"
    );
    notify(&[NotifyState::Status("after the refused claim")]).unwrap();
}
