//! `NOTIFY_SOCKET` addresses: parsing and the rules libsystemd applies.

use std::ffi::OsStr;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::error::AddressError;

/// The name of the environment variable that carries the manager's notification socket.
///
/// ```
/// let supervised = std::env::var_os(sd_notify_core::NOTIFY_SOCKET).is_some();
/// ```
pub const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";

/// Bytes of `sun_path` in `struct sockaddr_un` on Linux; a name plus one byte must fit.
pub(crate) const SUN_PATH_LEN: usize = 108;

/// Where notifications go: the parsed form of `NOTIFY_SOCKET`.
///
/// | `NOTIFY_SOCKET` | variant |
/// |---|---|
/// | `/run/systemd/notify` | [`NotifyAddress::Path`] |
/// | `@/org/freedesktop/systemd1/notify/123` | [`NotifyAddress::Abstract`] (name without the `@`) |
/// | `vsock:2:1234`, `vsock-stream:host:1234` | [`NotifyAddress::Vsock`] |
///
/// # Examples
/// ```
/// use sd_notify_core::{NotifyAddress, VsockKind};
///
/// assert_eq!(NotifyAddress::parse("@app/notify")?, NotifyAddress::Abstract(b"app/notify".to_vec()));
/// assert_eq!(
///     NotifyAddress::parse("vsock-stream:host:9000")?,
///     NotifyAddress::Vsock { kind: VsockKind::Stream, cid: 2, port: 9000 },
/// );
/// assert_eq!(NotifyAddress::parse("/run/notify")?.to_string(), "/run/notify");
/// # Ok::<(), sd_notify_core::AddressError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NotifyAddress {
    /// A filesystem `AF_UNIX` datagram socket. `sun_path` = path + NUL.
    Path(PathBuf),
    /// A Linux abstract socket; the name without its leading `@`. `sun_path` = NUL + name,
    /// with no terminator, and the address length counts exactly those bytes.
    Abstract(Vec<u8>),
    /// An `AF_VSOCK` address (systemd ≥ 254 senders; VMs and containers).
    Vsock {
        /// Which socket types to use.
        kind: VsockKind,
        /// The context ID (`hypervisor` = 0, `local` = 1, `host` = 2).
        cid: u32,
        /// The port (any `u32` except `4294967295`).
        port: u32,
    },
}

/// The socket type of a `vsock` address.
///
/// ```
/// use sd_notify_core::{NotifyAddress, VsockKind};
/// let NotifyAddress::Vsock { kind, .. } = NotifyAddress::parse("vsock-seqpacket:2:99")? else { unreachable!() };
/// assert_eq!(kind, VsockKind::SeqPacket);
/// # Ok::<(), sd_notify_core::AddressError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VsockKind {
    /// `vsock:` — datagram, then seqpacket, then stream, as libsystemd tries them.
    Any,
    /// `vsock-dgram:`
    Datagram,
    /// `vsock-stream:` — connect, send, shut down writing.
    Stream,
    /// `vsock-seqpacket:` — connect, send, shut down writing.
    SeqPacket,
}

impl VsockKind {
    const PREFIXES: [(&'static str, VsockKind); 4] = [
        ("vsock:", VsockKind::Any),
        ("vsock-dgram:", VsockKind::Datagram),
        ("vsock-stream:", VsockKind::Stream),
        ("vsock-seqpacket:", VsockKind::SeqPacket),
    ];

    fn prefix(self) -> &'static str {
        Self::PREFIXES.iter().find(|(_, k)| *k == self).map_or("vsock:", |(p, _)| p)
    }
}

impl NotifyAddress {
    /// Parses a `NOTIFY_SOCKET` value.
    ///
    /// # Errors
    /// An [`AddressError`] for every form libsystemd rejects: empty, relative, `/` or `@` alone,
    /// `unix:…`, a leading space, a name that does not fit `sun_path`, a NUL byte, malformed
    /// vsock addresses (missing CID, bad port, port `4294967295`).
    ///
    /// ```
    /// # use sd_notify_core::{NotifyAddress, AddressError};
    /// assert_eq!(NotifyAddress::parse("@"), Err(AddressError::TooShort));
    /// assert_eq!(NotifyAddress::parse("vsock::1"), Err(AddressError::MissingCid));
    /// ```
    ///
    /// # References
    /// [`sd_notify(3)`](https://www.freedesktop.org/software/systemd/man/sd_notify.html)
    pub fn parse(value: &str) -> Result<Self, AddressError> {
        Self::parse_bytes(value.as_bytes())
    }

    /// Parses a `NOTIFY_SOCKET` value that may not be UTF-8 (paths are bytes on Linux).
    ///
    /// # Errors
    /// As [`NotifyAddress::parse`].
    ///
    /// ```
    /// # use sd_notify_core::NotifyAddress;
    /// use std::ffi::OsStr;
    /// assert!(NotifyAddress::parse_os(OsStr::new("/run/notify")).is_ok());
    /// ```
    pub fn parse_os(value: &OsStr) -> Result<Self, AddressError> {
        Self::parse_bytes(value.as_bytes())
    }

    fn parse_bytes(v: &[u8]) -> Result<Self, AddressError> {
        match v.first() {
            None => Err(AddressError::Empty),
            Some(b'/' | b'@') => {
                if v.len() < 2 {
                    return Err(AddressError::TooShort);
                }
                if v.len() + 1 > SUN_PATH_LEN {
                    return Err(AddressError::TooLong);
                }
                if v.contains(&0) {
                    return Err(AddressError::Nul);
                }
                Ok(if v[0] == b'/' {
                    NotifyAddress::Path(PathBuf::from(OsStr::from_bytes(v)))
                } else {
                    NotifyAddress::Abstract(v[1..].to_vec())
                })
            }
            Some(_) if v.starts_with(b"vsock") => Self::parse_vsock(v),
            Some(_) => Err(AddressError::Relative),
        }
    }

    fn parse_vsock(v: &[u8]) -> Result<Self, AddressError> {
        let (rest, kind) = VsockKind::PREFIXES
            .iter()
            .find_map(|(p, k)| v.strip_prefix(p.as_bytes()).map(|rest| (rest, *k)))
            .ok_or(AddressError::InvalidVsock)?;
        let rest = std::str::from_utf8(rest).map_err(|_| AddressError::InvalidVsock)?;
        let (cid, port) = rest.split_once(':').ok_or(AddressError::InvalidVsock)?;
        let cid = match cid {
            "" => return Err(AddressError::MissingCid),
            "hypervisor" => 0,
            "local" => 1,
            "host" => 2,
            digits => parse_decimal_u32(digits).ok_or(AddressError::InvalidCid)?,
        };
        let port = parse_decimal_u32(port).filter(|&p| p != u32::MAX).ok_or(AddressError::InvalidPort)?;
        Ok(NotifyAddress::Vsock { kind, cid, port })
    }

    /// Reads and parses `NOTIFY_SOCKET` from the environment; `Ok(None)` when it is unset.
    ///
    /// # Errors
    /// As [`NotifyAddress::parse`], for a set but invalid value.
    ///
    /// ```
    /// # use sd_notify_core::NotifyAddress;
    /// // Under systemd with Type=notify this is Some(..); in a plain shell, None.
    /// let addr = NotifyAddress::from_env()?;
    /// # Ok::<(), sd_notify_core::AddressError>(())
    /// ```
    pub fn from_env() -> Result<Option<Self>, AddressError> {
        std::env::var_os(NOTIFY_SOCKET).map(|v| Self::parse_os(&v)).transpose()
    }

    /// The filesystem path, for [`NotifyAddress::Path`].
    ///
    /// ```
    /// # use sd_notify_core::NotifyAddress;
    /// assert!(NotifyAddress::parse("@x")?.path().is_none());
    /// # Ok::<(), sd_notify_core::AddressError>(())
    /// ```
    pub fn path(&self) -> Option<&Path> {
        match self {
            NotifyAddress::Path(p) => Some(p),
            _ => None,
        }
    }
}

impl fmt::Display for NotifyAddress {
    /// Renders the address as a `NOTIFY_SOCKET` value (named CIDs as numbers).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotifyAddress::Path(p) => write!(f, "{}", p.display()),
            NotifyAddress::Abstract(name) => write!(f, "@{}", String::from_utf8_lossy(name)),
            NotifyAddress::Vsock { kind, cid, port } => write!(f, "{}{cid}:{port}", kind.prefix()),
        }
    }
}

/// Strict decimal: digits only (no sign, no spaces), fits `u32`.
fn parse_decimal_u32(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}
