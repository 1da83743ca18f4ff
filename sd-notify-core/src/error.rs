//! The one error type of the crate, and the rules whose breach it reports.
//!
//! Each error's `Display` says what went wrong at its own layer only; an inner error (the
//! `io::Error` with its errno, the [`AddressError`]) is returned by `source()`, never also
//! written into the text, so that error reporters that walk the chain (anyhow, eyre, the
//! exit report of `#[sd_service]`) print each cause once.

use std::borrow::Cow;
use std::fmt;
use std::io;

/// Why a notification was not sent, or an environment variable was not accepted.
///
/// Every variant carries enough to say which rule was broken; [`fmt::Display`] renders a
/// message meant for a human (and for a unit's `STATUS=`). It describes this layer only:
/// for [`Error::Io`] and [`Error::Address`] the inner error is
/// [`source()`](std::error::Error::source), so a reporter that walks the chain shows it once.
///
/// # Examples
/// ```
/// use sd_notify_core::{Error, Message, Rule, NotifyState};
///
/// let err = Message::from_states(&[NotifyState::Status("ok\nREADY=1")]).unwrap_err();
/// assert!(matches!(&err, Error::InvalidValue { key, rule: Rule::Newline } if key == "STATUS"));
/// assert_eq!(err.to_string(), "STATUS= value rejected: it contains a line feed (\\n), which would inject an assignment");
///
/// // The inner error is the source, not part of the text:
/// let err = Error::from(std::io::Error::from_raw_os_error(libc::ECONNREFUSED));
/// assert_eq!(err.to_string(), "the operating system reported an error");
/// let source = std::error::Error::source(&err).unwrap();
/// assert_eq!(source.downcast_ref::<std::io::Error>().unwrap().raw_os_error(), Some(libc::ECONNREFUSED));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// `NOTIFY_SOCKET` (or an address given explicitly) is not one systemd would accept.
    Address(AddressError),
    /// A state's value breaks one of the protocol's rules; nothing was sent.
    InvalidValue {
        /// The assignment's key as it would be sent, e.g. `"STATUS"`, or the key of an
        /// [`Extension`](crate::NotifyState::Extension) or [`Other`](crate::NotifyState::Other)
        /// state (borrowed for the crate's own keys: rejecting a value allocates nothing).
        key: Cow<'static, str>,
        /// The rule that was broken.
        rule: Rule,
    },
    /// A key given to [`NotifyState::Extension`](crate::NotifyState::Extension) or
    /// [`NotifyState::Other`](crate::NotifyState::Other) is not a valid key.
    InvalidKey {
        /// The key as given.
        key: Cow<'static, str>,
        /// The rule that was broken.
        rule: Rule,
    },
    /// The same key appears twice in one message (systemd would silently keep the first).
    DuplicateKey {
        /// The repeated key (borrowed for the crate's own keys).
        key: Cow<'static, str>,
    },
    /// The encoded message would exceed [`MAX_MESSAGE_LEN`](crate::MAX_MESSAGE_LEN) bytes,
    /// which the manager drops whole.
    MessageTooLong,
    /// The message is empty: it has no assignment.
    EmptyMessage,
    /// File descriptors were passed without `FDSTORE=1` or `MAINPIDFD=1`, or one of those was
    /// sent without any descriptor.
    FdMismatch,
    /// More than [`MAX_FDS`](crate::MAX_FDS) descriptors in one message.
    TooManyFds {
        /// How many were given.
        count: usize,
    },
    /// The manager did not take the datagram (or answer the barrier) within the timeout.
    Timeout,
    /// The operating system refused the operation (the `errno` is inside).
    Io(io::Error),
    /// This platform has no socket family for the address (e.g. not Linux).
    Unsupported,
    /// What was asked needs a Unix socket: file descriptors (`FDSTORE=1`, `MAINPIDFD=1`, the
    /// barrier's pipe) and claimed credentials (notifying for another PID) cannot travel
    /// over vsock to a manager on another machine, and the `Receiver` (Linux)
    /// binds Unix sockets only.
    NeedsUnixSocket,
}

impl Error {
    /// The OS error number behind this error, if there is one (`ETIMEDOUT` for
    /// [`Error::Timeout`], `EINVAL` for rule breaches, as libsystemd would return). The
    /// numbers are this platform's (`libc::E*`).
    ///
    /// ```
    /// # use sd_notify_core::{Error, NotifyState, Message};
    /// let err = Message::from_states(&[NotifyState::Errno(5000)]).unwrap_err();
    /// assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
    /// ```
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::Io(e) => e.raw_os_error(),
            Error::Timeout => Some(libc::ETIMEDOUT),
            Error::TooManyFds { .. } => Some(libc::E2BIG),
            Error::MessageTooLong => Some(libc::EMSGSIZE),
            Error::Unsupported | Error::NeedsUnixSocket => Some(libc::EOPNOTSUPP),
            Error::Address(_)
            | Error::InvalidValue { .. }
            | Error::InvalidKey { .. }
            | Error::DuplicateKey { .. }
            | Error::EmptyMessage
            | Error::FdMismatch => Some(libc::EINVAL),
        }
    }

    /// The error of a send on a socket with a send timeout (`SO_SNDTIMEO`): `EAGAIN` means
    /// the manager's queue stayed full for the whole timeout, which is [`Error::Timeout`];
    /// anything else is [`Error::Io`]. Only for the crate's own sends: the public
    /// `From<io::Error>` keeps every error as it is.
    pub(crate) fn from_send(e: io::Error) -> Error {
        if e.kind() == io::ErrorKind::WouldBlock { Error::Timeout } else { Error::Io(e) }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Address(_) => f.write_str("invalid notification socket address"),
            Error::InvalidValue { key, rule } => write!(f, "{key}= value rejected: {rule}"),
            Error::InvalidKey { key, rule } => write!(f, "assignment key {key:?} rejected: {rule}"),
            Error::DuplicateKey { key } => {
                write!(f, "{key}= appears twice in one message (systemd keeps only the first)")
            }
            Error::MessageTooLong => {
                write!(f, "message longer than {} bytes (the manager drops it whole)", crate::MAX_MESSAGE_LEN)
            }
            Error::EmptyMessage => write!(f, "message has no assignment"),
            Error::FdMismatch => write!(
                f,
                "file descriptors must travel with FDSTORE=1 or MAINPIDFD=1, and those need descriptors"
            ),
            Error::TooManyFds { count } => {
                write!(f, "{count} file descriptors given, at most {} fit one message", crate::MAX_FDS)
            }
            Error::Timeout => write!(f, "the service manager did not accept the message in time"),
            Error::Io(_) => f.write_str("the operating system reported an error"),
            Error::Unsupported => {
                write!(f, "notification sockets are not supported on this platform")
            }
            Error::NeedsUnixSocket => write!(
                f,
                "this needs a Unix socket: a vsock address cannot carry file descriptors, \
                 barriers or notifications for another PID, nor be bound by the receiver"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Address(e) => Some(e),
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    /// [`Error::Io`], whatever the error's kind (a `WouldBlock` of your own I/O stays an
    /// `Io` error; only the crate's sends report a full queue as [`Error::Timeout`]).
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<AddressError> for Error {
    fn from(e: AddressError) -> Self {
        Error::Address(e)
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Io(e) => e,
            Error::Timeout => io::Error::new(io::ErrorKind::TimedOut, e),
            Error::Unsupported | Error::NeedsUnixSocket => io::Error::new(io::ErrorKind::Unsupported, e),
            other => io::Error::new(io::ErrorKind::InvalidInput, other),
        }
    }
}

/// A rule of the protocol that a value or key broke.
///
/// ```
/// use sd_notify_core::{Error, Rule, NotifyState};
/// let err = NotifyState::FdName("a:b").validate().unwrap_err();
/// assert!(matches!(&err, Error::InvalidValue { key, rule: Rule::Character(':') } if key == "FDNAME"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rule {
    /// Contains `\n`: the manager would read the rest as another assignment.
    Newline,
    /// Contains `\r`: the manager splits lines on it too.
    CarriageReturn,
    /// Contains NUL: the manager drops the whole datagram.
    Nul,
    /// Contains `\`: systemd 252 treats it as an escape (removes it, and a trailing one drops
    /// the datagram or swallows the next line), older managers keep it, so its meaning is not
    /// stable. Use [`sanitize_status`](crate::sanitize_status) for free text from outside.
    Backslash,
    /// Must not be empty.
    Empty,
    /// Longer than the field allows.
    TooLong {
        /// The maximum length in bytes.
        max: usize,
    },
    /// A character the field does not allow (e.g. `:` in `FDNAME=`).
    Character(char),
    /// A number outside the accepted range.
    OutOfRange,
    /// Not of the field's syntax (a D-Bus or Varlink error name, a key).
    Syntax,
    /// `BARRIER=1` is sent only by [`Notifier::barrier`](crate::Notifier::barrier), alone.
    Reserved,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Newline => f.write_str("it contains a line feed (\\n), which would inject an assignment"),
            Rule::CarriageReturn => {
                f.write_str("it contains a carriage return (\\r), which would inject an assignment")
            }
            Rule::Nul => f.write_str("it contains a NUL byte, which makes the manager drop the message"),
            Rule::Backslash => f.write_str(
                "it contains a backslash, which systemd reads as an escape character (a trailing one drops the message)",
            ),
            Rule::Empty => f.write_str("it must not be empty"),
            Rule::TooLong { max } => write!(f, "it is longer than {max} bytes"),
            Rule::Character(c) => write!(f, "it contains the character {c:?}, which this field does not allow"),
            Rule::OutOfRange => f.write_str("the number is out of the accepted range"),
            Rule::Syntax => f.write_str("it does not follow the field's syntax"),
            Rule::Reserved => f.write_str("BARRIER=1 is reserved for the barrier, which sends it alone"),
        }
    }
}

/// Why a `NOTIFY_SOCKET` value (or an explicit address) was rejected.
///
/// The cases are the ones libsystemd rejects (`EINVAL`/`ENAMETOOLONG`).
///
/// ```
/// use sd_notify_core::{AddressError, NotifyAddress};
/// assert_eq!(NotifyAddress::parse("run/notify"), Err(AddressError::Relative));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddressError {
    /// The value is empty.
    Empty,
    /// Neither `/…`, `@…` nor `vsock…:`: relative paths, `unix:…`, a leading space.
    Relative,
    /// `/` alone or `@` alone: shorter than two characters.
    TooShort,
    /// Path or abstract name does not fit `sun_path` (length + 1 must be ≤ 108).
    TooLong,
    /// The path contains a NUL byte.
    Nul,
    /// A `vsock` address without a CID (`vsock::1`).
    MissingCid,
    /// The CID is neither a number nor `hypervisor`, `local`, `host`.
    InvalidCid,
    /// The port is missing, not a number, or `4294967295` (VMADDR_PORT_ANY).
    InvalidPort,
    /// Not `vsock:CID:PORT` (e.g. a missing `:`), or an unknown `vsock-…:` kind.
    InvalidVsock,
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddressError::Empty => "the address is empty",
            AddressError::Relative => {
                "the address must be an absolute path, an abstract name starting with '@', or vsock:CID:PORT"
            }
            AddressError::TooShort => "the address is too short ('/' or '@' alone)",
            AddressError::TooLong => "the address does not fit a Unix socket address (108 bytes)",
            AddressError::Nul => "the address contains a NUL byte",
            AddressError::MissingCid => "the vsock address has no CID",
            AddressError::InvalidCid => "the vsock CID is not a number, 'hypervisor', 'local' or 'host'",
            AddressError::InvalidPort => "the vsock port is missing, not a number, or 4294967295",
            AddressError::InvalidVsock => "the vsock address is not of the form vsock[-KIND]:CID:PORT",
        })
    }
}

impl std::error::Error for AddressError {}
