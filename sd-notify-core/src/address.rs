//! `NOTIFY_SOCKET` addresses: parsing and the rules libsystemd applies.

use std::ffi::{OsStr, OsString};
use std::fmt::{self, Write as _};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::AddressError;

/// The name of the environment variable that carries the manager's notification socket.
///
/// ```
/// let supervised = std::env::var_os(sd_notify_core::NOTIFY_SOCKET).is_some();
/// ```
pub const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";

/// Bytes of `sun_path` in `struct sockaddr_un` on Linux; a name plus one byte must fit.
pub(crate) const SUN_PATH_LEN: usize = 108;

/// Where notifications go: a validated `NOTIFY_SOCKET` address.
///
/// | `NOTIFY_SOCKET` | constructor | accessor |
/// |---|---|---|
/// | `/run/systemd/notify` | [`NotifyAddress::from_path`] | [`as_path`](NotifyAddress::as_path) |
/// | `@/org/freedesktop/systemd1/notify/123` | [`NotifyAddress::from_abstract_name`] (without the `@`) | [`as_abstract_name`](NotifyAddress::as_abstract_name) |
/// | `vsock:2:1234`, `vsock-stream:host:1234` | [`NotifyAddress::from_vsock`] | [`as_vsock`](NotifyAddress::as_vsock) |
///
/// Every value of this type is one libsystemd would accept: the representation is private
/// and every way in ([`parse`](NotifyAddress::parse), [`FromStr`], `TryFrom<&OsStr>`,
/// `TryFrom<OsString>` and the three constructors) checks the same rules and answers with an
/// [`AddressError`]. So a [`Notifier`](crate::Notifier) or [`Receiver`](crate::Receiver)
/// never meets a relative path, an empty or over-long name, or the reserved vsock port.
/// (The type is opaque rather than an enum with a separate check, so that an invalid address
/// cannot be built at all, and new address families can be added without breaking matches.)
///
/// Two text forms: [`to_os_string`](NotifyAddress::to_os_string) is exactly what
/// `NOTIFY_SOCKET` must be set to, byte for byte, and parses back to an equal address;
/// [`Display`](fmt::Display) is for people (logs, error messages) and escapes what is not
/// printable UTF-8, so it is not always a valid `NOTIFY_SOCKET` value.
///
/// # Examples
/// ```
/// use sd_notify_core::{NotifyAddress, VsockKind};
///
/// let addr: NotifyAddress = "@app/notify".parse()?;
/// assert_eq!(addr.as_abstract_name(), Some(&b"app/notify"[..]));
/// assert_eq!(addr, NotifyAddress::from_abstract_name("app/notify")?);
/// assert_eq!(
///     NotifyAddress::parse("vsock-stream:host:9000")?,
///     NotifyAddress::from_vsock(VsockKind::Stream, 2, 9000)?,
/// );
/// assert_eq!(NotifyAddress::parse("/run/notify")?.to_os_string(), "/run/notify");
/// // Hand-built addresses follow the same rules as parsed ones:
/// assert!(NotifyAddress::from_path("run/notify").is_err());
/// # Ok::<(), sd_notify_core::AddressError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NotifyAddress {
    repr: Repr,
}

/// The representation of a [`NotifyAddress`], valid by construction; crate-internal so that
/// the sending and receiving code can match on it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Repr {
    /// A filesystem `AF_UNIX` datagram socket. `sun_path` = path + NUL.
    Path(PathBuf),
    /// A Linux abstract socket; the name without its leading `@`. `sun_path` = NUL + name,
    /// with no terminator, and the address length counts exactly those bytes.
    Abstract(Vec<u8>),
    /// An `AF_VSOCK` address (systemd ≥ 254 senders; VMs and containers).
    Vsock { kind: VsockKind, cid: u32, port: u32 },
}

/// The socket type of a `vsock` address.
///
/// ```
/// use sd_notify_core::{NotifyAddress, VsockKind};
/// let (kind, cid, port) = NotifyAddress::parse("vsock-seqpacket:2:99")?.as_vsock().unwrap();
/// assert_eq!((kind, cid, port), (VsockKind::SeqPacket, 2, 99));
/// # Ok::<(), sd_notify_core::AddressError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
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
    /// Parses a `NOTIFY_SOCKET` value (the same as [`str::parse`] through [`FromStr`]; for a
    /// value that may not be UTF-8, use `NotifyAddress::try_from(&OsStr)`).
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

    fn parse_bytes(v: &[u8]) -> Result<Self, AddressError> {
        match v.first() {
            None => Err(AddressError::Empty),
            Some(b'/') => Self::from_path(OsStr::from_bytes(v)),
            Some(b'@') => Self::from_abstract_name(&v[1..]),
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
        let port = parse_decimal_u32(port).ok_or(AddressError::InvalidPort)?;
        Self::from_vsock(kind, cid, port)
    }

    /// A filesystem socket address (`NOTIFY_SOCKET=/…`).
    ///
    /// # Errors
    /// [`AddressError::Empty`]; [`AddressError::Relative`] unless the path starts with `/`;
    /// [`AddressError::TooShort`] for `/` alone; [`AddressError::TooLong`] when the path and
    /// its terminating NUL do not fit `sun_path` (108 bytes); [`AddressError::Nul`].
    ///
    /// ```
    /// # use sd_notify_core::{AddressError, NotifyAddress};
    /// let addr = NotifyAddress::from_path("/run/my-notify")?;
    /// assert_eq!(addr.as_path(), Some(std::path::Path::new("/run/my-notify")));
    /// assert_eq!(NotifyAddress::from_path("relative/notify"), Err(AddressError::Relative));
    /// assert_eq!(NotifyAddress::from_path("/"), Err(AddressError::TooShort));
    /// # Ok::<(), AddressError>(())
    /// ```
    pub fn from_path(path: impl Into<PathBuf>) -> Result<Self, AddressError> {
        let path = path.into();
        let bytes = path.as_os_str().as_bytes();
        match bytes.first() {
            None => return Err(AddressError::Empty),
            Some(b'/') => {}
            Some(_) => return Err(AddressError::Relative),
        }
        check_unix_name(bytes)?;
        Ok(NotifyAddress { repr: Repr::Path(path) })
    }

    /// A Linux abstract socket address; `name` is without the `@` that `NOTIFY_SOCKET`
    /// writes for it.
    ///
    /// # Errors
    /// [`AddressError::TooShort`] for an empty name (`@` alone); [`AddressError::TooLong`]
    /// when `@name` and a NUL do not fit `sun_path` (108 bytes), as libsystemd counts;
    /// [`AddressError::Nul`].
    ///
    /// ```
    /// # use sd_notify_core::{AddressError, NotifyAddress};
    /// let addr = NotifyAddress::from_abstract_name("my-app/notify")?;
    /// assert_eq!(addr.to_os_string(), "@my-app/notify");
    /// assert_eq!(NotifyAddress::from_abstract_name(""), Err(AddressError::TooShort));
    /// assert_eq!(NotifyAddress::from_abstract_name(vec![b'a'; 107]), Err(AddressError::TooLong));
    /// # Ok::<(), AddressError>(())
    /// ```
    pub fn from_abstract_name(name: impl Into<Vec<u8>>) -> Result<Self, AddressError> {
        let name = name.into();
        // Checked as its `NOTIFY_SOCKET` form, `@name`.
        let with_at_len = name.len() + 1;
        if with_at_len < 2 {
            return Err(AddressError::TooShort);
        }
        if with_at_len + 1 > SUN_PATH_LEN {
            return Err(AddressError::TooLong);
        }
        if name.contains(&0) {
            return Err(AddressError::Nul);
        }
        Ok(NotifyAddress { repr: Repr::Abstract(name) })
    }

    /// An `AF_VSOCK` address (`NOTIFY_SOCKET=vsock[-KIND]:CID:PORT`), in the order of its
    /// text form. Named CIDs are numbers here: `hypervisor` = 0, `local` = 1, `host` = 2.
    ///
    /// # Errors
    /// [`AddressError::InvalidPort`] for port `4294967295` (`VMADDR_PORT_ANY`, which cannot
    /// be connected to).
    ///
    /// ```
    /// # use sd_notify_core::{AddressError, NotifyAddress, VsockKind};
    /// let addr = NotifyAddress::from_vsock(VsockKind::Any, 2, 1234)?;
    /// assert_eq!(addr.to_os_string(), "vsock:2:1234");
    /// assert_eq!(NotifyAddress::from_vsock(VsockKind::Any, 2, u32::MAX), Err(AddressError::InvalidPort));
    /// # Ok::<(), AddressError>(())
    /// ```
    pub fn from_vsock(kind: VsockKind, cid: u32, port: u32) -> Result<Self, AddressError> {
        if port == u32::MAX {
            return Err(AddressError::InvalidPort);
        }
        Ok(NotifyAddress { repr: Repr::Vsock { kind, cid, port } })
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
        std::env::var_os(NOTIFY_SOCKET).map(NotifyAddress::try_from).transpose()
    }

    /// The filesystem path, for a path address.
    ///
    /// ```
    /// # use sd_notify_core::NotifyAddress;
    /// assert_eq!(NotifyAddress::parse("/run/n")?.as_path(), Some(std::path::Path::new("/run/n")));
    /// assert!(NotifyAddress::parse("@x")?.as_path().is_none());
    /// # Ok::<(), sd_notify_core::AddressError>(())
    /// ```
    pub fn as_path(&self) -> Option<&Path> {
        match &self.repr {
            Repr::Path(p) => Some(p),
            _ => None,
        }
    }

    /// The abstract socket's name (without the `@`), for an abstract address.
    ///
    /// ```
    /// # use sd_notify_core::NotifyAddress;
    /// assert_eq!(NotifyAddress::parse("@x")?.as_abstract_name(), Some(&b"x"[..]));
    /// assert!(NotifyAddress::parse("/x")?.as_abstract_name().is_none());
    /// # Ok::<(), sd_notify_core::AddressError>(())
    /// ```
    pub fn as_abstract_name(&self) -> Option<&[u8]> {
        match &self.repr {
            Repr::Abstract(name) => Some(name),
            _ => None,
        }
    }

    /// `(kind, cid, port)`, in the order of the text form, for a vsock address.
    ///
    /// ```
    /// # use sd_notify_core::{NotifyAddress, VsockKind};
    /// assert_eq!(NotifyAddress::parse("vsock:host:9")?.as_vsock(), Some((VsockKind::Any, 2, 9)));
    /// assert!(NotifyAddress::parse("@x")?.as_vsock().is_none());
    /// # Ok::<(), sd_notify_core::AddressError>(())
    /// ```
    pub fn as_vsock(&self) -> Option<(VsockKind, u32, u32)> {
        match self.repr {
            Repr::Vsock { kind, cid, port } => Some((kind, cid, port)),
            _ => None,
        }
    }

    /// The exact `NOTIFY_SOCKET` value for this address, byte for byte (paths and abstract
    /// names need not be UTF-8); `NotifyAddress::try_from` gives back an equal address.
    /// Named vsock CIDs are written as numbers.
    ///
    /// ```
    /// # use sd_notify_core::NotifyAddress;
    /// use std::{ffi::OsStr, os::unix::ffi::OsStrExt};
    /// let addr = NotifyAddress::try_from(OsStr::from_bytes(b"@app\xff"))?;
    /// let value = addr.to_os_string();
    /// assert_eq!(value.as_bytes(), b"@app\xff");
    /// assert_eq!(NotifyAddress::try_from(value)?, addr);
    /// std::process::Command::new("true").env(sd_notify_core::NOTIFY_SOCKET, addr.to_os_string());
    /// # Ok::<(), sd_notify_core::AddressError>(())
    /// ```
    pub fn to_os_string(&self) -> OsString {
        match &self.repr {
            Repr::Path(p) => p.clone().into_os_string(),
            Repr::Abstract(name) => {
                let mut v = Vec::with_capacity(name.len() + 1);
                v.push(b'@');
                v.extend_from_slice(name);
                OsString::from_vec(v)
            }
            Repr::Vsock { kind, cid, port } => format!("{}{cid}:{port}", kind.prefix()).into(),
        }
    }

    /// The representation, for the code that opens sockets.
    pub(crate) fn repr(&self) -> &Repr {
        &self.repr
    }
}

/// The rules shared by paths and abstract names, on their `NOTIFY_SOCKET` form.
fn check_unix_name(v: &[u8]) -> Result<(), AddressError> {
    if v.len() < 2 {
        return Err(AddressError::TooShort);
    }
    if v.len() + 1 > SUN_PATH_LEN {
        return Err(AddressError::TooLong);
    }
    if v.contains(&0) {
        return Err(AddressError::Nul);
    }
    Ok(())
}

impl FromStr for NotifyAddress {
    type Err = AddressError;

    /// As [`NotifyAddress::parse`].
    fn from_str(value: &str) -> Result<Self, AddressError> {
        Self::parse(value)
    }
}

impl TryFrom<&OsStr> for NotifyAddress {
    type Error = AddressError;

    /// Parses a `NOTIFY_SOCKET` value that may not be UTF-8 (paths are bytes on Linux), as
    /// [`NotifyAddress::parse`].
    fn try_from(value: &OsStr) -> Result<Self, AddressError> {
        Self::parse_bytes(value.as_bytes())
    }
}

impl TryFrom<OsString> for NotifyAddress {
    type Error = AddressError;

    /// As `TryFrom<&OsStr>`: what [`std::env::var_os`] returns parses directly.
    fn try_from(value: OsString) -> Result<Self, AddressError> {
        Self::parse_bytes(value.as_bytes())
    }
}

impl fmt::Display for NotifyAddress {
    /// The address for people: its `NOTIFY_SOCKET` form when that is printable UTF-8 without
    /// a backslash; otherwise a backslash becomes `\\`, control characters are escaped as
    /// by [`char::escape_debug`] (`\n`, `\u{1b}`) and bytes that are not UTF-8 become
    /// `\xNN`. No two addresses display alike, but an escaped form is not the address's
    /// `NOTIFY_SOCKET` value: use [`NotifyAddress::to_os_string`] for that.
    ///
    /// ```
    /// # use sd_notify_core::NotifyAddress;
    /// use std::{ffi::OsStr, os::unix::ffi::OsStrExt};
    /// assert_eq!(NotifyAddress::parse("@app")?.to_string(), "@app");
    /// assert_eq!(NotifyAddress::try_from(OsStr::from_bytes(b"@\xffx"))?.to_string(), r"@\xffx");
    /// assert_eq!(NotifyAddress::parse(r"@\xffx")?.to_string(), r"@\\xffx");
    /// # Ok::<(), sd_notify_core::AddressError>(())
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Path(p) => write_escaped(f, p.as_os_str().as_bytes()),
            Repr::Abstract(name) => {
                f.write_char('@')?;
                write_escaped(f, name)
            }
            Repr::Vsock { kind, cid, port } => write!(f, "{}{cid}:{port}", kind.prefix()),
        }
    }
}

impl fmt::Debug for NotifyAddress {
    /// `NotifyAddress("…")` with the [`Display`](fmt::Display) form inside.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("NotifyAddress").field(&format_args!("\"{self}\"")).finish()
    }
}

/// Writes `bytes` as printable text: valid UTF-8 as it is, except `\` and control
/// characters (escaped), and every byte that is not UTF-8 as `\xNN`.
fn write_escaped(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                f.write_str("\\\\")?;
            } else if c.is_control() {
                write!(f, "{}", c.escape_debug())?;
            } else {
                f.write_char(c)?;
            }
        }
        for b in chunk.invalid() {
            write!(f, "\\x{b:02x}")?;
        }
    }
    Ok(())
}

/// Strict decimal: digits only (no sign, no spaces), fits `u32`.
fn parse_decimal_u32(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}
