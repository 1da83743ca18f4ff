//! What the manager tells a service through its environment: the watchdog, socket
//! activation, and whether systemd is running at all.
//!
//! Every reader here only reads the environment, so each is safe to call at any time. The
//! parsing is also offered as pure functions over the values (`*_from`), which is how the
//! rules are tested without touching process-wide state. Removing the variables (so that
//! children do not inherit them) is [`remove_systemd_environment`], an `unsafe fn` because
//! changing the environment while other threads may read it is undefined behaviour.

use std::ffi::OsStr;
use std::fmt;
use std::os::fd::OwnedFd;
use std::time::Duration;

use crate::sys;

/// Why a variable set by the manager could not be used.
///
/// ```
/// use sd_notify_core::{watchdog_enabled_from, EnvError};
/// use std::ffi::OsStr;
/// let err = watchdog_enabled_from(Some(OsStr::new("0")), None, 1).unwrap_err();
/// assert_eq!(err, EnvError::Invalid { name: "WATCHDOG_USEC" });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvError {
    /// The variable is not a decimal number of the right range (`WATCHDOG_USEC=0`,
    /// `WATCHDOG_USEC=18446744073709551615`, `LISTEN_FDS=x`, …).
    Invalid {
        /// The variable's name.
        name: &'static str,
    },
    /// `LISTEN_FDNAMES` has a different number of names than `LISTEN_FDS` descriptors.
    NameCountMismatch {
        /// `LISTEN_FDS`.
        fds: usize,
        /// Names in `LISTEN_FDNAMES`.
        names: usize,
    },
    /// The descriptors were already taken by an earlier call: each may have one owner only.
    AlreadyTaken,
    /// A passed descriptor is not open (`errno` inside).
    BadDescriptor(i32),
    /// `LISTEN_FDS` announces a descriptor that was not passed to this process: the number
    /// is one this crate opened itself (its notification socket, say). Seen when a service
    /// re-executes itself, or a wrapper passes the variables on without the descriptors.
    NotInherited {
        /// The descriptor number `LISTEN_FDS` claims.
        fd: i32,
        /// What this crate uses that descriptor for.
        used_for: &'static str,
    },
}

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvError::Invalid { name } => write!(f, "{name} is set to an invalid value"),
            EnvError::NameCountMismatch { fds, names } => {
                write!(f, "LISTEN_FDNAMES has {names} names for {fds} descriptors")
            }
            EnvError::AlreadyTaken => f.write_str("the socket-activation descriptors were already taken"),
            EnvError::BadDescriptor(errno) => {
                write!(f, "a passed descriptor is not usable: {}", std::io::Error::from_raw_os_error(*errno))
            }
            EnvError::NotInherited { fd, used_for } => write!(
                f,
                "LISTEN_FDS claims fd {fd}, but it was not passed to this process \
                 (this crate opened it as {used_for}); the variables were inherited without \
                 their descriptors"
            ),
        }
    }
}

impl std::error::Error for EnvError {}

/// Whether the manager expects watchdog pings from this process, and how often
/// (`sd_watchdog_enabled`). Ping ([`NotifyState::Watchdog`](crate::NotifyState::Watchdog)) at about half
/// the returned interval.
///
/// `Ok(None)`: `WATCHDOG_USEC` is unset, or `WATCHDOG_PID` names another process.
///
/// # Errors
/// [`EnvError::Invalid`] when `WATCHDOG_USEC` is not a decimal number, is `0` or
/// `18446744073709551615`, or `WATCHDOG_PID` is not a PID.
///
/// ```
/// if let Some(interval) = sd_notify_core::watchdog_enabled()? {
///     println!("ping every {:?}", interval / 2);
/// }
/// # Ok::<(), sd_notify_core::EnvError>(())
/// ```
///
/// # References
/// [`sd_watchdog_enabled(3)`](https://www.freedesktop.org/software/systemd/man/sd_watchdog_enabled.html)
pub fn watchdog_enabled() -> Result<Option<Duration>, EnvError> {
    watchdog_enabled_from(
        std::env::var_os("WATCHDOG_USEC").as_deref(),
        std::env::var_os("WATCHDOG_PID").as_deref(),
        std::process::id(),
    )
}

/// [`watchdog_enabled`] over given values of `WATCHDOG_USEC` and `WATCHDOG_PID`, for process
/// `pid`.
///
/// # Errors
/// As [`watchdog_enabled`].
///
/// ```
/// use sd_notify_core::watchdog_enabled_from;
/// use std::{ffi::OsStr, time::Duration};
/// let usec = Some(OsStr::new("30000000"));
/// assert_eq!(watchdog_enabled_from(usec, None, 7), Ok(Some(Duration::from_secs(30))));
/// assert_eq!(watchdog_enabled_from(usec, Some(OsStr::new("8")), 7), Ok(None));
/// assert!(watchdog_enabled_from(Some(OsStr::new("0")), None, 7).is_err());
/// ```
pub fn watchdog_enabled_from(
    usec: Option<&OsStr>,
    watchdog_pid: Option<&OsStr>,
    pid: u32,
) -> Result<Option<Duration>, EnvError> {
    let Some(usec) = usec else { return Ok(None) };
    let usec = parse_u64(usec)
        .filter(|&u| u != 0 && u != u64::MAX)
        .ok_or(EnvError::Invalid { name: "WATCHDOG_USEC" })?;
    if let Some(watchdog_pid) = watchdog_pid {
        let watchdog_pid = parse_pid(watchdog_pid).ok_or(EnvError::Invalid { name: "WATCHDOG_PID" })?;
        if watchdog_pid != pid {
            return Ok(None);
        }
    }
    Ok(Some(Duration::from_micros(usec)))
}

/// More descriptors than a process can have open (Linux's default `fs.nr_open`): a larger
/// `LISTEN_FDS` is malformed, and is refused before anything is allocated for it.
const MAX_LISTEN_FDS: usize = 1 << 20;

/// A descriptor passed by socket activation, with its name from `FileDescriptorName=`
/// (`"unknown"` when the manager gave none).
///
/// ```no_run
/// let http = sd_notify_core::listen_fds_with_names()?.into_iter().find(|l| l.name == "http");
/// # Ok::<(), sd_notify_core::EnvError>(())
/// ```
#[derive(Debug)]
pub struct ListenFd {
    /// The descriptor, now owned by you (close-on-exec).
    pub fd: OwnedFd,
    /// Its name.
    pub name: String,
}

/// How many descriptors socket activation passed to process `pid`, and their names, from the
/// values of `LISTEN_PID`, `LISTEN_FDS` and `LISTEN_FDNAMES`. Pure: nothing is claimed.
///
/// Names are split on `:` with empty fields kept; without `LISTEN_FDNAMES` every name is
/// `"unknown"`, as libsystemd reports.
///
/// # Errors
/// [`EnvError::Invalid`] for a malformed `LISTEN_PID`/`LISTEN_FDS`,
/// [`EnvError::NameCountMismatch`] when the name count differs.
///
/// ```
/// use sd_notify_core::listen_fds_from;
/// use std::ffi::OsStr;
/// let names = listen_fds_from(Some(OsStr::new("7")), Some(OsStr::new("2")), Some(OsStr::new("http:")), 7)?;
/// assert_eq!(names, ["http", ""]);
/// assert!(listen_fds_from(Some(OsStr::new("8")), Some(OsStr::new("2")), None, 7)?.is_empty());
/// # Ok::<(), sd_notify_core::EnvError>(())
/// ```
pub fn listen_fds_from(
    listen_pid: Option<&OsStr>,
    listen_fds: Option<&OsStr>,
    listen_fdnames: Option<&OsStr>,
    pid: u32,
) -> Result<Vec<String>, EnvError> {
    let Some(listen_pid) = listen_pid else {
        return Ok(Vec::new());
    };
    let listen_pid = parse_pid(listen_pid).ok_or(EnvError::Invalid { name: "LISTEN_PID" })?;
    if listen_pid != pid {
        return Ok(Vec::new());
    }
    let Some(count) = listen_fds else {
        return Ok(Vec::new());
    };
    let count = parse_u64(count)
        .and_then(|n| usize::try_from(n).ok())
        .filter(|&n| n <= MAX_LISTEN_FDS)
        .ok_or(EnvError::Invalid { name: "LISTEN_FDS" })?;
    match listen_fdnames {
        None => Ok(vec!["unknown".to_owned(); count]),
        Some(names) => {
            let names: Vec<String> = names.to_string_lossy().split(':').map(str::to_owned).collect();
            if names.len() != count {
                return Err(EnvError::NameCountMismatch { fds: count, names: names.len() });
            }
            Ok(names)
        }
    }
}

/// Takes the descriptors socket activation passed to this process (`sd_listen_fds`): fds 3,
/// 4, … as [`OwnedFd`]s, each set close-on-exec. Empty when `LISTEN_PID` is unset or names
/// another process.
///
/// Only the first call in a process can take them ([`EnvError::AlreadyTaken`] after), since
/// each descriptor may have one owner. Don't also wrap fds 3… by hand.
///
/// # Errors
/// As [`listen_fds_from`]; [`EnvError::AlreadyTaken`]; [`EnvError::BadDescriptor`] when a
/// descriptor the variables announce is not open.
///
/// ```no_run
/// use std::net::TcpListener;
/// let mut fds = sd_notify_core::listen_fds()?;
/// let listener = match fds.pop() {
///     Some(fd) => TcpListener::from(fd),
///     None => TcpListener::bind("127.0.0.1:8080")?,
/// };
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # References
/// [`sd_listen_fds(3)`](https://www.freedesktop.org/software/systemd/man/sd_listen_fds.html)
pub fn listen_fds() -> Result<Vec<OwnedFd>, EnvError> {
    Ok(listen_fds_with_names()?.into_iter().map(|l| l.fd).collect())
}

/// [`listen_fds`] with each descriptor's name (`sd_listen_fds_with_names`).
///
/// # Errors
/// As [`listen_fds`].
///
/// ```no_run
/// for sd_notify_core::ListenFd { fd, name } in sd_notify_core::listen_fds_with_names()? {
///     println!("{name}: {fd:?}");
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn listen_fds_with_names() -> Result<Vec<ListenFd>, EnvError> {
    let names = listen_fds_from(
        std::env::var_os("LISTEN_PID").as_deref(),
        std::env::var_os("LISTEN_FDS").as_deref(),
        std::env::var_os("LISTEN_FDNAMES").as_deref(),
        std::process::id(),
    )?;
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let fds = sys::claim_listen_fds(names.len()).map_err(|e| match e {
        sys::ClaimError::AlreadyTaken => EnvError::AlreadyTaken,
        sys::ClaimError::CrateOwned { fd, role } => EnvError::NotInherited { fd, used_for: role },
        sys::ClaimError::Bad(e) => EnvError::BadDescriptor(e.raw_os_error().unwrap_or(libc::EBADF)),
    })?;
    Ok(fds.into_iter().zip(names).map(|(fd, name)| ListenFd { fd, name }).collect())
}

/// Whether the system was booted with systemd (`sd_booted`): `/run/systemd/system/` exists.
///
/// ```
/// if sd_notify_core::booted() {
///     println!("running under systemd");
/// }
/// ```
///
/// # References
/// [`sd_booted(3)`](https://www.freedesktop.org/software/systemd/man/sd_booted.html)
pub fn booted() -> bool {
    std::fs::symlink_metadata("/run/systemd/system/").is_ok_and(|m| m.is_dir())
}

/// The variables the manager sets for a service.
///
/// ```
/// use std::process::Command;
/// let mut child = Command::new("true");
/// for name in sd_notify_core::SYSTEMD_VARIABLES {
///     child.env_remove(name); // the safe way to keep them from a child
/// }
/// ```
pub const SYSTEMD_VARIABLES: [&str; 6] =
    ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"];

/// Removes [`SYSTEMD_VARIABLES`] from the environment so that child processes do not
/// inherit them (the `unset_environment` argument of libsystemd's functions). The
/// process-wide notifier is initialised first, so [`notify`](crate::notify) keeps working.
///
/// Prefer [`std::process::Command::env_remove`] per child: it needs no `unsafe`.
///
/// # Safety
/// Changing the environment is undefined behaviour while another thread may read or write
/// it (Rust 2024 makes `std::env::remove_var` unsafe for that reason). Call this early in
/// `main`, before any thread (runtime worker pools included) exists.
///
/// ```
/// // At the top of main, before a runtime or any thread starts:
/// // SAFETY: no other thread exists yet.
/// unsafe { sd_notify_core::remove_systemd_environment() };
/// assert!(std::env::var_os("NOTIFY_SOCKET").is_none());
/// ```
pub unsafe fn remove_systemd_environment() {
    let _ = crate::default_notifier();
    for name in SYSTEMD_VARIABLES {
        // SAFETY: the caller guarantees that no other thread touches the environment.
        unsafe { std::env::remove_var(name) };
    }
}

fn parse_u64(v: &OsStr) -> Option<u64> {
    let v = v.to_str()?;
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

fn parse_pid(v: &OsStr) -> Option<u32> {
    parse_u64(v).and_then(|p| u32::try_from(p).ok()).filter(|&p| p > 0)
}
