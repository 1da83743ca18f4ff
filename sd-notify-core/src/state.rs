//! Typed assignments (`KEY=VALUE` lines) and the rules each value must follow.

use std::borrow::Cow;
use std::fmt;
use std::mem::MaybeUninit;
use std::str::FromStr;
use std::time::Duration;

use crate::error::{Error, Rule};

/// One assignment of the notification protocol: every line `sd_notify(3)` documents.
///
/// Values are borrowed, so building states allocates nothing. Each value is checked when the
/// state is encoded into a [`Message`](crate::Message): a value that systemd would misread
/// (a line break that would inject another assignment, a NUL, a backslash, a number out of
/// range) is a typed [`Error`] and nothing is sent.
///
/// | variant | line | systemd |
/// |---|---|---|
/// | [`Ready`](NotifyState::Ready) | `READY=1` | all |
/// | [`Reloading`](NotifyState::Reloading) | `RELOADING=1` (send with [`MonotonicUsec`](NotifyState::MonotonicUsec)) | 217 |
/// | [`Stopping`](NotifyState::Stopping) | `STOPPING=1` | 217 |
/// | [`MonotonicUsec`](NotifyState::MonotonicUsec) | `MONOTONIC_USEC=…` | 253 |
/// | [`Status`](NotifyState::Status) | `STATUS=…` | 233 |
/// | [`NotifyAccess`](NotifyState::NotifyAccess) | `NOTIFYACCESS=…` | 254 |
/// | [`Errno`](NotifyState::Errno) | `ERRNO=…` | 233 |
/// | [`BusError`](NotifyState::BusError) | `BUSERROR=…` | 233 |
/// | [`VarlinkError`](NotifyState::VarlinkError) | `VARLINKERROR=…` | 257 |
/// | [`ExitStatus`](NotifyState::ExitStatus) | `EXIT_STATUS=…` | 254 |
/// | [`MainPid`](NotifyState::MainPid) | `MAINPID=…` | 233 |
/// | [`MainPidFd`](NotifyState::MainPidFd) | `MAINPIDFD=1` (with a pidfd) | 257 |
/// | [`MainPidFdId`](NotifyState::MainPidFdId) | `MAINPIDFDID=…` | 257 |
/// | [`Watchdog`](NotifyState::Watchdog) | `WATCHDOG=1` | all |
/// | [`WatchdogTrigger`](NotifyState::WatchdogTrigger) | `WATCHDOG=trigger` | 243 |
/// | [`WatchdogUsec`](NotifyState::WatchdogUsec) | `WATCHDOG_USEC=…` | 233 |
/// | [`ExtendTimeoutUsec`](NotifyState::ExtendTimeoutUsec) | `EXTEND_TIMEOUT_USEC=…` | 236 |
/// | [`RestartReset`](NotifyState::RestartReset) | `RESTART_RESET=1` | 258 |
/// | [`FdStore`](NotifyState::FdStore) | `FDSTORE=1` (with fds) | 219 |
/// | [`FdStoreRemove`](NotifyState::FdStoreRemove) | `FDSTOREREMOVE=1` | 236 |
/// | [`FdName`](NotifyState::FdName) | `FDNAME=…` | 233 |
/// | [`FdPollDisable`](NotifyState::FdPollDisable) | `FDPOLL=0` | 246 |
/// | [`Extension`](NotifyState::Extension) | `X_…=…` | ignored by systemd |
/// | [`Other`](NotifyState::Other) | any other `KEY=…` | escape hatch |
///
/// `BARRIER=1` is not a state: it is sent only by [`Notifier::barrier`](crate::Notifier::barrier).
///
/// # Examples
/// ```
/// use sd_notify_core::{Message, NotifyState};
/// use std::time::Duration;
///
/// let msg = Message::from_states(&[
///     NotifyState::Ready,
///     NotifyState::Status("serving on :8080"),
///     NotifyState::watchdog_timeout(Duration::from_secs(90 * 60)), // u64 µs, no 71-minute cap
/// ])?;
/// assert_eq!(msg.as_bytes(), b"READY=1\nSTATUS=serving on :8080\nWATCHDOG_USEC=5400000000");
/// # Ok::<(), sd_notify_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NotifyState<'a> {
    /// `READY=1`: start-up (or a reload) finished.
    Ready,
    /// `RELOADING=1`: a reload began. Send it together with [`NotifyState::MonotonicUsec`] (see
    /// [`NotifyState::reloading_now`]) or `systemctl reload` of a `Type=notify-reload` unit hangs.
    ///
    /// Since systemd 217; the `Type=notify-reload` protocol since systemd 253 (verified by the end-to-end suite on
    /// 254, 257, 262; 247 and 252 do not know the type, and there it starts a reload under
    /// `Type=notify` with `ExecReload=kill -HUP $MAINPID`).
    Reloading,
    /// `STOPPING=1`: shutdown began.
    Stopping,
    /// `MONOTONIC_USEC=`: `CLOCK_MONOTONIC` in µs, see [`NotifyState::monotonic_now`].
    ///
    /// Since systemd 253, with `Type=notify-reload` (verified by the end-to-end suite on 254, 257, 262).
    MonotonicUsec(u64),
    /// `STATUS=`: one line of free text shown by `systemctl status`; empty clears it.
    /// No `\n`, `\r`, NUL or `\` (see [`sanitize_status`](crate::sanitize_status)).
    Status(&'a str),
    /// `NOTIFYACCESS=`: change the unit's `NotifyAccess=` at run time.
    ///
    /// Since systemd 254 (verified by the end-to-end suite: 254, 257, 262 apply it; 247 and 252 ignore it).
    NotifyAccess(NotifyAccess),
    /// `ERRNO=`: the error number of a failure, 0–4095.
    Errno(i32),
    /// `BUSERROR=`: a D-Bus error name such as `org.freedesktop.DBus.Error.TimedOut`.
    ///
    /// Since systemd 233; shown as the unit property `StatusBusError` since systemd 257
    /// (verified by the end-to-end suite; 247–254 have no such property).
    BusError(&'a str),
    /// `VARLINKERROR=`: a Varlink error name such as `io.systemd.Example.NotFound`.
    ///
    /// Since systemd 257 (verified by the end-to-end suite: the unit property `StatusVarlinkError` on 257 and
    /// 262; 247–254 have no such property).
    VarlinkError(&'a str),
    /// `EXIT_STATUS=`: the exit status the service is about to exit with (informational).
    ///
    /// Documented since systemd 254. No release uses it for the unit's result: 247–262 log
    /// the message and report the process's own exit code (verified by the end-to-end suite).
    ExitStatus(u8),
    /// `MAINPID=`: the unit's main process (1–2147483647).
    MainPid(u32),
    /// `MAINPIDFD=1`: the main process is given as a pidfd passed with the message.
    ///
    /// Since systemd 257 (verified by the end-to-end suite: 257 and 262 take the pidfd's process as the main
    /// process; 247, 252 and 254 ignore the line and keep the old one). Send
    /// [`NotifyState::MainPid`] too for older managers.
    MainPidFd,
    /// `MAINPIDFDID=`: the inode id of the pidfd, to detect PID reuse.
    ///
    /// Since systemd 257 (not checked by the end-to-end suite).
    MainPidFdId(u64),
    /// `WATCHDOG=1`: the keep-alive ping.
    Watchdog,
    /// `WATCHDOG=trigger`: fire the watchdog action now.
    ///
    /// Since systemd 243 (verified by the end-to-end suite on 247–262).
    WatchdogTrigger,
    /// `WATCHDOG_USEC=`: a new watchdog timeout in µs (full `u64`).
    ///
    /// Since systemd 233 (verified by the end-to-end suite on 247–262).
    WatchdogUsec(u64),
    /// `EXTEND_TIMEOUT_USEC=`: push the current start/stop/runtime timer to now + value (µs).
    ///
    /// Since systemd 236 (verified by the end-to-end suite on 247–262).
    ExtendTimeoutUsec(u64),
    /// `RESTART_RESET=1`: reset the unit's restart counter.
    ///
    /// Since systemd 258 (verified by the end-to-end suite: 262 resets `NRestarts`; 247–257 ignore the line).
    RestartReset,
    /// `FDSTORE=1`: store the descriptors passed with this message.
    FdStore,
    /// `FDSTOREREMOVE=1`: drop the stored descriptors named by [`NotifyState::FdName`].
    ///
    /// Since systemd 236 (verified by the end-to-end suite on 247–262).
    FdStoreRemove,
    /// `FDNAME=`: name of stored descriptors: 1–255 printable ASCII bytes, no `:` or `\`.
    FdName(&'a str),
    /// `FDPOLL=0`: don't watch the stored descriptors for hang-up.
    ///
    /// Since systemd 246 (verified by the end-to-end suite on 247–262).
    FdPollDisable,
    /// A private extension `X_KEY=value`; systemd ignores it. The key must start with `X_`
    /// and consist of `A–Z`, `0–9`, `_`.
    Extension {
        /// The key, `X_…`.
        key: &'a str,
        /// The value (same rules as [`NotifyState::Status`]).
        value: &'a str,
    },
    /// Any other assignment, for keys this crate does not model yet. The key must be
    /// `A–Z`, `0–9`, `_` and not `BARRIER`; the value follows the rules of [`NotifyState::Status`].
    /// [`NotifyState::parse`] also returns this for lines whose value its typed variant rejects.
    Other {
        /// The key.
        key: &'a str,
        /// The value.
        value: &'a str,
    },
}

/// The values of `NOTIFYACCESS=` (and of a unit's `NotifyAccess=`). `Display` and
/// [`FromStr`] use the protocol's spelling.
///
/// ```
/// use sd_notify_core::{Message, NotifyAccess, NotifyState};
/// let msg = Message::from_states(&[NotifyState::NotifyAccess(NotifyAccess::All)])?;
/// assert_eq!(msg.as_bytes(), b"NOTIFYACCESS=all");
/// assert_eq!("exec".parse::<NotifyAccess>()?, NotifyAccess::Exec);
/// assert_eq!(NotifyAccess::Main.to_string(), "main");
/// # Ok::<(), sd_notify_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NotifyAccess {
    /// `none`: no process may notify.
    None,
    /// `main`: only the main process.
    Main,
    /// `exec`: the main process and `Exec*=` processes.
    Exec,
    /// `all`: every process of the unit's cgroup.
    All,
}

impl NotifyAccess {
    /// The protocol's spelling.
    ///
    /// ```
    /// # use sd_notify_core::NotifyAccess;
    /// assert_eq!(NotifyAccess::Exec.as_str(), "exec");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyAccess::None => "none",
            NotifyAccess::Main => "main",
            NotifyAccess::Exec => "exec",
            NotifyAccess::All => "all",
        }
    }

    const ALL: [NotifyAccess; 4] =
        [NotifyAccess::None, NotifyAccess::Main, NotifyAccess::Exec, NotifyAccess::All];
}

impl fmt::Display for NotifyAccess {
    /// The protocol's spelling, as [`NotifyAccess::as_str`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for NotifyAccess {
    type Err = Error;

    /// The protocol's spelling exactly (`none`, `main`, `exec`, `all`: lower case, no
    /// spaces), as the manager reads `NOTIFYACCESS=`.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] with key `NOTIFYACCESS` and [`Rule::Syntax`] for any other text.
    ///
    /// ```
    /// # use sd_notify_core::{Error, NotifyAccess, Rule};
    /// let err = "All".parse::<NotifyAccess>().unwrap_err();
    /// assert!(matches!(&err, Error::InvalidValue { key, rule: Rule::Syntax } if key == "NOTIFYACCESS"));
    /// ```
    fn from_str(s: &str) -> Result<Self, Error> {
        NotifyAccess::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or(Error::InvalidValue { key: Cow::Borrowed("NOTIFYACCESS"), rule: Rule::Syntax })
    }
}

/// Longest `FDNAME=` value systemd accepts.
///
/// ```
/// use sd_notify_core::{NotifyState, MAX_FDNAME_LEN};
/// assert!(NotifyState::FdName(&"x".repeat(MAX_FDNAME_LEN + 1)).validate().is_err());
/// ```
pub const MAX_FDNAME_LEN: usize = 255;
/// Longest D-Bus or Varlink error name accepted.
const MAX_ERROR_NAME_LEN: usize = 255;

impl<'a> NotifyState<'a> {
    /// `MONOTONIC_USEC=` with the current `CLOCK_MONOTONIC` time.
    ///
    /// ```
    /// # use sd_notify_core::NotifyState;
    /// let NotifyState::MonotonicUsec(now) = NotifyState::monotonic_now() else { unreachable!() };
    /// assert!(now > 0);
    /// ```
    pub fn monotonic_now() -> NotifyState<'static> {
        NotifyState::MonotonicUsec(crate::sys::monotonic_usec())
    }

    /// The two states of a reload start, `RELOADING=1` and `MONOTONIC_USEC=<now>`, to send in
    /// one message as `Type=notify-reload` requires.
    ///
    /// ```
    /// # use sd_notify_core::{Message, NotifyState};
    /// let msg = Message::from_states(&NotifyState::reloading_now())?;
    /// assert!(msg.as_bytes().starts_with(b"RELOADING=1\nMONOTONIC_USEC="));
    /// # Ok::<(), sd_notify_core::Error>(())
    /// ```
    pub fn reloading_now() -> [NotifyState<'static>; 2] {
        [NotifyState::Reloading, NotifyState::monotonic_now()]
    }

    /// `WATCHDOG_USEC=` from a [`Duration`] (saturating at `u64::MAX` µs).
    ///
    /// ```
    /// # use sd_notify_core::NotifyState;
    /// # use std::time::Duration;
    /// assert_eq!(NotifyState::watchdog_timeout(Duration::from_secs(2)), NotifyState::WatchdogUsec(2_000_000));
    /// ```
    pub fn watchdog_timeout(timeout: Duration) -> NotifyState<'static> {
        NotifyState::WatchdogUsec(duration_usec(timeout))
    }

    /// `EXTEND_TIMEOUT_USEC=` from a [`Duration`] (saturating at `u64::MAX` µs).
    ///
    /// ```
    /// # use sd_notify_core::NotifyState;
    /// # use std::time::Duration;
    /// assert_eq!(NotifyState::extend_timeout(Duration::from_millis(1500)), NotifyState::ExtendTimeoutUsec(1_500_000));
    /// ```
    pub fn extend_timeout(by: Duration) -> NotifyState<'static> {
        NotifyState::ExtendTimeoutUsec(duration_usec(by))
    }

    /// The assignment's key, e.g. `"STATUS"`.
    ///
    /// ```
    /// # use sd_notify_core::NotifyState;
    /// assert_eq!(NotifyState::WatchdogTrigger.key(), "WATCHDOG");
    /// ```
    pub fn key(&self) -> &'a str {
        match *self {
            NotifyState::Extension { key, .. } | NotifyState::Other { key, .. } => key,
            _ => self.static_key().unwrap_or_default(),
        }
    }

    /// The key for an error that outlives the state: borrowed for the crate's own keys (no
    /// allocation), a copy for the caller's.
    pub(crate) fn error_key(&self) -> Cow<'static, str> {
        self.static_key().map_or_else(|| Cow::Owned(self.key().to_owned()), Cow::Borrowed)
    }

    /// The key of a state whose key is the crate's own (`None` for extensions and others).
    fn static_key(&self) -> Option<&'static str> {
        Some(match *self {
            NotifyState::Ready => "READY",
            NotifyState::Reloading => "RELOADING",
            NotifyState::Stopping => "STOPPING",
            NotifyState::MonotonicUsec(_) => "MONOTONIC_USEC",
            NotifyState::Status(_) => "STATUS",
            NotifyState::NotifyAccess(_) => "NOTIFYACCESS",
            NotifyState::Errno(_) => "ERRNO",
            NotifyState::BusError(_) => "BUSERROR",
            NotifyState::VarlinkError(_) => "VARLINKERROR",
            NotifyState::ExitStatus(_) => "EXIT_STATUS",
            NotifyState::MainPid(_) => "MAINPID",
            NotifyState::MainPidFd => "MAINPIDFD",
            NotifyState::MainPidFdId(_) => "MAINPIDFDID",
            NotifyState::Watchdog | NotifyState::WatchdogTrigger => "WATCHDOG",
            NotifyState::WatchdogUsec(_) => "WATCHDOG_USEC",
            NotifyState::ExtendTimeoutUsec(_) => "EXTEND_TIMEOUT_USEC",
            NotifyState::RestartReset => "RESTART_RESET",
            NotifyState::FdStore => "FDSTORE",
            NotifyState::FdStoreRemove => "FDSTOREREMOVE",
            NotifyState::FdName(_) => "FDNAME",
            NotifyState::FdPollDisable => "FDPOLL",
            NotifyState::Extension { .. } | NotifyState::Other { .. } => return None,
        })
    }

    /// Checks the state against the protocol's rules without encoding it.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] or [`Error::InvalidKey`] naming the broken [`Rule`].
    ///
    /// ```
    /// # use sd_notify_core::{NotifyState, Error, Rule};
    /// assert!(NotifyState::FdName("db:main").validate().is_err());
    /// assert!(NotifyState::FdName("db-main").validate().is_ok());
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |key: &'static str, rule| Err(Error::InvalidValue { key: Cow::Borrowed(key), rule });
        // The key of an extension or free-form state is the caller's: the error owns a copy.
        let invalid_own =
            |key: &str, rule| Err(Error::InvalidValue { key: Cow::Owned(key.to_owned()), rule });
        match *self {
            NotifyState::Status(v) => check_text(v).or_else(|rule| invalid("STATUS", rule)),
            NotifyState::Errno(n) if !(0..=4095).contains(&n) => invalid("ERRNO", Rule::OutOfRange),
            NotifyState::MainPid(pid) if pid == 0 || pid > i32::MAX as u32 => {
                invalid("MAINPID", Rule::OutOfRange)
            }
            NotifyState::BusError(v) => check_error_name(v, |c| c.is_ascii_alphanumeric() || c == '_')
                .or_else(|rule| invalid("BUSERROR", rule)),
            NotifyState::VarlinkError(v) => {
                check_error_name(v, |c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                    .or_else(|rule| invalid("VARLINKERROR", rule))
            }
            NotifyState::FdName(v) => check_fdname(v).or_else(|rule| invalid("FDNAME", rule)),
            NotifyState::Extension { key, value } => {
                if !key.starts_with("X_") || key.len() < 3 {
                    return Err(invalid_key(key, Rule::Syntax));
                }
                check_key(key)?;
                check_text(value).or_else(|rule| invalid_own(key, rule))
            }
            NotifyState::Other { key, value } => {
                check_key(key)?;
                if key == "BARRIER" {
                    return Err(invalid_key(key, Rule::Reserved));
                }
                check_text(value).or_else(|rule| invalid_own(key, rule))
            }
            _ => Ok(()),
        }
    }

    /// Writes `KEY=VALUE` (without validating; [`Message`](crate::Message) validates first).
    pub(crate) fn write_line(&self, out: &mut impl fmt::Write) -> fmt::Result {
        let mut scratch = [0; MAX_NUMBER_LEN];
        out.write_str(self.key())?;
        out.write_char('=')?;
        // Every value is UTF-8: borrowed text, a constant, or ASCII digits.
        out.write_str(std::str::from_utf8(self.value_bytes(&mut scratch)).map_err(|_| fmt::Error)?)
    }

    /// The whole line of the states a service sends all the time that have a constant value
    /// (always valid, no descriptors): sent as it is, without being copied.
    #[inline(always)]
    pub(crate) fn constant_line(&self) -> Option<&'static [u8]> {
        match self {
            NotifyState::Ready => Some(b"READY=1"),
            NotifyState::Watchdog => Some(b"WATCHDOG=1"),
            NotifyState::Stopping => Some(b"STOPPING=1"),
            NotifyState::Reloading => Some(b"RELOADING=1"),
            _ => None,
        }
    }

    /// `FDSTORE=1` or `MAINPIDFD=1`: the states that travel with descriptors.
    #[inline(always)]
    pub(crate) fn takes_fds(&self) -> bool {
        matches!(self, NotifyState::FdStore | NotifyState::MainPidFd)
    }

    /// Validates the state and gives its line as it is sent, `KEY=VALUE`, in (at most) three
    /// pieces to be joined, in one dispatch: the states a service sends all the time take a
    /// short arm each (a constant line, or `STATUS=` and the checked text), the others
    /// [`NotifyState::validate`] and [`NotifyState::value_bytes`]. The same rules either way.
    #[inline]
    pub(crate) fn checked_line<'s>(
        &'s self,
        scratch: &'s mut [u8; MAX_NUMBER_LEN],
    ) -> Result<[&'s [u8]; 3], Error> {
        if let Some(line) = self.constant_line() {
            return Ok([line, b"", b""]);
        }
        match *self {
            NotifyState::Status(v) => match check_text(v) {
                Ok(()) => Ok([b"STATUS=", v.as_bytes(), b""]),
                Err(rule) => Err(Error::InvalidValue { key: Cow::Borrowed("STATUS"), rule }),
            },
            _ => {
                self.validate()?;
                Ok([self.key().as_bytes(), b"=", self.value_bytes(scratch)])
            }
        }
    }

    /// The value as it is sent, without validating: borrowed text, a constant, or a number
    /// written into `scratch` (no `fmt` machinery: this is on the hot path of every send).
    pub(crate) fn value_bytes<'s>(&'s self, scratch: &'s mut [u8; MAX_NUMBER_LEN]) -> &'s [u8] {
        match *self {
            NotifyState::Ready
            | NotifyState::Reloading
            | NotifyState::Stopping
            | NotifyState::MainPidFd
            | NotifyState::Watchdog
            | NotifyState::RestartReset
            | NotifyState::FdStore
            | NotifyState::FdStoreRemove => b"1",
            NotifyState::FdPollDisable => b"0",
            NotifyState::WatchdogTrigger => b"trigger",
            NotifyState::Status(v)
            | NotifyState::BusError(v)
            | NotifyState::VarlinkError(v)
            | NotifyState::FdName(v)
            | NotifyState::Extension { value: v, .. }
            | NotifyState::Other { value: v, .. } => v.as_bytes(),
            NotifyState::NotifyAccess(a) => a.as_str().as_bytes(),
            NotifyState::Errno(n) => decimal(i64::from(n), scratch),
            NotifyState::ExitStatus(n) => decimal(i64::from(n), scratch),
            NotifyState::MainPid(n) => decimal(i64::from(n), scratch),
            NotifyState::MonotonicUsec(n)
            | NotifyState::MainPidFdId(n)
            | NotifyState::WatchdogUsec(n)
            | NotifyState::ExtendTimeoutUsec(n) => decimal_u64(n, false, scratch),
        }
    }

    /// Parses one received line (`KEY=VALUE`, already split and unescaped) into a state.
    ///
    /// Known keys with a valid value give their typed variant; anything else (unknown keys,
    /// `READY=2`, `BARRIER=1`) gives [`NotifyState::Other`] (or [`NotifyState::Extension`] for `X_…`), just
    /// as the manager ignores what it does not understand. `None` for a line without `=`.
    ///
    /// ```
    /// # use sd_notify_core::NotifyState;
    /// assert_eq!(NotifyState::parse("MAINPID=42"), Some(NotifyState::MainPid(42)));
    /// assert_eq!(NotifyState::parse("READY=2"), Some(NotifyState::Other { key: "READY", value: "2" }));
    /// assert_eq!(NotifyState::parse("garbage"), None);
    /// ```
    pub fn parse(line: &'a str) -> Option<NotifyState<'a>> {
        let (key, value) = line.split_once('=')?;
        let num = || parse_decimal_u64(value);
        let typed = match (key, value) {
            ("READY", "1") => Some(NotifyState::Ready),
            ("RELOADING", "1") => Some(NotifyState::Reloading),
            ("STOPPING", "1") => Some(NotifyState::Stopping),
            ("MAINPIDFD", "1") => Some(NotifyState::MainPidFd),
            ("WATCHDOG", "1") => Some(NotifyState::Watchdog),
            ("WATCHDOG", "trigger") => Some(NotifyState::WatchdogTrigger),
            ("RESTART_RESET", "1") => Some(NotifyState::RestartReset),
            ("FDSTORE", "1") => Some(NotifyState::FdStore),
            ("FDSTOREREMOVE", "1") => Some(NotifyState::FdStoreRemove),
            ("FDPOLL", "0") => Some(NotifyState::FdPollDisable),
            ("STATUS", v) => Some(NotifyState::Status(v)),
            ("BUSERROR", v) => Some(NotifyState::BusError(v)),
            ("VARLINKERROR", v) => Some(NotifyState::VarlinkError(v)),
            ("FDNAME", v) => Some(NotifyState::FdName(v)),
            ("NOTIFYACCESS", v) => v.parse().ok().map(NotifyState::NotifyAccess),
            ("MONOTONIC_USEC", _) => num().map(NotifyState::MonotonicUsec),
            ("MAINPIDFDID", _) => num().map(NotifyState::MainPidFdId),
            ("WATCHDOG_USEC", _) => num().map(NotifyState::WatchdogUsec),
            ("EXTEND_TIMEOUT_USEC", _) => num().map(NotifyState::ExtendTimeoutUsec),
            ("ERRNO", _) => num().and_then(|n| i32::try_from(n).ok()).map(NotifyState::Errno),
            ("EXIT_STATUS", _) => num().and_then(|n| u8::try_from(n).ok()).map(NotifyState::ExitStatus),
            ("MAINPID", _) => num().and_then(|n| u32::try_from(n).ok()).map(NotifyState::MainPid),
            _ => None,
        };
        Some(match typed {
            Some(state) if state.validate().is_ok() => state,
            _ if key.starts_with("X_") => NotifyState::Extension { key, value },
            _ => NotifyState::Other { key, value },
        })
    }
}

impl fmt::Display for NotifyState<'_> {
    /// The `KEY=VALUE` line as it would be sent (without validation).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_line(f)
    }
}

/// µs in a [`Duration`], saturating at `u64::MAX`.
pub(crate) fn duration_usec(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The rule for free text (`STATUS=`, extensions, free-form values).
///
/// Whole 16-byte blocks are tested with a branch-free OR over the block, which the compiler
/// turns into a few SIMD compares per block; the byte-by-byte table lookup runs only for a
/// short tail, or from the block that holds a forbidden byte (to name the first one).
pub(crate) fn check_text(v: &str) -> Result<(), Rule> {
    let bytes = v.as_bytes();
    if bytes.len() >= TEXT_BLOCK {
        let mut start = 0;
        while start + TEXT_BLOCK <= bytes.len() {
            if block_has_forbidden(&bytes[start..start + TEXT_BLOCK]) {
                return check_text_bytes(&bytes[start..]);
            }
            start += TEXT_BLOCK;
        }
        // The tail, as the last (overlapping) whole block: bytes already seen are clean.
        let last = bytes.len() - TEXT_BLOCK;
        if start < bytes.len() && block_has_forbidden(&bytes[last..]) {
            return check_text_bytes(&bytes[start..]);
        }
        return Ok(());
    }
    check_text_bytes(bytes)
}

/// Copies free text into `dst` (of the same length) and checks it in the same pass: `true`
/// when it follows the rule of [`check_text`] (which then names the broken rule). On `false`
/// `dst` holds (part of) the text and is not to be used. One read of the text instead of a
/// scan and a `memcpy`: whole 16-byte blocks are loaded once, tested and stored, without a
/// branch per block.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn copy_checked_text(dst: &mut [MaybeUninit<u8>], src: &[u8]) -> bool {
    use std::arch::x86_64::{
        _mm_andnot_si128, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_setzero_si128,
        _mm_storeu_si128,
    };
    let n = src.len();
    if dst.len() != n {
        return false;
    }
    if n < TEXT_BLOCK {
        for (d, &b) in dst.iter_mut().zip(src) {
            if FORBIDDEN_IN_TEXT[usize::from(b)] {
                return false;
            }
            d.write(b);
        }
        return true;
    }
    let (from, to) = (src.as_ptr(), dst.as_mut_ptr().cast::<u8>());
    // SAFETY: SSE2 is in the x86_64 baseline. Every load reads 16 bytes at an offset `at`
    // with `at <= last = n - 16` (the tail's at `last`; `n >= 16`), inside `src`; every
    // store writes the same 16 bytes at the same offset of `dst`, which has length `n` (checked
    // above): in bounds, unaligned loads and stores, and writing initialises `MaybeUninit`s.
    unsafe {
        let mut hits = _mm_setzero_si128();
        let last = n - TEXT_BLOCK;
        let mut at = 0;
        while at <= last {
            let v = _mm_loadu_si128(from.add(at).cast());
            let bad = forbidden_lanes(v);
            hits = _mm_or_si128(hits, bad);
            // The forbidden lanes are stored as zeros (the copy is discarded then anyway):
            // storing `v` itself would let the compiler split this loop into a `memcpy` and a
            // second pass over the text.
            _mm_storeu_si128(to.add(at).cast(), _mm_andnot_si128(bad, v));
            at += TEXT_BLOCK;
        }
        if at < n {
            let v = _mm_loadu_si128(from.add(last).cast());
            let bad = forbidden_lanes(v);
            hits = _mm_or_si128(hits, bad);
            _mm_storeu_si128(to.add(last).cast(), _mm_andnot_si128(bad, v));
        }
        _mm_movemask_epi8(hits) == 0
    }
}

/// [`copy_checked_text`] where there is no SSE2: the check, then the copy.
#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn copy_checked_text(dst: &mut [MaybeUninit<u8>], src: &[u8]) -> bool {
    if dst.len() != src.len() || src.iter().any(|&b| FORBIDDEN_IN_TEXT[usize::from(b)]) {
        return false;
    }
    for (d, &b) in dst.iter_mut().zip(src) {
        d.write(b);
    }
    true
}

/// The lanes of `v` that hold a byte free text may not contain (all ones), the others zero.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn forbidden_lanes(v: std::arch::x86_64::__m128i) -> std::arch::x86_64::__m128i {
    use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_or_si128, _mm_set1_epi8};
    // SAFETY: SSE2 is in the x86_64 baseline; these only compute on registers.
    unsafe {
        let eq = |c: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8));
        _mm_or_si128(_mm_or_si128(eq(b'\n'), eq(b'\r')), _mm_or_si128(eq(0), eq(b'\\')))
    }
}

/// Bytes per block of [`check_text`].
const TEXT_BLOCK: usize = 16;

/// Does this block hold a byte free text may not contain? (SSE2, part of every x86_64 CPU:
/// four byte-wise compares and one mask per 16 bytes.)
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn block_has_forbidden(block: &[u8]) -> bool {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    let Ok(block) = <&[u8; TEXT_BLOCK]>::try_from(block) else { return true };
    // SAFETY: SSE2 is in the x86_64 baseline, so these instructions exist on every CPU this
    // code can run on; the unaligned load reads exactly the 16 bytes `block` borrows.
    unsafe {
        let v = _mm_loadu_si128(block.as_ptr().cast());
        let eq = |c: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8));
        let hits = _mm_or_si128(_mm_or_si128(eq(b'\n'), eq(b'\r')), _mm_or_si128(eq(0), eq(b'\\')));
        _mm_movemask_epi8(hits) != 0
    }
}

/// Does this block hold a byte free text may not contain? (No early exit: vectorised.)
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn block_has_forbidden(block: &[u8]) -> bool {
    let Ok(block) = <&[u8; TEXT_BLOCK]>::try_from(block) else { return true };
    block.iter().fold(false, |any, &b| any | (b == b'\n') | (b == b'\r') | (b == 0) | (b == b'\\'))
}

/// [`check_text`] one byte at a time: the rule of the first forbidden byte.
fn check_text_bytes(bytes: &[u8]) -> Result<(), Rule> {
    match bytes.iter().find(|&&b| FORBIDDEN_IN_TEXT[usize::from(b)]) {
        None => Ok(()),
        Some(&b) => check_text_byte(b),
    }
}

/// Longest number a value can hold: `u64::MAX` has 20 digits; `i32::MIN` has 11 characters.
pub(crate) const MAX_NUMBER_LEN: usize = 20;

/// `n` in decimal, written at the end of `scratch`.
fn decimal(n: i64, scratch: &mut [u8; MAX_NUMBER_LEN]) -> &[u8] {
    decimal_u64(n.unsigned_abs(), n < 0, scratch)
}

/// `n` in decimal (with a leading `-` if `negative`), written at the end of `scratch`.
fn decimal_u64(mut n: u64, negative: bool, scratch: &mut [u8; MAX_NUMBER_LEN]) -> &[u8] {
    // The digit count first: a loop over exactly those bytes is not unrolled to the 20 of
    // the longest number with a bounds check each (1.4 KB of code for a cold path).
    let digits = n.checked_ilog10().unwrap_or(0) as usize + 1;
    let mut at = MAX_NUMBER_LEN - digits;
    for slot in scratch[at..].iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
    // A negative value is at most 11 characters (i32 in i64): there is room for the sign.
    if negative && at > 0 {
        at -= 1;
        scratch[at] = b'-';
    }
    &scratch[at..]
}

/// The bytes free text may not contain, as a table: one lookup per byte on the hot path.
static FORBIDDEN_IN_TEXT: [bool; 256] = {
    let mut table = [false; 256];
    table[b'\n' as usize] = true;
    table[b'\r' as usize] = true;
    table[0] = true;
    table[b'\\' as usize] = true;
    table
};

/// The rule for one character of free text, for values written piecewise (`status!`).
fn check_text_byte(b: u8) -> Result<(), Rule> {
    match b {
        b'\n' => Err(Rule::Newline),
        b'\r' => Err(Rule::CarriageReturn),
        0 => Err(Rule::Nul),
        b'\\' => Err(Rule::Backslash),
        _ => Ok(()),
    }
}

fn check_key(key: &str) -> Result<(), Error> {
    let rule = if key.is_empty() {
        Some(Rule::Empty)
    } else {
        key.chars()
            .find(|c| !(c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_'))
            .map(Rule::Character)
    };
    rule.map_or(Ok(()), |rule| Err(invalid_key(key, rule)))
}

fn invalid_key(key: &str, rule: Rule) -> Error {
    Error::InvalidKey { key: Cow::Owned(key.to_owned()), rule }
}

fn check_fdname(v: &str) -> Result<(), Rule> {
    if v.is_empty() {
        return Err(Rule::Empty);
    }
    if v.len() > MAX_FDNAME_LEN {
        return Err(Rule::TooLong { max: MAX_FDNAME_LEN });
    }
    match v.chars().find(|&c| !(' '..='~').contains(&c) || c == ':' || c == '\\') {
        None => Ok(()),
        Some(c) => Err(Rule::Character(c)),
    }
}

/// A dotted error name: at least two non-empty elements of allowed characters, not starting
/// with a digit.
fn check_error_name(v: &str, allowed: impl Fn(char) -> bool) -> Result<(), Rule> {
    if v.is_empty() {
        return Err(Rule::Empty);
    }
    if v.len() > MAX_ERROR_NAME_LEN {
        return Err(Rule::TooLong { max: MAX_ERROR_NAME_LEN });
    }
    if let Some(c) = v.chars().find(|&c| c != '.' && !allowed(c)) {
        return Err(Rule::Character(c));
    }
    let mut elements = 0;
    for element in v.split('.') {
        if element.is_empty() || element.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(Rule::Syntax);
        }
        elements += 1;
    }
    if elements < 2 { Err(Rule::Syntax) } else { Ok(()) }
}

fn parse_decimal_u64(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}
