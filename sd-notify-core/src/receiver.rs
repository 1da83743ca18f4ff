//! A notification receiver that plays the service manager's part, for tests.

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::address::{NOTIFY_SOCKET, NotifyAddress, Repr};
use crate::error::Error;
use crate::message::MAX_MESSAGE_LEN;
use crate::state::NotifyState;
use crate::sys;

/// A notification socket bound in place of systemd's, for integration tests.
///
/// It binds a fresh path or abstract socket with `SO_PASSCRED`, hands out the environment a
/// child needs ([`Receiver::env`]), and receives each datagram with the sender's credentials
/// and any passed descriptors. Each datagram is read the way the manager of systemd 252 and
/// later reads it ([`Notification::lines`]): split on `\n` and `\r`, empty lines dropped,
/// backslash escapes removed, and dropped whole when over 4096 bytes, containing NUL or
/// ending in a lone backslash.
///
/// [`Receiver::bind`] takes its address as [`Notifier::new`](crate::Notifier::new) does (by
/// value: both keep it) and fails with the same [`Error`]; receiving is plain I/O
/// ([`io::Result`]).
///
/// # Examples
/// ```
/// use sd_notify_core::{Receiver, NotifyState};
/// use std::{process::Command, time::Duration};
///
/// let receiver = Receiver::bind_unique_abstract()?;
/// // A child service gets the socket through its environment:
/// let (key, value) = receiver.env();
/// let mut service = Command::new("true");
/// service.env(key, value);
/// // In-process, an explicit notifier reaches it without touching the environment:
/// receiver.notifier()?.notify(&[NotifyState::Ready, NotifyState::Status("hello")])?;
/// let n = receiver.recv_timeout(Duration::from_secs(5))?;
/// assert_eq!(n.states(), [NotifyState::Ready, NotifyState::Status("hello")]);
/// assert_eq!(n.pid(), Some(std::process::id()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Receiver {
    socket: OwnedFd,
    address: NotifyAddress,
    /// A socket file we created, removed on drop.
    path: Option<PathBuf>,
}

impl fmt::Debug for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").field("address", &self.address).finish_non_exhaustive()
    }
}

static UNIQUE: AtomicU64 = AtomicU64::new(0);

/// A name no other receiver in any process is using: pid, a counter, and the time.
fn unique_name() -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    format!("sd-notify-{}-{}-{nanos}", std::process::id(), UNIQUE.fetch_add(1, Ordering::Relaxed))
}

impl Receiver {
    /// Binds `address` (a path or an abstract name).
    ///
    /// # Errors
    /// [`Error::Io`] with `EADDRINUSE` when the address is taken, and other `bind(2)`
    /// errors; [`Error::NeedsUnixSocket`] for a vsock address.
    ///
    /// ```
    /// # use sd_notify_core::{NotifyAddress, Receiver};
    /// let path = std::env::temp_dir().join(format!("doc-{}.sock", std::process::id()));
    /// let receiver = Receiver::bind(NotifyAddress::from_path(path)?)?;
    /// # Ok::<(), sd_notify_core::Error>(())
    /// ```
    pub fn bind(address: NotifyAddress) -> Result<Self, Error> {
        let (is_abstract, name, path): (bool, &[u8], _) = match address.repr() {
            Repr::Path(p) => (false, p.as_os_str().as_bytes(), Some(p.clone())),
            Repr::Abstract(name) => (true, name, None),
            Repr::Vsock { .. } => return Err(Error::NeedsUnixSocket),
        };
        let addr = sys::UnixAddr::new(is_abstract, name)?;
        let socket = sys::unix_dgram_socket()?;
        sys::set_pass_credentials(socket.as_fd())?;
        sys::bind_unix(socket.as_fd(), &addr)?;
        Ok(Receiver { socket, address, path })
    }

    /// Binds a fresh abstract socket (`@sd-notify-<pid>-<n>-<time>`): nothing on disk.
    ///
    /// # Errors
    /// As [`Receiver::bind`].
    ///
    /// ```
    /// # use sd_notify_core::Receiver;
    /// let receiver = Receiver::bind_unique_abstract()?;
    /// assert!(receiver.address().to_string().starts_with("@sd-notify-"));
    /// # Ok::<(), sd_notify_core::Error>(())
    /// ```
    pub fn bind_unique_abstract() -> Result<Self, Error> {
        Self::bind(NotifyAddress::from_abstract_name(unique_name())?)
    }

    /// Binds a fresh socket file in [`std::env::temp_dir`], removed when the receiver drops.
    ///
    /// # Errors
    /// As [`Receiver::bind`]; [`Error::Address`] if the temporary directory's path is too
    /// long for a socket address.
    ///
    /// ```
    /// # use sd_notify_core::Receiver;
    /// let receiver = Receiver::bind_unique_path()?;
    /// assert!(receiver.address().as_path().unwrap().exists());
    /// # Ok::<(), sd_notify_core::Error>(())
    /// ```
    pub fn bind_unique_path() -> Result<Self, Error> {
        let path = std::env::temp_dir().join(format!("{}.sock", unique_name()));
        Self::bind(NotifyAddress::from_path(path)?)
    }

    /// The bound address.
    ///
    /// ```
    /// # use sd_notify_core::Receiver;
    /// let r = Receiver::bind_unique_abstract()?;
    /// println!("NOTIFY_SOCKET={}", r.address());
    /// # Ok::<(), sd_notify_core::Error>(())
    /// ```
    pub fn address(&self) -> &NotifyAddress {
        &self.address
    }

    /// The variable to hand a child process: `("NOTIFY_SOCKET", address)`, for
    /// [`Command::env`](std::process::Command::env); the value is
    /// [`NotifyAddress::to_os_string`], exact for any bytes.
    ///
    /// ```
    /// # use sd_notify_core::Receiver;
    /// let r = Receiver::bind_unique_abstract()?;
    /// let (key, value) = r.env();
    /// let child = std::process::Command::new("true").env(key, value).status()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn env(&self) -> (&'static str, OsString) {
        (NOTIFY_SOCKET, self.address.to_os_string())
    }

    /// A [`Notifier`](crate::Notifier) that sends to this receiver.
    ///
    /// # Errors
    /// As [`Notifier::new`](crate::Notifier::new).
    ///
    /// ```
    /// # use sd_notify_core::{Receiver, NotifyState};
    /// let r = Receiver::bind_unique_abstract()?;
    /// r.notifier()?.notify(&[NotifyState::Ready])?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn notifier(&self) -> Result<crate::Notifier, Error> {
        crate::Notifier::new(self.address.clone())
    }

    /// Waits up to `timeout` for the next datagram.
    ///
    /// # Errors
    /// [`io::ErrorKind::TimedOut`] when nothing arrived in time; `recvmsg(2)` errors.
    ///
    /// ```
    /// # use sd_notify_core::Receiver;
    /// # use std::time::Duration;
    /// let r = Receiver::bind_unique_abstract()?;
    /// let err = r.recv_timeout(Duration::from_millis(10)).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> io::Result<Notification> {
        loop {
            if let Some(n) = self.try_recv()? {
                return Ok(n);
            }
            if sys::poll(self.socket.as_fd(), sys::POLLIN, Some(timeout))? == 0 {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "no notification arrived in time"));
            }
        }
    }

    /// The next datagram if one is queued, without waiting.
    ///
    /// # Errors
    /// `recvmsg(2)` errors.
    ///
    /// ```
    /// # use sd_notify_core::Receiver;
    /// let r = Receiver::bind_unique_abstract()?;
    /// assert!(r.try_recv()?.is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_recv(&self) -> io::Result<Option<Notification>> {
        let mut buf = vec![0; MAX_MESSAGE_LEN + 1];
        match sys::recv_msg(self.socket.as_fd(), &mut buf) {
            Ok(r) => {
                buf.truncate(r.len.min(buf.len()));
                Ok(Some(Notification::new(buf, r.len, r.creds, r.fds)))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl AsFd for Receiver {
    /// The bound socket, e.g. to register it with an event loop.
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Why the manager (systemd 252 and later) would drop a datagram whole: the error of
/// [`Notification::lines`].
///
/// ```
/// # use sd_notify_core::{DropReason, Receiver};
/// # use std::time::Duration;
/// # let r = Receiver::bind_unique_abstract()?;
/// # let sender = std::os::unix::net::UnixDatagram::unbound()?;
/// # let name = r.address().as_abstract_name().unwrap();
/// # use std::os::linux::net::SocketAddrExt;
/// # let to = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
/// sender.send_to_addr(b"STATUS=C:\\", &to)?; // ends in a lone backslash
/// let n = r.recv_timeout(Duration::from_secs(5))?;
/// assert_eq!(n.lines(), Err(DropReason::TrailingBackslash));
/// assert_eq!(DropReason::TrailingBackslash.to_string(), "the datagram ends in a lone backslash");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DropReason {
    /// Longer than 4096 bytes.
    TooLong,
    /// Contains a NUL byte.
    Nul,
    /// Ends in a lone backslash (an escape with nothing to escape).
    TrailingBackslash,
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DropReason::TooLong => "the datagram is longer than 4096 bytes",
            DropReason::Nul => "the datagram contains a NUL byte",
            DropReason::TrailingBackslash => "the datagram ends in a lone backslash",
        })
    }
}

impl std::error::Error for DropReason {}

/// One datagram as a receiver got it.
///
/// ```
/// # use sd_notify_core::{Receiver, NotifyState};
/// let r = Receiver::bind_unique_abstract()?;
/// r.notifier()?.notify(&[NotifyState::Ready])?;
/// let n = r.recv_timeout(std::time::Duration::from_secs(5))?;
/// println!("{n:?}"); // Notification { text: "READY=1", pid: Some(…), fds: 0 }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Notification {
    bytes: Vec<u8>,
    len: usize,
    creds: Option<sys::Credentials>,
    fds: Vec<OwnedFd>,
    lines: Result<Vec<String>, DropReason>,
}

impl fmt::Debug for Notification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notification")
            .field("text", &String::from_utf8_lossy(&self.bytes))
            .field("pid", &self.pid())
            .field("fds", &self.fds.len())
            .finish()
    }
}

impl Notification {
    fn new(bytes: Vec<u8>, len: usize, creds: Option<sys::Credentials>, fds: Vec<OwnedFd>) -> Self {
        let lines = if len > MAX_MESSAGE_LEN { Err(DropReason::TooLong) } else { split_lines(&bytes) };
        Notification { bytes, len, creds, fds, lines }
    }

    /// The datagram's bytes (at most the first 4097 of a longer one).
    ///
    /// ```
    /// # use sd_notify_core::{Receiver, NotifyState};
    /// # let r = Receiver::bind_unique_abstract()?;
    /// r.notifier()?.notify(&[NotifyState::Ready])?;
    /// assert_eq!(r.recv_timeout(std::time::Duration::from_secs(5))?.bytes(), b"READY=1");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The datagram's full length as sent. For a datagram longer than 4097 bytes this is
    /// more than [`bytes()`](Notification::bytes) holds (the receiver keeps only the first
    /// 4097 bytes: enough to tell that the manager drops it as [`DropReason::TooLong`]).
    ///
    /// ```
    /// # use sd_notify_core::{Message, Receiver, NotifyState};
    /// # use std::time::Duration;
    /// # let r = Receiver::bind_unique_abstract()?;
    /// r.notifier()?.notify(&[NotifyState::Watchdog])?;
    /// assert_eq!(r.recv_timeout(Duration::from_secs(5))?.datagram_len(), "WATCHDOG=1".len());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn datagram_len(&self) -> usize {
        self.len
    }

    /// `true` for an empty datagram.
    ///
    /// ```
    /// # use sd_notify_core::{Message, Receiver, NotifyState};
    /// # use std::time::Duration;
    /// # let r = Receiver::bind_unique_abstract()?;
    /// r.notifier()?.notify(&[NotifyState::Ready])?;
    /// assert!(!r.recv_timeout(Duration::from_secs(5))?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The sender's PID, from the kernel (or as claimed by a privileged sender).
    ///
    /// ```
    /// # use sd_notify_core::{Message, Receiver, NotifyState};
    /// # use std::time::Duration;
    /// # let r = Receiver::bind_unique_abstract()?;
    /// r.notifier()?.notify(&[NotifyState::Ready])?;
    /// assert_eq!(r.recv_timeout(Duration::from_secs(5))?.pid(), Some(std::process::id()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pid(&self) -> Option<u32> {
        self.creds.map(|c| c.pid)
    }

    /// The sender's user ID.
    ///
    /// ```
    /// # use sd_notify_core::{Message, Receiver, NotifyState};
    /// # use std::time::Duration;
    /// # let r = Receiver::bind_unique_abstract()?;
    /// r.notifier()?.notify(&[NotifyState::Ready])?;
    /// let n = r.recv_timeout(Duration::from_secs(5))?;
    /// println!("sent by uid {:?}", n.uid());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn uid(&self) -> Option<u32> {
        self.creds.map(|c| c.uid)
    }

    /// The sender's group ID.
    ///
    /// ```
    /// # use sd_notify_core::{Message, Receiver, NotifyState};
    /// # use std::time::Duration;
    /// # let r = Receiver::bind_unique_abstract()?;
    /// r.notifier()?.notify(&[NotifyState::Ready])?;
    /// let n = r.recv_timeout(Duration::from_secs(5))?;
    /// println!("sent by gid {:?}", n.gid());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn gid(&self) -> Option<u32> {
        self.creds.map(|c| c.gid)
    }

    /// Descriptors passed with the datagram (received close-on-exec).
    ///
    /// ```
    /// # use sd_notify_core::{Message, Receiver, NotifyState, SendOptions};
    /// # use std::time::Duration;
    /// # let r = Receiver::bind_unique_abstract()?;
    /// # use std::os::fd::AsFd;
    /// let (socket, _peer) = std::os::unix::net::UnixDatagram::pair()?;
    /// let msg = Message::from_states(&[NotifyState::FdStore, NotifyState::FdName("socket")])?;
    /// r.notifier()?.send_with(&msg, SendOptions::new().fds(&[socket.as_fd()]))?;
    /// assert_eq!(r.recv_timeout(Duration::from_secs(5))?.fds().len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fds(&self) -> &[OwnedFd] {
        &self.fds
    }

    /// Takes the passed descriptors out of the notification.
    ///
    /// ```
    /// # use sd_notify_core::{Message, Receiver, NotifyState, SendOptions};
    /// # use std::time::Duration;
    /// # let r = Receiver::bind_unique_abstract()?;
    /// # use std::os::fd::AsFd;
    /// let (socket, _peer) = std::os::unix::net::UnixDatagram::pair()?;
    /// let msg = Message::from_states(&[NotifyState::FdStore])?;
    /// r.notifier()?.send_with(&msg, SendOptions::new().fds(&[socket.as_fd()]))?;
    /// let mut n = r.recv_timeout(Duration::from_secs(5))?;
    /// let fds = n.take_fds();
    /// assert!(n.fds().is_empty() && fds.len() == 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn take_fds(&mut self) -> Vec<OwnedFd> {
        std::mem::take(&mut self.fds)
    }

    /// The lines as the manager of systemd 252 and later reads them, or why it would drop
    /// the datagram (older managers split on `\n` only and keep backslashes).
    ///
    /// The split is systemd's `strv_split_newlines_full` over `extract_first_word` with no
    /// flags: separators `\n` and `\r`, runs of them (empty lines) skipped, a backslash
    /// takes the next byte literally and is removed, a trailing lone backslash fails the whole
    /// datagram; a NUL anywhere, or more than 4096 bytes, drops it too. Bytes that are not
    /// UTF-8 are read lossily (`U+FFFD`).
    ///
    /// ```
    /// # use sd_notify_core::{Receiver, NotifyState};
    /// # let r = Receiver::bind_unique_abstract()?;
    /// r.notifier()?.notify(&[NotifyState::Ready, NotifyState::Status("up")])?;
    /// let n = r.recv_timeout(std::time::Duration::from_secs(5))?;
    /// assert_eq!(n.lines(), Ok(&["READY=1".to_owned(), "STATUS=up".to_owned()][..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lines(&self) -> Result<&[String], DropReason> {
        self.lines.as_deref().map_err(|e| *e)
    }

    /// `true` when the datagram has a `BARRIER=1` line: the manager treats it as a barrier
    /// and ignores its other lines. Dropping the notification closes the passed descriptor,
    /// which answers the barrier.
    ///
    /// ```
    /// # use sd_notify_core::{Message, Receiver, NotifyState};
    /// # use std::time::Duration;
    /// # let r = Receiver::bind_unique_abstract()?;
    /// let notifier = r.notifier()?;
    /// let waiter = std::thread::spawn(move || notifier.barrier(Duration::from_secs(5)));
    /// let n = r.recv_timeout(Duration::from_secs(5))?;
    /// assert!(n.is_barrier() && n.states().is_empty());
    /// drop(n);
    /// waiter.join().unwrap()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_barrier(&self) -> bool {
        self.lines().is_ok_and(|l| l.iter().any(|l| l == "BARRIER=1"))
    }

    /// The typed states the manager would act on: empty when it would drop the datagram or
    /// treat it as a barrier. Lines without `=` are skipped.
    ///
    /// ```
    /// # use sd_notify_core::{Message, Receiver, NotifyState};
    /// # use std::time::Duration;
    /// # let r = Receiver::bind_unique_abstract()?;
    /// r.notifier()?.notify(&[NotifyState::Stopping, NotifyState::Status("bye")])?;
    /// assert_eq!(r.recv_timeout(Duration::from_secs(5))?.states(), [NotifyState::Stopping, NotifyState::Status("bye")]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn states(&self) -> Vec<NotifyState<'_>> {
        if self.is_barrier() {
            return Vec::new();
        }
        self.lines().unwrap_or_default().iter().filter_map(|l| NotifyState::parse(l)).collect()
    }
}

/// Splits a datagram as the manager of systemd 252 and later does (see
/// [`Notification::lines`]).
pub(crate) fn split_lines(bytes: &[u8]) -> Result<Vec<String>, DropReason> {
    if bytes.len() > MAX_MESSAGE_LEN {
        return Err(DropReason::TooLong);
    }
    if bytes.contains(&0) {
        return Err(DropReason::Nul);
    }
    let mut lines = Vec::new();
    let mut line = Vec::new();
    let mut escaped = false;
    for &b in bytes {
        if escaped {
            line.push(b);
            escaped = false;
        } else if b == b'\\' {
            escaped = true;
        } else if b == b'\n' || b == b'\r' {
            if !line.is_empty() {
                lines.push(String::from_utf8_lossy(&line).into_owned());
                line.clear();
            }
        } else {
            line.push(b);
        }
    }
    if escaped {
        return Err(DropReason::TrailingBackslash);
    }
    if !line.is_empty() {
        lines.push(String::from_utf8_lossy(&line).into_owned());
    }
    Ok(lines)
}
