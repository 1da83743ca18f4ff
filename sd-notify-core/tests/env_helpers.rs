//! The environment helpers' public surface: `EnvError`'s words, `SYSTEMD_VARIABLES` and
//! `booted()`. (The parsers' cases are unit tests in `src/env.rs`, since the pure parsers
//! are private.) Nothing here touches the process environment.

use sd_notify_core::{EnvError, SYSTEMD_VARIABLES, booted};

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
