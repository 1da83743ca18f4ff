//! Typed assignments (`KEY=VALUE` lines) and the rules each value must follow.

use std::fmt;
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
/// | [`Ready`](State::Ready) | `READY=1` | all |
/// | [`Reloading`](State::Reloading) | `RELOADING=1` (send with [`MonotonicUsec`](State::MonotonicUsec)) | 217 |
/// | [`Stopping`](State::Stopping) | `STOPPING=1` | 217 |
/// | [`MonotonicUsec`](State::MonotonicUsec) | `MONOTONIC_USEC=…` | 253 |
/// | [`Status`](State::Status) | `STATUS=…` | 233 |
/// | [`NotifyAccess`](State::NotifyAccess) | `NOTIFYACCESS=…` | 254 |
/// | [`Errno`](State::Errno) | `ERRNO=…` | 233 |
/// | [`BusError`](State::BusError) | `BUSERROR=…` | 233 |
/// | [`VarlinkError`](State::VarlinkError) | `VARLINKERROR=…` | 257 |
/// | [`ExitStatus`](State::ExitStatus) | `EXIT_STATUS=…` | 254 |
/// | [`MainPid`](State::MainPid) | `MAINPID=…` | 233 |
/// | [`MainPidFd`](State::MainPidFd) | `MAINPIDFD=1` (with a pidfd) | 257 |
/// | [`MainPidFdId`](State::MainPidFdId) | `MAINPIDFDID=…` | 257 |
/// | [`Watchdog`](State::Watchdog) | `WATCHDOG=1` | all |
/// | [`WatchdogTrigger`](State::WatchdogTrigger) | `WATCHDOG=trigger` | 243 |
/// | [`WatchdogUsec`](State::WatchdogUsec) | `WATCHDOG_USEC=…` | 233 |
/// | [`ExtendTimeoutUsec`](State::ExtendTimeoutUsec) | `EXTEND_TIMEOUT_USEC=…` | 236 |
/// | [`RestartReset`](State::RestartReset) | `RESTART_RESET=1` | 258 |
/// | [`FdStore`](State::FdStore) | `FDSTORE=1` (with fds) | 219 |
/// | [`FdStoreRemove`](State::FdStoreRemove) | `FDSTOREREMOVE=1` | 236 |
/// | [`FdName`](State::FdName) | `FDNAME=…` | 233 |
/// | [`FdPollDisable`](State::FdPollDisable) | `FDPOLL=0` | 246 |
/// | [`Extension`](State::Extension) | `X_…=…` | ignored by systemd |
/// | [`Other`](State::Other) | any other `KEY=…` | escape hatch |
///
/// `BARRIER=1` is not a state: it is sent only by [`Notifier::barrier`](crate::Notifier::barrier).
///
/// # Examples
/// ```
/// use sd_notify_core::{Message, State};
/// use std::time::Duration;
///
/// let msg = Message::from_states(&[
///     State::Ready,
///     State::Status("serving on :8080"),
///     State::watchdog_timeout(Duration::from_secs(90 * 60)), // u64 µs, no 71-minute cap
/// ])?;
/// assert_eq!(msg.as_bytes(), b"READY=1\nSTATUS=serving on :8080\nWATCHDOG_USEC=5400000000");
/// # Ok::<(), sd_notify_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum State<'a> {
    /// `READY=1`: start-up (or a reload) finished.
    Ready,
    /// `RELOADING=1`: a reload began. Send it together with [`State::MonotonicUsec`] (see
    /// [`State::reloading_now`]) or `systemctl reload` of a `Type=notify-reload` unit hangs.
    Reloading,
    /// `STOPPING=1`: shutdown began.
    Stopping,
    /// `MONOTONIC_USEC=`: `CLOCK_MONOTONIC` in µs, see [`State::monotonic_now`].
    MonotonicUsec(u64),
    /// `STATUS=`: one line of free text shown by `systemctl status`; empty clears it.
    /// No `\n`, `\r`, NUL or `\` (see [`sanitize_status`](crate::sanitize_status)).
    Status(&'a str),
    /// `NOTIFYACCESS=`: change the unit's `NotifyAccess=` at run time.
    NotifyAccess(NotifyAccess),
    /// `ERRNO=`: the error number of a failure, 0–4095.
    Errno(i32),
    /// `BUSERROR=`: a D-Bus error name such as `org.freedesktop.DBus.Error.TimedOut`.
    BusError(&'a str),
    /// `VARLINKERROR=`: a Varlink error name such as `io.systemd.Example.NotFound`.
    VarlinkError(&'a str),
    /// `EXIT_STATUS=`: the exit status the service is about to exit with (informational).
    ExitStatus(u8),
    /// `MAINPID=`: the unit's main process (1–2147483647).
    MainPid(u32),
    /// `MAINPIDFD=1`: the main process is given as a pidfd passed with the message.
    MainPidFd,
    /// `MAINPIDFDID=`: the inode id of the pidfd, to detect PID reuse.
    MainPidFdId(u64),
    /// `WATCHDOG=1`: the keep-alive ping.
    Watchdog,
    /// `WATCHDOG=trigger`: fire the watchdog action now.
    WatchdogTrigger,
    /// `WATCHDOG_USEC=`: a new watchdog timeout in µs (full `u64`).
    WatchdogUsec(u64),
    /// `EXTEND_TIMEOUT_USEC=`: push the current start/stop/runtime timer to now + value (µs).
    ExtendTimeoutUsec(u64),
    /// `RESTART_RESET=1`: reset the unit's restart counter.
    RestartReset,
    /// `FDSTORE=1`: store the descriptors passed with this message.
    FdStore,
    /// `FDSTOREREMOVE=1`: drop the stored descriptors named by [`State::FdName`].
    FdStoreRemove,
    /// `FDNAME=`: name of stored descriptors: 1–255 printable ASCII bytes, no `:` or `\`.
    FdName(&'a str),
    /// `FDPOLL=0`: don't watch the stored descriptors for hang-up.
    FdPollDisable,
    /// A private extension `X_KEY=value`; systemd ignores it. The key must start with `X_`
    /// and consist of `A–Z`, `0–9`, `_`.
    Extension {
        /// The key, `X_…`.
        key: &'a str,
        /// The value (same rules as [`State::Status`]).
        value: &'a str,
    },
    /// Any other assignment, for keys this crate does not model yet. The key must be
    /// `A–Z`, `0–9`, `_` and not `BARRIER`; the value follows the rules of [`State::Status`].
    /// [`State::parse`] also returns this for lines whose value its typed variant rejects.
    Other {
        /// The key.
        key: &'a str,
        /// The value.
        value: &'a str,
    },
}

/// The values of `NOTIFYACCESS=` (and of a unit's `NotifyAccess=`).
///
/// ```
/// use sd_notify_core::{Message, NotifyAccess, State};
/// let msg = Message::from_states(&[State::NotifyAccess(NotifyAccess::All)])?;
/// assert_eq!(msg.as_bytes(), b"NOTIFYACCESS=all");
/// # Ok::<(), sd_notify_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
}

/// Longest `FDNAME=` value systemd accepts.
///
/// ```
/// use sd_notify_core::{State, MAX_FDNAME_LEN};
/// assert!(State::FdName(&"x".repeat(MAX_FDNAME_LEN + 1)).validate().is_err());
/// ```
pub const MAX_FDNAME_LEN: usize = 255;
/// Longest D-Bus or Varlink error name accepted.
const MAX_ERROR_NAME_LEN: usize = 255;

impl<'a> State<'a> {
    /// `MONOTONIC_USEC=` with the current `CLOCK_MONOTONIC` time.
    ///
    /// ```
    /// # use sd_notify_core::State;
    /// let State::MonotonicUsec(now) = State::monotonic_now() else { unreachable!() };
    /// assert!(now > 0);
    /// ```
    pub fn monotonic_now() -> State<'static> {
        State::MonotonicUsec(crate::sys::monotonic_usec())
    }

    /// The two states of a reload start, `RELOADING=1` and `MONOTONIC_USEC=<now>`, to send in
    /// one message as `Type=notify-reload` requires.
    ///
    /// ```
    /// # use sd_notify_core::{Message, State};
    /// let msg = Message::from_states(&State::reloading_now())?;
    /// assert!(msg.as_bytes().starts_with(b"RELOADING=1\nMONOTONIC_USEC="));
    /// # Ok::<(), sd_notify_core::Error>(())
    /// ```
    pub fn reloading_now() -> [State<'static>; 2] {
        [State::Reloading, State::monotonic_now()]
    }

    /// `WATCHDOG_USEC=` from a [`Duration`] (saturating at `u64::MAX` µs).
    ///
    /// ```
    /// # use sd_notify_core::State;
    /// # use std::time::Duration;
    /// assert_eq!(State::watchdog_timeout(Duration::from_secs(2)), State::WatchdogUsec(2_000_000));
    /// ```
    pub fn watchdog_timeout(timeout: Duration) -> State<'static> {
        State::WatchdogUsec(duration_usec(timeout))
    }

    /// `EXTEND_TIMEOUT_USEC=` from a [`Duration`] (saturating at `u64::MAX` µs).
    ///
    /// ```
    /// # use sd_notify_core::State;
    /// # use std::time::Duration;
    /// assert_eq!(State::extend_timeout(Duration::from_millis(1500)), State::ExtendTimeoutUsec(1_500_000));
    /// ```
    pub fn extend_timeout(by: Duration) -> State<'static> {
        State::ExtendTimeoutUsec(duration_usec(by))
    }

    /// The assignment's key, e.g. `"STATUS"`.
    ///
    /// ```
    /// # use sd_notify_core::State;
    /// assert_eq!(State::WatchdogTrigger.key(), "WATCHDOG");
    /// ```
    pub fn key(&self) -> &'a str {
        match *self {
            State::Ready => "READY",
            State::Reloading => "RELOADING",
            State::Stopping => "STOPPING",
            State::MonotonicUsec(_) => "MONOTONIC_USEC",
            State::Status(_) => "STATUS",
            State::NotifyAccess(_) => "NOTIFYACCESS",
            State::Errno(_) => "ERRNO",
            State::BusError(_) => "BUSERROR",
            State::VarlinkError(_) => "VARLINKERROR",
            State::ExitStatus(_) => "EXIT_STATUS",
            State::MainPid(_) => "MAINPID",
            State::MainPidFd => "MAINPIDFD",
            State::MainPidFdId(_) => "MAINPIDFDID",
            State::Watchdog | State::WatchdogTrigger => "WATCHDOG",
            State::WatchdogUsec(_) => "WATCHDOG_USEC",
            State::ExtendTimeoutUsec(_) => "EXTEND_TIMEOUT_USEC",
            State::RestartReset => "RESTART_RESET",
            State::FdStore => "FDSTORE",
            State::FdStoreRemove => "FDSTOREREMOVE",
            State::FdName(_) => "FDNAME",
            State::FdPollDisable => "FDPOLL",
            State::Extension { key, .. } | State::Other { key, .. } => key,
        }
    }

    /// Checks the state against the protocol's rules without encoding it.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] or [`Error::InvalidKey`] naming the broken [`Rule`].
    ///
    /// ```
    /// # use sd_notify_core::{State, Error, Rule};
    /// assert!(State::FdName("db:main").validate().is_err());
    /// assert!(State::FdName("db-main").validate().is_ok());
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |key: &'static str, rule| Err(Error::InvalidValue { key, rule });
        match *self {
            State::Status(v) => check_text(v).or_else(|rule| invalid("STATUS", rule)),
            State::Errno(n) if !(0..=4095).contains(&n) => invalid("ERRNO", Rule::OutOfRange),
            State::MainPid(pid) if pid == 0 || pid > i32::MAX as u32 => invalid("MAINPID", Rule::OutOfRange),
            State::BusError(v) => check_error_name(v, |c| c.is_ascii_alphanumeric() || c == '_')
                .or_else(|rule| invalid("BUSERROR", rule)),
            State::VarlinkError(v) => {
                check_error_name(v, |c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                    .or_else(|rule| invalid("VARLINKERROR", rule))
            }
            State::FdName(v) => check_fdname(v).or_else(|rule| invalid("FDNAME", rule)),
            State::Extension { key, value } => {
                if !key.starts_with("X_") || key.len() < 3 {
                    return Err(Error::InvalidKey { rule: Rule::Syntax });
                }
                check_key(key)?;
                check_text(value).or_else(|rule| invalid("X_", rule))
            }
            State::Other { key, value } => {
                check_key(key)?;
                if key == "BARRIER" {
                    return Err(Error::InvalidKey { rule: Rule::Reserved });
                }
                check_text(value).or_else(|rule| invalid("(free-form)", rule))
            }
            _ => Ok(()),
        }
    }

    /// Writes `KEY=VALUE` (without validating; [`Message`](crate::Message) validates first).
    pub(crate) fn write_line(&self, out: &mut impl fmt::Write) -> fmt::Result {
        out.write_str(self.key())?;
        out.write_char('=')?;
        match *self {
            State::Ready
            | State::Reloading
            | State::Stopping
            | State::MainPidFd
            | State::Watchdog
            | State::RestartReset
            | State::FdStore
            | State::FdStoreRemove => out.write_char('1'),
            State::FdPollDisable => out.write_char('0'),
            State::WatchdogTrigger => out.write_str("trigger"),
            State::Status(v)
            | State::BusError(v)
            | State::VarlinkError(v)
            | State::FdName(v)
            | State::Extension { value: v, .. }
            | State::Other { value: v, .. } => out.write_str(v),
            State::NotifyAccess(a) => out.write_str(a.as_str()),
            State::Errno(n) => write!(out, "{n}"),
            State::ExitStatus(n) => write!(out, "{n}"),
            State::MainPid(n) => write!(out, "{n}"),
            State::MonotonicUsec(n)
            | State::MainPidFdId(n)
            | State::WatchdogUsec(n)
            | State::ExtendTimeoutUsec(n) => write!(out, "{n}"),
        }
    }

    /// Parses one received line (`KEY=VALUE`, already split and unescaped) into a state.
    ///
    /// Known keys with a valid value give their typed variant; anything else (unknown keys,
    /// `READY=2`, `BARRIER=1`) gives [`State::Other`] (or [`State::Extension`] for `X_…`), just
    /// as the manager ignores what it does not understand. `None` for a line without `=`.
    ///
    /// ```
    /// # use sd_notify_core::State;
    /// assert_eq!(State::parse("MAINPID=42"), Some(State::MainPid(42)));
    /// assert_eq!(State::parse("READY=2"), Some(State::Other { key: "READY", value: "2" }));
    /// assert_eq!(State::parse("garbage"), None);
    /// ```
    pub fn parse(line: &'a str) -> Option<State<'a>> {
        let (key, value) = line.split_once('=')?;
        let num = || parse_decimal_u64(value);
        let typed = match (key, value) {
            ("READY", "1") => Some(State::Ready),
            ("RELOADING", "1") => Some(State::Reloading),
            ("STOPPING", "1") => Some(State::Stopping),
            ("MAINPIDFD", "1") => Some(State::MainPidFd),
            ("WATCHDOG", "1") => Some(State::Watchdog),
            ("WATCHDOG", "trigger") => Some(State::WatchdogTrigger),
            ("RESTART_RESET", "1") => Some(State::RestartReset),
            ("FDSTORE", "1") => Some(State::FdStore),
            ("FDSTOREREMOVE", "1") => Some(State::FdStoreRemove),
            ("FDPOLL", "0") => Some(State::FdPollDisable),
            ("STATUS", v) => Some(State::Status(v)),
            ("BUSERROR", v) => Some(State::BusError(v)),
            ("VARLINKERROR", v) => Some(State::VarlinkError(v)),
            ("FDNAME", v) => Some(State::FdName(v)),
            ("NOTIFYACCESS", v) => {
                [NotifyAccess::None, NotifyAccess::Main, NotifyAccess::Exec, NotifyAccess::All]
                    .into_iter()
                    .find(|a| a.as_str() == v)
                    .map(State::NotifyAccess)
            }
            ("MONOTONIC_USEC", _) => num().map(State::MonotonicUsec),
            ("MAINPIDFDID", _) => num().map(State::MainPidFdId),
            ("WATCHDOG_USEC", _) => num().map(State::WatchdogUsec),
            ("EXTEND_TIMEOUT_USEC", _) => num().map(State::ExtendTimeoutUsec),
            ("ERRNO", _) => num().and_then(|n| i32::try_from(n).ok()).map(State::Errno),
            ("EXIT_STATUS", _) => num().and_then(|n| u8::try_from(n).ok()).map(State::ExitStatus),
            ("MAINPID", _) => num().and_then(|n| u32::try_from(n).ok()).map(State::MainPid),
            _ => None,
        };
        Some(match typed {
            Some(state) if state.validate().is_ok() => state,
            _ if key.starts_with("X_") => State::Extension { key, value },
            _ => State::Other { key, value },
        })
    }
}

impl fmt::Display for State<'_> {
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
pub(crate) fn check_text(v: &str) -> Result<(), Rule> {
    match v.bytes().find(|&b| FORBIDDEN_IN_TEXT[usize::from(b)]) {
        None => Ok(()),
        Some(b) => check_text_byte(b),
    }
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
    rule.map_or(Ok(()), |rule| Err(Error::InvalidKey { rule }))
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
