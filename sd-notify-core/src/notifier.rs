//! Sending: one socket per destination, kept for the life of the process.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::address::{NotifyAddress, Repr, VsockKind};
use crate::error::{AddressError, Error};
use crate::message::Message;
use crate::state::{MAX_NUMBER_LEN, NotifyState, duration_usec};
use crate::sys;

/// How long a send may wait for room in the manager's queue before it fails with
/// [`Error::Timeout`]: long enough for a busy PID 1 at boot, far below the default
/// `TimeoutStartSec=` of 90 s. Change it with [`Notifier::set_timeout`].
///
/// ```
/// assert_eq!(sd_notify_core::DEFAULT_SEND_TIMEOUT.as_secs(), 5);
/// ```
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// Most file descriptors one message may carry (the kernel's `SCM_MAX_FD`).
///
/// ```
/// assert_eq!(sd_notify_core::MAX_FDS, 253);
/// ```
pub const MAX_FDS: usize = sys::MAX_FDS;

/// Sends notifications to one address.
///
/// For `AF_UNIX` addresses (path and abstract) the notifier creates one close-on-exec
/// datagram socket on first use, connects it, and keeps it: each later notification is one
/// `send(2)` with `MSG_NOSIGNAL`, without heap allocation. If the manager re-creates its
/// socket (the connection then fails with `ECONNREFUSED`/`ENOTCONN`), the notifier connects
/// again once and resends. The socket has a send timeout (see [`DEFAULT_SEND_TIMEOUT`]), so a
/// full queue never blocks the service without bound. `vsock` addresses connect per message,
/// as the stream kinds require. A `Notifier` is `Send + Sync`: share it between threads.
///
/// Most programs use the process-wide notifier, [`Notifier::from_env`] (behind [`notify`],
/// [`barrier`] and [`status!`](crate::status!)); a `Notifier` of your own, from
/// [`Notifier::new`], serves an explicit address (tests, a supervisor that relays for
/// children) without touching the environment.
///
/// # Examples
/// ```
/// use sd_notify_core::{Notifier, Receiver, NotifyState};
/// use std::time::Duration;
///
/// let receiver = Receiver::bind_unique_abstract()?;
/// let notifier = Notifier::new(receiver.address().clone())?;
/// notifier.notify(&[NotifyState::Ready, NotifyState::Status("up")])?;
/// let n = receiver.recv_timeout(Duration::from_secs(5))?;
/// assert_eq!(n.bytes(), b"READY=1\nSTATUS=up");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # References
/// [`sd_notify(3)`](https://www.freedesktop.org/software/systemd/man/sd_notify.html)
#[derive(Debug)]
pub struct Notifier {
    address: NotifyAddress,
    target: Target,
    timeout_usec: AtomicU64,
}

#[derive(Debug)]
enum Target {
    Unix(UnixTarget),
    Vsock { kind: VsockKind, cid: u32, port: u32 },
}

struct UnixTarget {
    addr: sys::UnixAddr,
    /// Created on first use, then never replaced, so a `BorrowedFd` from it stays valid.
    socket: OnceLock<OwnedFd>,
    /// Serialises creation only; the hot path never takes it.
    create: Mutex<()>,
    connected: AtomicBool,
}

impl UnixTarget {
    /// The socket, if it is made and connected.
    #[inline(always)]
    fn ready_socket(&self) -> Option<BorrowedFd<'_>> {
        let socket = self.socket.get()?;
        self.connected.load(Ordering::Acquire).then(|| socket.as_fd())
    }

    /// (Re)associates the socket with the address; `connected` stays false if that fails,
    /// so the next send tries again.
    fn connect(&self, socket: BorrowedFd<'_>) -> Result<(), Error> {
        self.connected.store(false, Ordering::Release);
        sys::connect_unix(socket, &self.addr)?;
        self.connected.store(true, Ordering::Release);
        Ok(())
    }
}

impl std::fmt::Debug for UnixTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnixTarget").field("socket", &self.socket.get()).finish_non_exhaustive()
    }
}

impl Notifier {
    /// A notifier for `address`. No system call happens until the first send.
    ///
    /// # Errors
    /// [`Error::Unsupported`] where the platform has no such socket family. (Every
    /// [`NotifyAddress`] is valid by construction.)
    ///
    /// ```
    /// # use sd_notify_core::{Notifier, NotifyAddress};
    /// let notifier = Notifier::new(NotifyAddress::parse("@my-test-socket")?)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(address: NotifyAddress) -> Result<Self, Error> {
        let unix = |is_abstract, name: &[u8]| -> Result<Target, Error> {
            let addr = sys::UnixAddr::new(is_abstract, name).map_err(|e| match e.kind() {
                io::ErrorKind::Unsupported => Error::Unsupported,
                _ if name.contains(&0) => Error::Address(AddressError::Nul),
                _ => Error::Address(AddressError::TooLong),
            })?;
            Ok(Target::Unix(UnixTarget {
                addr,
                socket: OnceLock::new(),
                create: Mutex::new(()),
                connected: AtomicBool::new(false),
            }))
        };
        let target = match address.repr() {
            Repr::Path(p) => unix(false, std::os::unix::ffi::OsStrExt::as_bytes(p.as_os_str()))?,
            Repr::Abstract(name) => unix(true, name)?,
            &Repr::Vsock { kind, cid, port } => Target::Vsock { kind, cid, port },
        };
        Ok(Notifier { address, target, timeout_usec: AtomicU64::new(duration_usec(DEFAULT_SEND_TIMEOUT)) })
    }

    /// The process-wide notifier, for `NOTIFY_SOCKET`: `Ok(None)` when the variable is unset
    /// (not supervised). The variable is read once, at the first call (of this or of
    /// [`notify`], [`barrier`], [`status!`](crate::status!)); every later call returns the
    /// same notifier, so the process has one socket to the manager, and later changes to the
    /// environment (such as [`remove_systemd_environment`](crate::remove_systemd_environment),
    /// so that children do not inherit it) change nothing. For a notifier of its own, with a
    /// socket of its own, use [`Notifier::new`] with [`NotifyAddress::from_env`].
    ///
    /// # Errors
    /// [`Error::Address`] when `NOTIFY_SOCKET` was set to an invalid value (every call).
    ///
    /// ```
    /// # use sd_notify_core::{Message, Notifier, NotifyState};
    /// if let Some(notifier) = Notifier::from_env()? {
    ///     let ping = Message::from_states(&[NotifyState::Watchdog])?; // encode once, send often
    ///     notifier.send(&ping)?;
    /// }
    /// # Ok::<(), sd_notify_core::Error>(())
    /// ```
    ///
    /// # References
    /// [`sd_notify(3)`](https://www.freedesktop.org/software/systemd/man/sd_notify.html)
    pub fn from_env() -> Result<Option<&'static Notifier>, Error> {
        let slot = PROCESS_WIDE.get_or_init(|| {
            NotifyAddress::from_env()
                .map_err(Error::Address)
                .and_then(|address| address.map(Notifier::new).transpose())
                .map_err(|e| match e {
                    Error::Address(a) => a,
                    // Only an unrepresentable address can fail here; report it as too long.
                    _ => AddressError::TooLong,
                })
        });
        match slot {
            Ok(n) => {
                if let Some(n) = n {
                    // For `notify`'s hot path: one load and one compare from now on.
                    let _ = PROCESS_WIDE_NOTIFIER.set(n);
                }
                Ok(n.as_ref())
            }
            Err(e) => Err(Error::Address(e.clone())),
        }
    }

    /// The address this notifier sends to.
    ///
    /// ```
    /// # use sd_notify_core::{Notifier, NotifyAddress};
    /// let n = Notifier::new(NotifyAddress::parse("/run/x")?)?;
    /// assert_eq!(n.address().to_string(), "/run/x");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn address(&self) -> &NotifyAddress {
        &self.address
    }

    /// How long a send may wait for room in the receiver's queue.
    ///
    /// ```
    /// # use sd_notify_core::{Notifier, NotifyAddress, DEFAULT_SEND_TIMEOUT};
    /// let n = Notifier::new(NotifyAddress::parse("/run/x")?)?;
    /// assert_eq!(n.timeout(), DEFAULT_SEND_TIMEOUT);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn timeout(&self) -> Duration {
        Duration::from_micros(self.timeout_usec.load(Ordering::Relaxed))
    }

    /// Changes the send timeout (at least 1 µs); applies to sends that start afterwards.
    ///
    /// # Errors
    /// [`Error::Io`] if the socket refuses the option.
    ///
    /// ```
    /// # use sd_notify_core::{Notifier, NotifyAddress};
    /// # use std::time::Duration;
    /// let n = Notifier::new(NotifyAddress::parse("/run/x")?)?;
    /// n.set_timeout(Duration::from_millis(250))?;
    /// assert_eq!(n.timeout(), Duration::from_millis(250));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_timeout(&self, timeout: Duration) -> Result<(), Error> {
        let timeout = timeout.max(Duration::from_micros(1));
        self.timeout_usec.store(duration_usec(timeout), Ordering::Relaxed);
        if let Target::Unix(t) = &self.target {
            if let Some(socket) = t.socket.get() {
                sys::set_send_timeout(socket.as_fd(), timeout)?;
            }
        }
        Ok(())
    }

    /// Sends `states` in one datagram (`sd_notify`).
    ///
    /// # Errors
    /// Validation errors as [`Message::push`] (nothing is sent); [`Error::Timeout`] when the
    /// receiver's queue stayed full; [`Error::Io`] for the OS's refusal (`ECONNREFUSED` when
    /// nobody listens, `ENOENT` when the socket file is gone, …).
    ///
    /// ```no_run
    /// # use sd_notify_core::{Notifier, NotifyState};
    /// # let notifier = Notifier::from_env()?.unwrap();
    /// notifier.notify(&[NotifyState::Stopping, NotifyState::Status("shutting down")])?;
    /// # Ok::<(), sd_notify_core::Error>(())
    /// ```
    #[inline(always)]
    pub fn notify(&self, states: &[NotifyState<'_>]) -> Result<(), Error> {
        if let [state] = states {
            if let Some(line) = state.constant_line() {
                // `READY=1`, `WATCHDOG=1`, …: valid, without descriptors, sent as they are.
                return self.send_plain(line);
            }
            if let NotifyState::Status(text) = *state {
                return self.notify_status(text);
            }
        }
        self.notify_encoded(states)
    }

    /// [`Notifier::notify`] of one `STATUS=`: the text is checked as it is copied, in one pass.
    #[inline(never)]
    fn notify_status(&self, text: &str) -> Result<(), Error> {
        let mut msg = Message::uninit();
        msg.put_text_line("STATUS", b"STATUS=", text)?;
        self.send_plain(msg.as_bytes())
    }

    /// [`Notifier::notify`] of states that need encoding.
    #[inline(never)]
    fn notify_encoded(&self, states: &[NotifyState<'_>]) -> Result<(), Error> {
        if let [state] = states {
            // One state, the common call: validated and cut into pieces once; a constant line
            // (`READY=1`, `WATCHDOG=1`, …) goes out as it is, without being copied anywhere.
            let mut scratch = [0; MAX_NUMBER_LEN];
            let pieces = state.checked_line(&mut scratch)?;
            if state.takes_fds() {
                return Err(Error::FdMismatch);
            }
            if let [line, &[], &[]] = pieces {
                return self.send_plain(line);
            }
            let mut msg = Message::uninit();
            msg.put_pieces(pieces)?;
            return self.send_plain(msg.as_bytes());
        }
        // Built in place (returning the 4 KiB message from a constructor would copy it), in
        // a buffer nobody zeroes: only the bytes of the datagram are ever written.
        let mut msg = Message::uninit();
        msg.push_all_fresh(states)?;
        self.send(&msg)
    }

    /// Sends a prepared message: on the hot path, exactly one `send(2)`.
    ///
    /// # Errors
    /// As [`Notifier::notify`]; [`Error::EmptyMessage`] for an empty message and
    /// [`Error::FdMismatch`] for `FDSTORE=1`/`MAINPIDFD=1`, which need descriptors
    /// ([`Notifier::send_with`]).
    ///
    /// ```no_run
    /// # use sd_notify_core::{Message, Notifier, NotifyState};
    /// # let notifier = Notifier::from_env()?.unwrap();
    /// let ping = Message::from_states(&[NotifyState::Watchdog])?; // encode once, send often
    /// notifier.send(&ping)?;
    /// # Ok::<(), sd_notify_core::Error>(())
    /// ```
    #[inline(always)]
    pub fn send(&self, msg: &Message) -> Result<(), Error> {
        if msg.is_empty() {
            return Err(Error::EmptyMessage);
        }
        if msg.wants_fds() {
            return Err(Error::FdMismatch);
        }
        self.send_plain(msg.as_bytes())
    }

    /// Sends a checked, non-empty datagram without descriptors. The hot path: socket made and
    /// connected, one `send(2)` that succeeds; anything else takes the general path (a failed
    /// attempt continues there, without the datagram being sent twice).
    #[inline(always)]
    fn send_plain(&self, bytes: &[u8]) -> Result<(), Error> {
        if let Target::Unix(t) = &self.target {
            if let Some(socket) = t.ready_socket() {
                return match sys::send_once(socket, bytes) {
                    Ok(()) => Ok(()),
                    Err(e) => self.send_unix_failed(t, socket, e, bytes, &[], None, sys::Wait::Block),
                };
            }
        }
        self.send_raw(bytes, &[], None)
    }

    /// Sends a prepared message with `options`: file descriptors (SCM_RIGHTS), on behalf of
    /// another process (SCM_CREDENTIALS), or both, as `sd_pid_notify_with_fds` does. With
    /// default options it is [`Notifier::send`].
    ///
    /// Descriptors go with `FDSTORE=1` (and `FDNAME=`, `FDPOLL=0`) to store them in the
    /// manager, or with `MAINPIDFD=1` (a pidfd). A claimed PID makes the manager attribute the
    /// message to that process; the kernel accepts another PID only from a privileged sender,
    /// and on `EPERM` or `ESRCH` the message is sent once more with our own credentials (and
    /// the same descriptors), as libsystemd does.
    ///
    /// # Errors
    /// [`Error::TooManyFds`] beyond [`MAX_FDS`]; [`Error::FdMismatch`] when descriptors come
    /// without `FDSTORE=1`/`MAINPIDFD=1` or those come without descriptors;
    /// [`Error::NeedsUnixSocket`] for descriptors or another PID over vsock; others as
    /// [`Notifier::notify`].
    ///
    /// ```
    /// # use sd_notify_core::{Message, Notifier, NotifyState, Receiver, SendOptions};
    /// # use std::{os::fd::AsFd, time::Duration};
    /// # let receiver = Receiver::bind_unique_abstract()?;
    /// # let notifier = Notifier::new(receiver.address().clone())?;
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let msg = Message::from_states(&[NotifyState::FdStore, NotifyState::FdName("http")])?;
    /// notifier.send_with(&msg, SendOptions::new().fds(&[listener.as_fd()]))?;
    /// assert_eq!(receiver.recv_timeout(Duration::from_secs(5))?.fds().len(), 1);
    ///
    /// // A supervisor relaying for its child (claiming its PID needs privileges; without
    /// // them the message goes out under our own):
    /// # let child = std::process::id();
    /// let ready = Message::from_states(&[NotifyState::Ready])?;
    /// notifier.send_with(&ready, SendOptions::new().on_behalf_of(child))?;
    /// # assert_eq!(receiver.recv_timeout(Duration::from_secs(5))?.pid(), Some(child));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # References
    /// [`sd_pid_notify_with_fds(3)`](https://www.freedesktop.org/software/systemd/man/sd_notify.html)
    pub fn send_with(&self, msg: &Message, options: SendOptions<'_>) -> Result<(), Error> {
        if options.fds.len() > MAX_FDS {
            return Err(Error::TooManyFds { count: options.fds.len() });
        }
        self.send_checked(msg, options.fds, options.credentials())
    }

    /// Waits until the manager has processed every notification sent before
    /// (`sd_notify_barrier`): sends `BARRIER=1` alone with the write end of a fresh pipe,
    /// closes it, and waits for the manager to close its copy. Call it before exiting, since
    /// the manager ignores messages from a process that no longer exists.
    ///
    /// # Errors
    /// [`Error::Timeout`] when the manager did not take the `BARRIER=1` message and answer
    /// it within `timeout` (one bound for both); [`Error::NeedsUnixSocket`] for a vsock
    /// address, since the barrier's descriptor cannot cross to another machine; others as
    /// [`Notifier::notify`].
    ///
    /// ```
    /// # use sd_notify_core::{Notifier, Receiver};
    /// # use std::time::Duration;
    /// # let receiver = Receiver::bind_unique_abstract()?;
    /// # let notifier = Notifier::new(receiver.address().clone())?;
    /// let server = std::thread::spawn(move || {
    ///     let barrier = receiver.recv_timeout(Duration::from_secs(5)).unwrap();
    ///     assert!(barrier.is_barrier());
    ///     // dropping it closes the passed fd: the barrier is answered
    /// });
    /// notifier.barrier(Duration::from_secs(5))?;
    /// # server.join().unwrap();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # References
    /// [`sd_notify_barrier(3)`](https://www.freedesktop.org/software/systemd/man/sd_notify.html)
    pub fn barrier(&self, timeout: Duration) -> Result<(), Error> {
        self.barrier_until(deadline_after(timeout), None)
    }

    /// [`Notifier::barrier`] on behalf of `pid` (`sd_pid_notify_barrier`): the `BARRIER=1`
    /// message claims `pid` in its credentials, as [`SendOptions::on_behalf_of`] does, with
    /// the same fallback to our own. A helper that relays for a service's main process needs
    /// it: the manager takes the barrier only from a process it may accept messages from
    /// (`NotifyAccess=`), which the helper itself may not be. `pid` 0 or our own PID is
    /// [`Notifier::barrier`].
    ///
    /// # Errors
    /// As [`Notifier::barrier`].
    ///
    /// ```
    /// # use sd_notify_core::{Notifier, Receiver};
    /// # use std::time::Duration;
    /// # let receiver = Receiver::bind_unique_abstract()?;
    /// # let notifier = Notifier::new(receiver.address().clone())?;
    /// # let main_pid = std::process::id();
    /// # let server = std::thread::spawn(move || drop(receiver.recv_timeout(Duration::from_secs(5))));
    /// notifier.barrier_on_behalf_of(main_pid, Duration::from_secs(5))?;
    /// # server.join().unwrap();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # References
    /// [`sd_pid_notify_barrier(3)`](https://www.freedesktop.org/software/systemd/man/sd_notify.html)
    pub fn barrier_on_behalf_of(&self, pid: u32, timeout: Duration) -> Result<(), Error> {
        self.barrier_until(deadline_after(timeout), credentials_for(pid))
    }

    /// [`Notifier::barrier`] with one deadline for the whole of it: the `BARRIER=1` send
    /// (which waits for room in a full queue, at most the notifier's timeout) and the wait
    /// for the answer.
    pub(crate) fn barrier_before(&self, deadline: Instant) -> Result<(), Error> {
        self.barrier_until(deadline, None)
    }

    fn barrier_until(&self, deadline: Instant, creds: Option<sys::Credentials>) -> Result<(), Error> {
        if self.is_vsock() {
            return Err(Error::NeedsUnixSocket);
        }
        let (read, write) = sys::pipe()?;
        // The send waits no longer than any other send of this notifier either.
        let send_deadline = deadline.min(deadline_after(self.timeout()));
        self.send_until(b"BARRIER=1", &[write.as_fd()], creds, send_deadline)?;
        drop(write);
        let events =
            sys::poll(read.as_fd(), sys::POLLHUP, Some(deadline.saturating_duration_since(Instant::now())))?;
        if events & sys::POLLHUP != 0 { Ok(()) } else { Err(Error::Timeout) }
    }

    /// The socket for the signal handlers of `#[sd_service]` to send on, created now and
    /// connected if the manager's socket accepts (if not, a later send connects it, and the
    /// handlers leave their sends to the service thread until then). `None` for vsock
    /// addresses, which need a connection per message.
    pub(crate) fn handler_socket(&'static self) -> Option<BorrowedFd<'static>> {
        let Target::Unix(t) = &self.target else { return None };
        let socket = self.unix_socket(t).ok()?;
        if !t.connected.load(Ordering::Acquire) {
            let _ = t.connect(socket);
        }
        Some(socket)
    }

    /// Whether this notifier sends over vsock (a connection per message, no descriptors).
    pub(crate) fn is_vsock(&self) -> bool {
        matches!(self.target, Target::Vsock { .. })
    }

    /// Sends `msg` now if that needs no waiting: `Ok(true)` when sent, `Ok(false)` when it
    /// would have to wait (the manager's queue is full, or the address is vsock, whose
    /// connect may take time), so that the caller can leave it to a thread that may wait.
    pub(crate) fn send_without_waiting(&self, msg: &Message) -> Result<bool, Error> {
        let Target::Unix(t) = &self.target else { return Ok(false) };
        match self.send_unix(t, msg.as_bytes(), &[], None, sys::Wait::Never) {
            Ok(()) => Ok(true),
            Err(Error::Timeout) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Sends `bytes` (with `fds`), waiting for room in the manager's queue until `deadline`
    /// at the latest ([`Error::Timeout`] then), however long the notifier's own timeout.
    pub(crate) fn send_before(
        &self,
        bytes: &[u8],
        fds: &[BorrowedFd<'_>],
        deadline: Instant,
    ) -> Result<(), Error> {
        self.send_until(bytes, fds, None, deadline)
    }

    /// [`Notifier::send_before`], claiming `creds` (with the usual fallback to our own).
    fn send_until(
        &self,
        bytes: &[u8],
        fds: &[BorrowedFd<'_>],
        creds: Option<sys::Credentials>,
        deadline: Instant,
    ) -> Result<(), Error> {
        match &self.target {
            Target::Unix(t) => loop {
                match self.send_unix(t, bytes, fds, creds, sys::Wait::Never) {
                    Err(Error::Timeout) => {
                        let left = deadline.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            return Err(Error::Timeout);
                        }
                        let socket = self.connected_socket(t)?;
                        // Room in a connected datagram socket's peer queue shows as POLLOUT.
                        sys::poll(socket, sys::POLLOUT, Some(left))?;
                    }
                    other => return other,
                }
            },
            &Target::Vsock { kind, cid, port } => {
                if !fds.is_empty() || creds.is_some() {
                    return Err(Error::NeedsUnixSocket);
                }
                let left = deadline.saturating_duration_since(Instant::now()).min(self.timeout());
                if left.is_zero() {
                    return Err(Error::Timeout);
                }
                self.send_vsock(kind, cid, port, bytes, left)
            }
        }
    }

    fn send_checked(
        &self,
        msg: &Message,
        fds: &[BorrowedFd<'_>],
        creds: Option<sys::Credentials>,
    ) -> Result<(), Error> {
        if msg.is_empty() {
            return Err(Error::EmptyMessage);
        }
        if msg.wants_fds() == fds.is_empty() {
            return Err(Error::FdMismatch);
        }
        self.send_raw(msg.as_bytes(), fds, creds)
    }

    fn send_raw(
        &self,
        bytes: &[u8],
        fds: &[BorrowedFd<'_>],
        creds: Option<sys::Credentials>,
    ) -> Result<(), Error> {
        match &self.target {
            Target::Unix(t) => self.send_unix(t, bytes, fds, creds, sys::Wait::Block),
            &Target::Vsock { kind, cid, port } => {
                if !fds.is_empty() || creds.is_some() {
                    return Err(Error::NeedsUnixSocket);
                }
                self.send_vsock(kind, cid, port, bytes, self.timeout())
            }
        }
    }

    /// One datagram on the target's socket: on the hot path (socket made and connected, no
    /// descriptors, no credentials, the send succeeds) a few checks and one `send(2)`;
    /// everything else is in the cold functions it calls.
    #[inline]
    fn send_unix(
        &self,
        t: &UnixTarget,
        bytes: &[u8],
        fds: &[BorrowedFd<'_>],
        creds: Option<sys::Credentials>,
        wait: sys::Wait,
    ) -> Result<(), Error> {
        let socket = self.connected_socket(t)?;
        let first = if fds.is_empty() && creds.is_none() {
            sys::send_flags(socket, bytes, wait)
        } else {
            sys::send_msg(socket, None, bytes, fds, creds, wait)
        };
        match first {
            Ok(()) => Ok(()),
            Err(e) => self.send_unix_failed(t, socket, e, bytes, fds, creds, wait),
        }
    }

    /// What follows a first attempt of [`Notifier::send_unix`] that failed with `e`.
    #[cold]
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn send_unix_failed(
        &self,
        t: &UnixTarget,
        socket: BorrowedFd<'_>,
        e: io::Error,
        bytes: &[u8],
        fds: &[BorrowedFd<'_>],
        creds: Option<sys::Credentials>,
        wait: sys::Wait,
    ) -> Result<(), Error> {
        let attempt = |creds: Option<sys::Credentials>| {
            if fds.is_empty() && creds.is_none() {
                sys::send_flags(socket, bytes, wait)
            } else {
                sys::send_msg(socket, None, bytes, fds, creds, wait)
            }
        };
        let result = if is_stale_connection(&e) {
            // The manager re-created its socket (or went away): connect afresh, once.
            t.connect(socket)?;
            attempt(creds)
        } else if e.kind() == io::ErrorKind::Interrupted {
            // A signal came before anything was sent (a first attempt by `send_once`).
            attempt(creds)
        } else {
            Err(e)
        };
        match result {
            // As libsystemd: a PID we may not claim is sent again under our own.
            Err(e) if creds.is_some() && matches!(e.raw_os_error(), Some(libc::EPERM | libc::ESRCH)) => {
                attempt(None).map_err(Error::from_send)
            }
            other => other.map_err(Error::from_send),
        }
    }

    /// The process's socket for this target, created (close-on-exec, send buffer raised,
    /// send timeout set) and connected on first use.
    #[inline]
    fn connected_socket<'a>(&self, t: &'a UnixTarget) -> Result<BorrowedFd<'a>, Error> {
        match t.ready_socket() {
            Some(socket) => Ok(socket),
            None => self.connect_socket(t),
        }
    }

    /// [`Notifier::connected_socket`] when the socket is not yet made or not connected.
    #[cold]
    #[inline(never)]
    fn connect_socket<'a>(&self, t: &'a UnixTarget) -> Result<BorrowedFd<'a>, Error> {
        let socket = self.unix_socket(t)?;
        if !t.connected.load(Ordering::Acquire) {
            t.connect(socket)?;
        }
        Ok(socket)
    }

    /// The process's socket for this target, created on first use.
    #[inline]
    fn unix_socket<'a>(&self, t: &'a UnixTarget) -> Result<BorrowedFd<'a>, Error> {
        if let Some(socket) = t.socket.get() {
            return Ok(socket.as_fd());
        }
        self.create_socket(t)
    }

    /// [`Notifier::unix_socket`] the first time: makes the socket.
    #[cold]
    #[inline(never)]
    fn create_socket<'a>(&self, t: &'a UnixTarget) -> Result<BorrowedFd<'a>, Error> {
        let _creating = t.create.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if t.socket.get().is_none() {
            let socket = sys::unix_dgram_socket()?;
            sys::grow_send_buffer(socket.as_fd());
            sys::set_send_timeout(socket.as_fd(), self.timeout())?;
            sys::register_crate_fd(socket.as_fd(), sys::FdRole::NotifySocket);
            // Cannot fail: we hold the creation lock and checked it is empty.
            let _ = t.socket.set(socket);
        }
        t.socket.get().map(|s| s.as_fd()).ok_or(Error::Unsupported)
    }

    fn send_vsock(
        &self,
        kind: VsockKind,
        cid: u32,
        port: u32,
        bytes: &[u8],
        timeout: Duration,
    ) -> Result<(), Error> {
        let kinds: &[libc::c_int] = match kind {
            VsockKind::Any => &[sys::VSOCK_DGRAM, sys::VSOCK_SEQPACKET, sys::VSOCK_STREAM],
            VsockKind::Datagram => &[sys::VSOCK_DGRAM],
            VsockKind::SeqPacket => &[sys::VSOCK_SEQPACKET],
            VsockKind::Stream => &[sys::VSOCK_STREAM],
        };
        let mut last = io::Error::from_raw_os_error(libc::EAFNOSUPPORT);
        for &sock_type in kinds {
            match sys::vsock_connect(sock_type, cid, port, timeout) {
                Ok(socket) => {
                    sys::send(socket.as_fd(), bytes).map_err(Error::from_send)?;
                    if sock_type != sys::VSOCK_DGRAM {
                        sys::shutdown_write(socket.as_fd())?;
                    }
                    return Ok(());
                }
                Err(e) => last = e,
            }
        }
        // A connect that ran out of time is the same bounded wait as a full queue.
        if last.raw_os_error() == Some(libc::ETIMEDOUT) {
            return Err(Error::Timeout);
        }
        Err(last.into())
    }
}

/// Errors of a connected datagram socket whose peer is gone or was replaced.
fn is_stale_connection(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ECONNREFUSED | libc::ENOTCONN | libc::ECONNRESET | libc::EDESTADDRREQ)
    )
}

/// Options of one [`Notifier::send_with`]: descriptors to pass (SCM_RIGHTS) and the process
/// to send on behalf of (SCM_CREDENTIALS), in any combination; the default is neither. It
/// only borrows, so building one costs nothing and allocates nothing.
///
/// | libsystemd | options |
/// |---|---|
/// | `sd_pid_notify(pid, 0, …)` | `SendOptions::new().on_behalf_of(pid)` |
/// | `sd_pid_notify_with_fds(0, 0, …, fds, n)` | `SendOptions::new().fds(fds)` |
/// | `sd_pid_notify_with_fds(pid, 0, …, fds, n)` | `SendOptions::new().fds(fds).on_behalf_of(pid)` |
///
/// ```
/// # use sd_notify_core::{Message, Notifier, NotifyState, Receiver, SendOptions};
/// # use std::{os::fd::AsFd, time::Duration};
/// # let receiver = Receiver::bind_unique_abstract()?;
/// # let notifier = Notifier::new(receiver.address().clone())?;
/// # let main_pid = std::process::id();
/// let (socket, _peer) = std::os::unix::net::UnixStream::pair()?;
/// let msg = Message::from_states(&[NotifyState::FdStore, NotifyState::FdName("conn")])?;
/// notifier.send_with(&msg, SendOptions::new().fds(&[socket.as_fd()]).on_behalf_of(main_pid))?;
/// let n = receiver.recv_timeout(Duration::from_secs(5))?;
/// assert_eq!((n.fds().len(), n.pid()), (1, Some(main_pid)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
#[must_use = "options do nothing until passed to Notifier::send_with"]
pub struct SendOptions<'a> {
    fds: &'a [BorrowedFd<'a>],
    /// 0: ourselves, as libsystemd's `pid` argument.
    pid: u32,
}

impl<'a> SendOptions<'a> {
    /// No descriptors, on our own behalf: a plain [`Notifier::send`].
    ///
    /// ```
    /// let options = sd_notify_core::SendOptions::new();
    /// ```
    pub const fn new() -> Self {
        SendOptions { fds: &[], pid: 0 }
    }

    /// Passes `fds` with the message (SCM_RIGHTS), in order, at most [`MAX_FDS`]. The
    /// message must say `FDSTORE=1` or `MAINPIDFD=1`, the states that take descriptors.
    ///
    /// ```
    /// # use std::os::fd::AsFd;
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let fds = [listener.as_fd()];
    /// let options = sd_notify_core::SendOptions::new().fds(&fds);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub const fn fds(mut self, fds: &'a [BorrowedFd<'a>]) -> Self {
        self.fds = fds;
        self
    }

    /// Sends on behalf of `pid`: the message claims it in its credentials (SCM_CREDENTIALS),
    /// so the manager attributes the message to that process (which must belong to the
    /// unit). The kernel lets only a privileged sender claim another PID; on `EPERM` or
    /// `ESRCH` the message goes out once more under our own. `0` (libsystemd's "this
    /// process") and our own PID claim nothing: the kernel attaches our credentials anyway.
    ///
    /// ```
    /// let options = sd_notify_core::SendOptions::new().on_behalf_of(4242);
    /// ```
    pub const fn on_behalf_of(mut self, pid: u32) -> Self {
        self.pid = pid;
        self
    }

    fn credentials(&self) -> Option<sys::Credentials> {
        credentials_for(self.pid)
    }
}

/// The credentials to claim for `pid`: none for ourselves (0 or our PID), as libsystemd.
fn credentials_for(pid: u32) -> Option<sys::Credentials> {
    (pid != 0 && pid != sys::getpid()).then(|| sys::Credentials::for_pid(pid))
}

/// `timeout` from now; a timeout too long to represent waits as good as forever.
fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .or_else(|| now.checked_add(Duration::from_secs(u64::from(u32::MAX))))
        .unwrap_or(now)
}

/// The process-wide notifier, from `NOTIFY_SOCKET` as it was at the first call.
static PROCESS_WIDE: OnceLock<Result<Option<Notifier>, AddressError>> = OnceLock::new();

/// The process-wide notifier once [`Notifier::from_env`] made one (the same `&'static`).
static PROCESS_WIDE_NOTIFIER: OnceLock<&'static Notifier> = OnceLock::new();

/// [`Notifier::from_env`], under the name the crate's own modules use.
pub(crate) fn default_notifier() -> Result<Option<&'static Notifier>, Error> {
    Notifier::from_env()
}

/// Sends `states` in one datagram to the service manager (`sd_notify`), through the
/// process-wide [`Notifier::from_env`]. A successful no-op when `NOTIFY_SOCKET` is unset, so
/// the same binary runs with and without systemd; the states are validated either way, so a
/// program fails the same in both.
///
/// The free function exists because this is the call every service makes (`READY=1`,
/// `STATUS=`, `WATCHDOG=1`, `STOPPING=1`), and unsupervised runs must cost no `if let`.
///
/// # Errors
/// As [`Notifier::notify`], and [`Notifier::from_env`]'s.
///
/// ```
/// use sd_notify_core::{notify, NotifyState};
/// notify(&[NotifyState::Ready, NotifyState::Status("accepting connections")])?;
/// # Ok::<(), sd_notify_core::Error>(())
/// ```
///
/// # References
/// [`sd_notify(3)`](https://www.freedesktop.org/software/systemd/man/sd_notify.html)
#[inline(always)]
pub fn notify(states: &[NotifyState<'_>]) -> Result<(), Error> {
    // The hot path: the process-wide notifier exists already (one load, one compare).
    if let Some(n) = PROCESS_WIDE_NOTIFIER.get() {
        return n.notify(states);
    }
    notify_without_notifier_yet(states)
}

/// [`notify`] before the process-wide notifier is made, or without one.
#[inline(never)]
fn notify_without_notifier_yet(states: &[NotifyState<'_>]) -> Result<(), Error> {
    match Notifier::from_env()? {
        Some(n) => n.notify(states),
        None => Message::from_states(states).map(drop), // still validate: fail the same everywhere
    }
}

/// Waits until the manager has processed every earlier notification (`sd_notify_barrier`),
/// through the process-wide [`Notifier::from_env`]; a no-op without `NOTIFY_SOCKET`.
///
/// The free function exists because every process that notifies and then exits needs it
/// (the manager ignores messages from a process that is gone), with nothing to choose.
///
/// # Errors
/// As [`Notifier::barrier`].
///
/// ```
/// sd_notify_core::barrier(std::time::Duration::from_secs(5))?;
/// # Ok::<(), sd_notify_core::Error>(())
/// ```
///
/// # References
/// [`sd_notify_barrier(3)`](https://www.freedesktop.org/software/systemd/man/sd_notify.html)
pub fn barrier(timeout: Duration) -> Result<(), Error> {
    match Notifier::from_env()? {
        Some(n) => n.barrier(timeout),
        None => Ok(()),
    }
}
