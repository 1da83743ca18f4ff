//! The pure environment parsers (`watchdog_enabled_from`, `listen_fds_from`) against every
//! case of PROTOCOL.md, and `booted()`. Nothing here touches the process environment.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::time::Duration;

use sd_notify_core::{EnvError, SYSTEMD_VARIABLES, booted, listen_fds_from, watchdog_enabled_from};

const PID: u32 = 4242;

fn os(s: &str) -> Option<&OsStr> {
    Some(OsStr::new(s))
}

fn names(v: &[&str]) -> Result<Vec<String>, EnvError> {
    Ok(v.iter().map(|s| (*s).to_owned()).collect())
}

#[test]
fn watchdog_usec_unset_means_no_watchdog() {
    assert_eq!(watchdog_enabled_from(None, None, PID), Ok(None));
    // WATCHDOG_PID alone changes nothing.
    assert_eq!(watchdog_enabled_from(None, os("4242"), PID), Ok(None));
    assert_eq!(watchdog_enabled_from(None, os("garbage"), PID), Ok(None));
}

#[test]
fn watchdog_usec_valid_values() {
    assert_eq!(watchdog_enabled_from(os("30000000"), None, PID), Ok(Some(Duration::from_secs(30))));
    assert_eq!(watchdog_enabled_from(os("1"), None, PID), Ok(Some(Duration::from_micros(1))));
    // Beyond u32 µs: no 71-minute cap.
    assert_eq!(watchdog_enabled_from(os("5400000000"), None, PID), Ok(Some(Duration::from_secs(5400))));
    // u64::MAX - 1 is the largest finite value.
    assert_eq!(
        watchdog_enabled_from(os("18446744073709551614"), None, PID),
        Ok(Some(Duration::from_micros(u64::MAX - 1)))
    );
    // Leading zeros are still decimal.
    assert_eq!(watchdog_enabled_from(os("007"), None, PID), Ok(Some(Duration::from_micros(7))));
}

#[test]
fn watchdog_usec_zero_infinity_and_garbage_are_invalid() {
    let invalid = Err(EnvError::Invalid { name: "WATCHDOG_USEC" });
    for bad in [
        "0",
        "18446744073709551615", // u64::MAX: "infinity"
        "18446744073709551616", // overflow
        "99999999999999999999999",
        "",
        "garbage",
        "-1",
        "+5",
        " 5",
        "5 ",
        "1.5",
        "0x10",
        "30s",
    ] {
        assert_eq!(watchdog_enabled_from(os(bad), None, PID), invalid, "{bad:?}");
        // An invalid interval is an error even when WATCHDOG_PID names another process.
        assert_eq!(watchdog_enabled_from(os(bad), os("1"), PID), invalid, "{bad:?}");
    }
    assert_eq!(watchdog_enabled_from(Some(OsStr::from_bytes(b"1\xff")), None, PID), invalid);
}

#[test]
fn watchdog_pid_ours_other_and_garbage() {
    let usec = os("2000000");
    assert_eq!(watchdog_enabled_from(usec, os("4242"), PID), Ok(Some(Duration::from_secs(2))));
    // Another process's watchdog: not ours.
    assert_eq!(watchdog_enabled_from(usec, os("4243"), PID), Ok(None));
    assert_eq!(watchdog_enabled_from(usec, os("1"), PID), Ok(None));
    let invalid = Err(EnvError::Invalid { name: "WATCHDOG_PID" });
    for bad in ["", "x", "0", "-4242", "4242 ", "4294967296", "+4242"] {
        assert_eq!(watchdog_enabled_from(usec, os(bad), PID), invalid, "{bad:?}");
    }
}

#[test]
fn listen_pid_unset_or_another_process_means_no_fds() {
    assert_eq!(listen_fds_from(None, None, None, PID), names(&[]));
    assert_eq!(listen_fds_from(None, os("2"), os("a:b"), PID), names(&[]));
    assert_eq!(listen_fds_from(os("4243"), os("2"), os("a:b"), PID), names(&[]));
    assert_eq!(listen_fds_from(os("1"), os("2"), None, PID), names(&[]));
    // Not ours: the other variables are not even looked at.
    assert_eq!(listen_fds_from(os("1"), os("garbage"), os("a:b:c"), PID), names(&[]));
}

#[test]
fn listen_pid_garbage_is_invalid() {
    let invalid = Err(EnvError::Invalid { name: "LISTEN_PID" });
    for bad in ["", "x", "0", "-1", " 4242", "4294967296"] {
        assert_eq!(listen_fds_from(os(bad), os("1"), None, PID), invalid, "{bad:?}");
    }
}

#[test]
fn listen_fds_count_parsing() {
    let ours = os("4242");
    assert_eq!(listen_fds_from(ours, None, None, PID), names(&[]), "LISTEN_FDS unset");
    assert_eq!(listen_fds_from(ours, os("1"), None, PID), names(&["unknown"]));
    assert_eq!(listen_fds_from(ours, os("3"), None, PID), names(&["unknown", "unknown", "unknown"]));
    let invalid = Err(EnvError::Invalid { name: "LISTEN_FDS" });
    for bad in ["", "x", "-1", "+1", " 1", "1 ", "2147483645", "99999999999999999999"] {
        assert_eq!(listen_fds_from(ours, os(bad), None, PID), invalid, "{bad:?}");
    }
}

#[test]
fn listen_fdnames_split_on_colon_with_empty_fields_kept() {
    let ours = os("4242");
    assert_eq!(listen_fds_from(ours, os("1"), os("http"), PID), names(&["http"]));
    assert_eq!(listen_fds_from(ours, os("2"), os("http:https"), PID), names(&["http", "https"]));
    assert_eq!(listen_fds_from(ours, os("2"), os("http:"), PID), names(&["http", ""]));
    assert_eq!(listen_fds_from(ours, os("2"), os(":https"), PID), names(&["", "https"]));
    assert_eq!(listen_fds_from(ours, os("2"), os(":"), PID), names(&["", ""]));
    assert_eq!(listen_fds_from(ours, os("3"), os("a::c"), PID), names(&["a", "", "c"]));
    assert_eq!(listen_fds_from(ours, os("1"), os(""), PID), names(&[""]));
    // Names keep spaces and other bytes as they are.
    assert_eq!(
        listen_fds_from(ours, os("2"), os("with space:x.socket"), PID),
        names(&["with space", "x.socket"])
    );
}

#[test]
fn listen_fdnames_count_mismatch_is_an_error() {
    let ours = os("4242");
    let mismatch = |fds, names| Err(EnvError::NameCountMismatch { fds, names });
    assert_eq!(listen_fds_from(ours, os("2"), os("a:b:c"), PID), mismatch(2, 3));
    assert_eq!(listen_fds_from(ours, os("2"), os("a"), PID), mismatch(2, 1));
    assert_eq!(listen_fds_from(ours, os("2"), os(""), PID), mismatch(2, 1));
    assert_eq!(listen_fds_from(ours, os("1"), os(":"), PID), mismatch(1, 2));
    assert_eq!(listen_fds_from(ours, os("3"), os("a:b:c:"), PID), mismatch(3, 4));
}

#[test]
fn env_errors_read_well() {
    assert_eq!(
        EnvError::Invalid { name: "WATCHDOG_USEC" }.to_string(),
        "WATCHDOG_USEC is set to an invalid value"
    );
    assert_eq!(
        EnvError::NameCountMismatch { fds: 2, names: 3 }.to_string(),
        "LISTEN_FDNAMES has 3 names for 2 descriptors"
    );
    assert!(EnvError::BadDescriptor(libc::EBADF).to_string().contains("not usable"));
    assert!(!EnvError::AlreadyTaken.to_string().is_empty());
}

#[test]
fn the_systemd_variables_are_the_six_the_manager_sets() {
    assert_eq!(
        SYSTEMD_VARIABLES,
        ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"]
    );
}

#[test]
fn booted_matches_the_run_systemd_system_directory() {
    // Whatever the machine: it must not panic and must agree with the directory's existence.
    let expected = std::path::Path::new("/run/systemd/system").is_dir();
    assert_eq!(booted(), expected);
    eprintln!("booted() = {expected} on this machine");
}
