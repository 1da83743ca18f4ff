//! What the manager tells a service through its environment: the watchdog, socket
//! activation, and whether systemd is running at all.
//!
//! Every reader here only reads the environment, so each is safe to call at any time. The
//! parsing is done by private pure functions over the values (`*_from`), which is how the
//! rules are tested (the unit tests below) without touching process-wide state. Removing the
//! variables (so that children do not inherit them) is [`remove_systemd_environment`], an
//! `unsafe fn` because changing the environment while other threads may read it is
//! undefined behaviour.

use std::ffi::OsStr;
use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use crate::sys;

/// Why a variable set by the manager could not be used.
///
/// Its `Display` is the whole message (there is no inner error: a bad descriptor's `errno`
/// is a number here, rendered in the text).
///
/// ```
/// use sd_notify_core::EnvError;
/// let err = EnvError::Invalid { name: "WATCHDOG_USEC" };
/// assert_eq!(err.to_string(), "WATCHDOG_USEC is set to an invalid value");
/// // Under systemd, when the manager set WATCHDOG_USEC=0:
/// // assert_eq!(sd_notify_core::watchdog_enabled(), Err(err));
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
pub(crate) fn watchdog_enabled_from(
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
/// (`"unknown"` when the manager gave none). The descriptor is owned (close-on-exec): take
/// it with [`into_fd`](ListenFd::into_fd) or `OwnedFd::from`, or borrow it through [`AsFd`].
///
/// ```no_run
/// use std::{net::TcpListener, os::fd::OwnedFd};
/// let passed = sd_notify_core::listen_fds_with_names()?;
/// if let Some(http) = passed.into_iter().find(|l| l.name() == "http") {
///     let listener = TcpListener::from(OwnedFd::from(http));
/// }
/// # Ok::<(), sd_notify_core::EnvError>(())
/// ```
#[derive(Debug)]
pub struct ListenFd {
    fd: OwnedFd,
    name: String,
}

impl ListenFd {
    /// The descriptor's name (`FileDescriptorName=`, or the socket unit's name; `"unknown"`
    /// without `LISTEN_FDNAMES`).
    ///
    /// ```no_run
    /// for passed in sd_notify_core::listen_fds_with_names()? {
    ///     println!("{}", passed.name());
    /// }
    /// # Ok::<(), sd_notify_core::EnvError>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Takes the descriptor, dropping the name.
    ///
    /// ```no_run
    /// use std::os::unix::net::UnixListener;
    /// let passed = sd_notify_core::listen_fds_with_names()?;
    /// let listeners: Vec<UnixListener> = passed.into_iter().map(|l| l.into_fd().into()).collect();
    /// # Ok::<(), sd_notify_core::EnvError>(())
    /// ```
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }

    /// The descriptor and its name.
    ///
    /// ```no_run
    /// for passed in sd_notify_core::listen_fds_with_names()? {
    ///     let (fd, name) = passed.into_parts();
    ///     println!("{name}: {fd:?}");
    /// }
    /// # Ok::<(), sd_notify_core::EnvError>(())
    /// ```
    pub fn into_parts(self) -> (OwnedFd, String) {
        (self.fd, self.name)
    }
}

impl AsFd for ListenFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl From<ListenFd> for OwnedFd {
    fn from(passed: ListenFd) -> OwnedFd {
        passed.fd
    }
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
pub(crate) fn listen_fds_from(
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
/// [`EnvError::Invalid`] for a malformed `LISTEN_PID`/`LISTEN_FDS`;
/// [`EnvError::NameCountMismatch`] when `LISTEN_FDNAMES` has another number of names;
/// [`EnvError::AlreadyTaken`]; [`EnvError::NotInherited`]; [`EnvError::BadDescriptor`] when
/// a descriptor the variables announce is not open.
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
    Ok(listen_fds_with_names()?.into_iter().map(ListenFd::into_fd).collect())
}

/// [`listen_fds`] with each descriptor's name (`sd_listen_fds_with_names`).
///
/// # Errors
/// As [`listen_fds`].
///
/// ```no_run
/// for passed in sd_notify_core::listen_fds_with_names()? {
///     println!("{}: {:?}", passed.name(), passed);
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

/// The variables the manager sets for a service, that this crate reads. A slice: later
/// versions may add variables (as systemd does).
///
/// ```
/// use std::process::Command;
/// let mut child = Command::new("true");
/// for name in sd_notify_core::SYSTEMD_VARIABLES {
///     child.env_remove(name); // the safe way to keep them from a child
/// }
/// assert!(sd_notify_core::SYSTEMD_VARIABLES.contains(&"NOTIFY_SOCKET"));
/// ```
pub const SYSTEMD_VARIABLES: &[&str] =
    &["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"];

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

/// The pure parsers against every case of PROTOCOL.md (moved here from the integration tests
/// when they stopped being public); nothing here touches the process environment.
#[cfg(test)]
mod tests {
    use std::os::unix::ffi::OsStrExt;

    use super::*;

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
    fn listen_fd_accessors_keep_the_descriptor_and_its_name() {
        use std::os::fd::AsRawFd;
        let file = std::fs::File::open("/dev/null").unwrap();
        let raw = file.as_raw_fd();
        let passed = ListenFd { fd: file.into(), name: "http".to_owned() };
        assert_eq!(passed.name(), "http");
        assert_eq!(passed.as_fd().as_raw_fd(), raw);
        let (fd, name) = passed.into_parts();
        assert_eq!((fd.as_raw_fd(), name.as_str()), (raw, "http"));
        let passed = ListenFd { fd, name };
        assert_eq!(OwnedFd::from(passed).as_raw_fd(), raw);
    }
}
