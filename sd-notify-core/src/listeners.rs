//! Listening sockets that survive `systemctl restart` and crashes: [`listener`] (and
//! [`ServiceHandle::listener`](crate::ServiceHandle::listener) under `#[sd_service]`).
//!
//! The protocol underneath: a socket handed to the manager with `FDSTORE=1` + `FDNAME=`
//! (the unit needs `FileDescriptorStoreMax=`) comes back on the next start through
//! `LISTEN_FDS`/`LISTEN_FDNAMES`, like a socket of a `.socket` unit. While no process
//! listens, the manager's copy keeps the socket open, so new connections wait in the
//! kernel's backlog instead of being refused.
//!
//! The descriptors passed to the process are taken from the environment once, at the first
//! [`listener`] call, into a process-wide table; each call takes its name's descriptor out
//! of it. [`release_unclaimed_listeners`] closes what is left.

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs, UdpSocket};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::diag;
use crate::env::{EnvError, ListenFd};
use crate::error::Rule;
use crate::message::Message;
use crate::notifier::SendOptions;
use crate::state::NotifyState;
use crate::sys;

/// A socket type [`listener`] can reuse from the manager or bind and store:
/// [`TcpListener`], [`UdpSocket`] (addresses: anything [`ToSocketAddrs`]),
/// [`UnixListener`] and [`UnixDatagram`] (addresses: filesystem paths).
///
/// The trait is sealed: what it checks on a passed descriptor (its family, its type,
/// whether it listens, its address) is the crate's business. For tokio, convert the std
/// socket (see [`listener`]).
///
/// ```
/// fn takes_any<A, L: sd_notify_core::Listener<A>>(_: L) {}
/// takes_any::<&str, _>(std::net::TcpListener::bind("127.0.0.1:0")?);
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait Listener<A>: Sized + AsFd + From<OwnedFd> + sealed::Sealed<A> {}

impl<A: ToSocketAddrs> Listener<A> for TcpListener {}
impl<A: ToSocketAddrs> Listener<A> for UdpSocket {}
impl<A: AsRef<Path>> Listener<A> for UnixListener {}
impl<A: AsRef<Path>> Listener<A> for UnixDatagram {}

mod sealed {
    use super::*;

    /// What [`Listener`](super::Listener) needs, out of reach of other crates.
    pub trait Sealed<A> {
        /// The kind of socket the type wraps.
        const KIND: Kind;
        /// The addresses `addr` stands for, as far as they can be known before binding.
        fn wanted(addr: &A) -> Wanted;
        /// The address a descriptor of this kind is bound to.
        fn bound(fd: BorrowedFd<'_>) -> io::Result<Bound>;
        /// Makes the socket blocking, as one fresh from `bind` is.
        fn set_blocking(&self) -> io::Result<()>;
    }

    impl<A: ToSocketAddrs> Sealed<A> for TcpListener {
        const KIND: Kind = Kind { family: Family::Inet, ty: SockType::Stream, listening: true };
        fn wanted(addr: &A) -> Wanted {
            Wanted::inet(addr)
        }
        fn bound(fd: BorrowedFd<'_>) -> io::Result<Bound> {
            TcpListener::from(fd.try_clone_to_owned()?).local_addr().map(Bound::Inet)
        }
        fn set_blocking(&self) -> io::Result<()> {
            self.set_nonblocking(false)
        }
    }

    impl<A: ToSocketAddrs> Sealed<A> for UdpSocket {
        const KIND: Kind = Kind { family: Family::Inet, ty: SockType::Datagram, listening: false };
        fn wanted(addr: &A) -> Wanted {
            Wanted::inet(addr)
        }
        fn bound(fd: BorrowedFd<'_>) -> io::Result<Bound> {
            UdpSocket::from(fd.try_clone_to_owned()?).local_addr().map(Bound::Inet)
        }
        fn set_blocking(&self) -> io::Result<()> {
            self.set_nonblocking(false)
        }
    }

    impl<A: AsRef<Path>> Sealed<A> for UnixListener {
        const KIND: Kind = Kind { family: Family::Unix, ty: SockType::Stream, listening: true };
        fn wanted(addr: &A) -> Wanted {
            Wanted::Unix(addr.as_ref().to_path_buf())
        }
        fn bound(fd: BorrowedFd<'_>) -> io::Result<Bound> {
            let addr = UnixListener::from(fd.try_clone_to_owned()?).local_addr()?;
            Ok(Bound::Unix(addr.as_pathname().map(Path::to_path_buf)))
        }
        fn set_blocking(&self) -> io::Result<()> {
            self.set_nonblocking(false)
        }
    }

    impl<A: AsRef<Path>> Sealed<A> for UnixDatagram {
        const KIND: Kind = Kind { family: Family::Unix, ty: SockType::Datagram, listening: false };
        fn wanted(addr: &A) -> Wanted {
            Wanted::Unix(addr.as_ref().to_path_buf())
        }
        fn bound(fd: BorrowedFd<'_>) -> io::Result<Bound> {
            let addr = UnixDatagram::from(fd.try_clone_to_owned()?).local_addr()?;
            Ok(Bound::Unix(addr.as_pathname().map(Path::to_path_buf)))
        }
        fn set_blocking(&self) -> io::Result<()> {
            self.set_nonblocking(false)
        }
    }

    /// A socket's address family, as far as listeners care.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Family {
        /// `AF_INET` or `AF_INET6`.
        Inet,
        /// `AF_UNIX`.
        Unix,
        /// Anything else (`AF_NETLINK`, `AF_VSOCK`, …).
        Other,
    }

    /// A socket's type, as far as listeners care.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum SockType {
        /// `SOCK_STREAM`.
        Stream,
        /// `SOCK_DGRAM`.
        Datagram,
        /// Anything else (`SOCK_SEQPACKET`, `SOCK_RAW`, …).
        Other,
    }

    /// What a descriptor is: its family, its type, whether it listens.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Kind {
        /// The address family.
        pub family: Family,
        /// The socket type.
        pub ty: SockType,
        /// `SO_ACCEPTCONN`.
        pub listening: bool,
    }

    /// The address a listener was asked for.
    #[derive(Debug)]
    pub enum Wanted {
        /// What the address resolved to (empty when it did not).
        Inet(Vec<SocketAddr>),
        /// A filesystem path.
        Unix(PathBuf),
    }

    impl Wanted {
        fn inet(addr: &impl ToSocketAddrs) -> Wanted {
            Wanted::Inet(addr.to_socket_addrs().map(Iterator::collect).unwrap_or_default())
        }
    }

    /// The address a passed descriptor is bound to.
    #[derive(Debug)]
    pub enum Bound {
        /// An IP address and port.
        Inet(SocketAddr),
        /// A filesystem path (`None`: unnamed or abstract).
        Unix(Option<PathBuf>),
    }
}

use sealed::{Bound, Wanted};
pub(crate) use sealed::{Family, Kind, SockType};

impl Kind {
    /// "a listening TCP socket", "a UDP socket", …
    fn describe(self) -> String {
        let family = match self.family {
            Family::Inet => "IP",
            Family::Unix => "Unix",
            Family::Other => "non-IP, non-Unix",
        };
        match (self.family, self.ty, self.listening) {
            (Family::Inet, SockType::Stream, true) => "a listening TCP socket".to_owned(),
            (Family::Inet, SockType::Stream, false) => "a TCP socket that is not listening".to_owned(),
            (Family::Inet, SockType::Datagram, _) => "a UDP socket".to_owned(),
            (_, SockType::Stream, true) => format!("a listening {family} stream socket"),
            (_, SockType::Stream, false) => format!("a {family} stream socket that is not listening"),
            (_, SockType::Datagram, _) => format!("a {family} datagram socket"),
            (_, SockType::Other, _) => format!("a {family} socket of another type"),
        }
    }

    /// Whether a descriptor of kind `self` can serve as `wanted`.
    fn fits(self, wanted: Kind) -> bool {
        self.family == wanted.family
            && self.ty == wanted.ty
            && (wanted.ty != SockType::Stream || self.listening == wanted.listening)
    }
}

impl Wanted {
    /// Whether a socket bound to `bound` is the one asked for. A port 0 asked for is any port.
    fn matches(&self, bound: &Bound) -> bool {
        match (self, bound) {
            (Wanted::Inet(wanted), Bound::Inet(bound)) => {
                wanted.iter().any(|w| w.ip() == bound.ip() && (w.port() == 0 || w.port() == bound.port()))
            }
            (Wanted::Unix(wanted), Bound::Unix(Some(bound))) => wanted == bound,
            _ => false,
        }
    }
}

impl fmt::Display for Wanted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Wanted::Inet(addrs) if addrs.is_empty() => f.write_str("(an address that did not resolve)"),
            Wanted::Inet(addrs) => {
                for (i, a) in addrs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" or ")?;
                    }
                    write!(f, "{a}")?;
                }
                Ok(())
            }
            Wanted::Unix(path) => write!(f, "{}", path.display()),
        }
    }
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bound::Inet(a) => write!(f, "{a}"),
            Bound::Unix(Some(path)) => write!(f, "{}", path.display()),
            Bound::Unix(None) => f.write_str("(an unnamed or abstract Unix address)"),
        }
    }
}

/// Why [`listener`] could not give a socket.
///
/// Its `Display` says what went wrong with which name; for [`ListenerError::Bind`] the
/// `io::Error` of the bind is [`source()`](std::error::Error::source), as for the crate's
/// other errors.
///
/// ```
/// use sd_notify_core::ListenerError;
/// let err = sd_notify_core::listener("a:b", "127.0.0.1:0", std::net::TcpListener::bind).unwrap_err();
/// assert!(matches!(&err, ListenerError::InvalidName { name, .. } if name == "a:b"));
/// assert_eq!(
///     err.to_string(),
///     "listener name \"a:b\" cannot be an FDNAME=: it contains the character ':', which this field does not allow"
/// );
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum ListenerError {
    /// The name breaks the `FDNAME=` rules (1–255 printable ASCII characters, no `:`, no
    /// `\`), so the manager could not store the socket under it. Nothing was bound.
    InvalidName {
        /// The name as given.
        name: String,
        /// The rule it breaks.
        rule: Rule,
    },
    /// The descriptor the manager passed under this name is not the kind of socket asked
    /// for (a UDP socket where a TCP listener was asked for, …). It is closed and removed
    /// from the store (`FDSTOREREMOVE=1`), so that the next start binds a new socket
    /// instead of failing again; a `.socket` unit passes it again (fix the unit). The
    /// name stays unclaimed: a second call binds a new socket.
    WrongKind {
        /// The listener's name.
        name: String,
        /// What the descriptor is ("a UDP socket", "not a socket", …).
        found: String,
        /// What was asked for ("a listening TCP socket", …).
        expected: String,
    },
    /// The caller's bind failed (the `io::Error` is the [`source`](std::error::Error::source)).
    Bind {
        /// The listener's name.
        name: String,
        /// The address asked for, as resolved.
        address: String,
        /// The bind's error.
        source: io::Error,
    },
    /// This process asked for the name before: each name is one socket.
    AlreadyClaimed {
        /// The name.
        name: String,
    },
    /// The manager's `LISTEN_*` variables could not be used (see [`EnvError`]).
    Env(EnvError),
}

impl fmt::Display for ListenerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenerError::InvalidName { name, rule } => {
                write!(f, "listener name {name:?} cannot be an FDNAME=: {rule}")
            }
            ListenerError::WrongKind { name, found, expected } => write!(
                f,
                "listener {name:?}: the descriptor the service manager passed under this name is {found}, \
                 expected {expected}"
            ),
            ListenerError::Bind { name, address, .. } => {
                write!(f, "listener {name:?}: could not bind {address}")
            }
            ListenerError::AlreadyClaimed { name } => {
                write!(f, "listener {name:?} was already asked for in this process")
            }
            ListenerError::Env(_) => {
                f.write_str("the descriptors passed by the service manager are unusable")
            }
        }
    }
}

impl std::error::Error for ListenerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ListenerError::Bind { source, .. } => Some(source),
            ListenerError::Env(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ListenerError> for io::Error {
    /// The bind's own error for [`ListenerError::Bind`] wrapped with the name and address
    /// (its kind kept: `AddrInUse` stays `AddrInUse`), `InvalidInput` otherwise, so that
    /// `?` works in a function returning `io::Result`.
    fn from(e: ListenerError) -> io::Error {
        let kind = match &e {
            ListenerError::Bind { source, .. } => source.kind(),
            _ => io::ErrorKind::InvalidInput,
        };
        io::Error::new(kind, e)
    }
}

/// The process-wide table of passed descriptors, filled at the first [`listener`] call.
static TABLE: Mutex<Option<Table>> = Mutex::new(None);

#[derive(Default)]
struct Table {
    /// Descriptors passed by the manager and not taken yet.
    passed: Vec<ListenFd>,
    /// Names asked for so far.
    claimed: Vec<String>,
    /// Sockets this process stored.
    stored: usize,
    /// One warning about a disabled store per process.
    warned_store: bool,
}

impl Table {
    /// Takes the passed descriptors. That `listen_fds()` took them before is a warning (and
    /// an empty table); malformed variables are an error, and nothing is taken.
    fn from_env() -> Result<Table, EnvError> {
        // From now on `#[sd_service]`'s `#[ready]` releases what no listener took (only a
        // program that asks for a listener links this code).
        let _ = crate::service::AT_READY.set(release_unclaimed_listeners);
        match crate::listen_fds_with_names() {
            Ok(passed) => Ok(Table { passed, ..Table::default() }),
            Err(EnvError::AlreadyTaken) => {
                diag::warning!(
                    "listen_fds() took the descriptors the service manager passed before listener() \
                     was called: listener() binds new sockets (use one of the two)"
                );
                Ok(Table::default())
            }
            Err(e) => Err(e),
        }
    }
}

/// A listening socket named `name` that survives restarts: the descriptor the service
/// manager passed under that name (socket activation or the file-descriptor store) when it
/// is the right kind of socket, bound to `addr`; otherwise a new one from `bind(addr)`,
/// handed to the manager's store with `FDSTORE=1` + `FDNAME=<name>` so that the next start
/// of the service gets it back.
///
/// ```no_run
/// use std::net::TcpListener;
/// let http: TcpListener = sd_notify_core::listener("http", "0.0.0.0:8080", TcpListener::bind)?;
/// sd_notify_core::release_unclaimed_listeners(); // once every listener was asked for
/// # Ok::<(), sd_notify_core::ListenerError>(())
/// ```
///
/// With tokio, convert the std socket (it is blocking, as one fresh from `bind` is):
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// let http = sd_notify_core::listener("http", "0.0.0.0:8080", std::net::TcpListener::bind)?;
/// http.set_nonblocking(true)?;
/// let http = tokio::net::TcpListener::from_std(http)?;
/// # Ok(()) }
/// ```
///
/// In detail:
/// - **Reused**: a descriptor passed under `name` is used when it is the same kind of
///   socket as `L` (checked with `SO_DOMAIN`, `SO_TYPE` and `SO_ACCEPTCONN`: a listening
///   stream socket of the right family for [`TcpListener`] and [`UnixListener`], a datagram
///   socket for [`UdpSocket`] and [`UnixDatagram`]) and bound to `addr` (IP address and
///   port, a requested port 0 matching any; a Unix socket's path). It is made blocking (a
///   previous run may have left it non-blocking: the flag belongs to the socket) and is not
///   stored again: it is in the store already, or its `.socket` unit keeps it.
/// - **Changed address**: passed descriptors under `name` bound elsewhere (the
///   configuration changed) are removed from the store (`FDSTOREREMOVE=1` + `FDNAME=`),
///   closed, and replaced by a new socket, with one warning.
/// - **Wrong kind** (a UDP socket under a name asked for as a TCP listener, …): a
///   [`ListenerError::WrongKind`]; that descriptor is closed and removed from the store, so
///   the next start binds a new socket instead of failing again.
/// - **Several under the name**: the first that fits is used; the same socket passed twice
///   (a `.socket` unit's that was stored as well) is closed quietly; other sockets are closed
///   and removed from the store (with one warning), and the one in use is stored again.
/// - **New**: without a passed descriptor, `bind(addr)` makes the socket, and it goes to the
///   store. Without `NOTIFY_SOCKET` nothing is stored (nothing to store it in). A store the
///   unit did not enable gets one warning that the socket will not survive a restart and
///   which setting to add (the manager drops what it is sent): systemd ≥ 254 sets
///   `$FDSTORE` to `FileDescriptorStoreMax=` when the store is on, so its absence says so.
///   Older managers never set it, so there the warning (which says so) also comes when the
///   store is on, but only when a socket is stored, not when one is reused: at the first
///   start. More sockets stored than `$FDSTORE` allows: one warning too. A send that fails is a warning: the socket works, it only will
///   not survive a restart.
///
/// Socket activation and the store are the same to this function: a `.socket` unit's
/// socket with `FileDescriptorName=http` is reused as one stored under `http`.
///
/// Ask for every listener during start-up, then call [`release_unclaimed_listeners`]
/// (`#[sd_service]` does that at `#[ready]`). The descriptors are taken from the
/// environment at the first call: [`listen_fds`](crate::listen_fds) then reports
/// [`EnvError::AlreadyTaken`], and if it was called first, this function binds new sockets
/// (with a warning). The manager's store keeps at most `FileDescriptorStoreMax=`
/// descriptors.
///
/// A send to the manager (`FDSTORE=1`) may wait for room in its queue, at most the
/// notifier's [timeout](crate::Notifier::timeout).
///
/// # Errors
/// [`ListenerError::InvalidName`] (nothing is bound), [`ListenerError::WrongKind`],
/// [`ListenerError::Bind`] (the closure's error with the name and address),
/// [`ListenerError::AlreadyClaimed`], [`ListenerError::Env`] for malformed `LISTEN_*`
/// variables.
pub fn listener<L, A>(name: &str, addr: A, bind: impl FnOnce(A) -> io::Result<L>) -> Result<L, ListenerError>
where
    L: Listener<A>,
{
    if let Err(crate::Error::InvalidValue { rule, .. }) = NotifyState::FdName(name).validate() {
        return Err(ListenerError::InvalidName { name: name.to_owned(), rule });
    }
    let mut guard = TABLE.lock().unwrap_or_else(|p| p.into_inner());
    let table = match &mut *guard {
        Some(table) => table,
        // Malformed variables are an error of this call (and of every later one).
        empty => empty.insert(Table::from_env().map_err(ListenerError::Env)?),
    };
    if table.claimed.iter().any(|c| c == name) {
        return Err(ListenerError::AlreadyClaimed { name: name.to_owned() });
    }
    let expected = <L as sealed::Sealed<A>>::KIND;
    let wanted = <L as sealed::Sealed<A>>::wanted(&addr);

    // The passed descriptors under this name: the first of the right kind and address wins.
    let mut elsewhere = Vec::new();
    let mut index = 0;
    while index < table.passed.len() {
        if table.passed[index].name() != name {
            index += 1;
            continue;
        }
        let fd = table.passed[index].as_fd();
        let found = match sys::socket_kind(fd) {
            Ok(kind) if kind.fits(expected) => None,
            Ok(kind) => Some(kind.describe()),
            Err(e) if e.raw_os_error() == Some(libc::ENOTSOCK) => Some("not a socket".to_owned()),
            Err(e) => Some(format!("not inspectable ({e})")),
        };
        if let Some(found) = found {
            // Stale (the program now wants another kind under this name) or a unit's
            // mistake: either way of no use. Out of the store, so that the next start
            // does not fail the same way (a `.socket` unit passes it again: fix the unit).
            drop(table.passed.remove(index));
            if let Some(notifier) = crate::default_notifier().ok().flatten() {
                remove_from_store(notifier, name);
            }
            return Err(ListenerError::WrongKind {
                name: name.to_owned(),
                found,
                expected: expected.describe(),
            });
        }
        match <L as sealed::Sealed<A>>::bound(fd) {
            Ok(bound) if wanted.matches(&bound) => {
                let passed = table.passed.remove(index);
                table.claimed.push(name.to_owned());
                let socket = L::from(passed.into_fd());
                if let Err(e) = socket.set_blocking() {
                    diag::warning!("listener {name:?}: could not make the passed socket blocking: {e}");
                }
                settle_duplicates(table, name, socket.as_fd());
                return Ok(socket);
            }
            Ok(bound) => {
                elsewhere.push(bound.to_string());
                index += 1;
            }
            Err(e) => {
                elsewhere.push(format!("(an address that could not be read: {e})"));
                index += 1;
            }
        }
    }
    table.claimed.push(name.to_owned());
    let notifier = crate::default_notifier().ok().flatten();
    if !elsewhere.is_empty() {
        // The configuration changed: the old socket goes, from the store too.
        table.passed.retain(|p| p.name() != name);
        diag::warning!(
            "listener {name:?}: the socket passed under this name is bound to {}, not {wanted}: \
             replaced by a new socket (and removed from the file descriptor store)",
            elsewhere.join(", ")
        );
        if let Some(notifier) = notifier {
            remove_from_store(notifier, name);
        }
    }
    let socket = match bind(addr) {
        Ok(socket) => socket,
        Err(source) => {
            table.claimed.retain(|c| c != name);
            return Err(ListenerError::Bind { name: name.to_owned(), address: wanted.to_string(), source });
        }
    };
    if let Some(notifier) = notifier {
        table.stored += 1;
        check_store_enabled(table, name);
        store(notifier, name, socket.as_fd());
    }
    Ok(socket)
}

/// Closes the descriptors the manager passed that no [`listener`] call took, each name
/// reported once (a warning), and removes them from the file-descriptor store
/// (`FDSTOREREMOVE=1` + `FDNAME=`), so that a socket the service no longer uses (a
/// listener removed from its configuration) is neither leaked nor passed again forever.
///
/// Call it once every listener was asked for, at the end of start-up. `#[sd_service]` calls
/// it at the `#[ready]` marker (a service without the marker, whose `READY=1` goes out before
/// `main` runs, calls it itself). Does nothing if [`listener`] was never called, so the
/// descriptors of a program that takes them with [`listen_fds`](crate::listen_fds) are left
/// alone. (Descriptors under a name that was asked for never get here: the call settled
/// them all, see [`listener`].)
///
/// ```no_run
/// use std::net::TcpListener;
/// let http = sd_notify_core::listener("http", "0.0.0.0:8080", TcpListener::bind)?;
/// let admin = sd_notify_core::listener("admin", "127.0.0.1:9090", TcpListener::bind)?;
/// sd_notify_core::release_unclaimed_listeners();
/// # Ok::<(), sd_notify_core::ListenerError>(())
/// ```
pub fn release_unclaimed_listeners() {
    let mut guard = TABLE.lock().unwrap_or_else(|p| p.into_inner());
    let Some(table) = guard.as_mut() else { return };
    if table.passed.is_empty() {
        return;
    }
    let notifier = crate::default_notifier().ok().flatten();
    let passed = std::mem::take(&mut table.passed);
    let mut names: Vec<&str> = Vec::new();
    for p in &passed {
        if !names.contains(&p.name()) {
            names.push(p.name());
        }
    }
    for name in names {
        let count = passed.iter().filter(|p| p.name() == name).count();
        // (A name asked for never has descriptors left here: the call took them all.)
        let removable = notifier.filter(|_| NotifyState::FdName(name).validate().is_ok());
        let what = if count == 1 { "a descriptor".to_owned() } else { format!("{count} descriptors") };
        diag::warning!(
            "the service manager passed {what} under the name {name:?}, which no listener asked \
             for: closed{}",
            if removable.is_some() { " and removed from the file descriptor store" } else { "" }
        );
        if let Some(notifier) = removable {
            remove_from_store(notifier, name);
        }
    }
    drop(passed);
}

/// The other descriptors passed under `name` once `chosen` was taken: the same socket again
/// (a `.socket` unit's, stored as well) is closed quietly; other sockets (a stale stored one
/// beside a `.socket` unit's, an old address) are closed and removed from the store, and
/// `chosen` is stored again, since `FDSTOREREMOVE=1` removes every descriptor of the name.
fn settle_duplicates(table: &mut Table, name: &str, chosen: BorrowedFd<'_>) {
    let (others, rest): (Vec<ListenFd>, Vec<ListenFd>) =
        std::mem::take(&mut table.passed).into_iter().partition(|p| p.name() == name);
    table.passed = rest;
    if others.is_empty() {
        return;
    }
    let id = identity(chosen);
    let stale = others.iter().filter(|o| id.is_none() || identity(o.as_fd()) != id).count();
    drop(others);
    if stale == 0 {
        return;
    }
    let notifier = crate::default_notifier().ok().flatten();
    diag::warning!(
        "listener {name:?}: the service manager passed {stale} other socket{} under this name: \
         closed{}",
        if stale == 1 { "" } else { "s" },
        if notifier.is_some() { " and removed from the file descriptor store" } else { "" }
    );
    if let Some(notifier) = notifier {
        remove_from_store(notifier, name);
        table.stored += 1;
        store(notifier, name, chosen);
    }
}

/// The device and inode of the file behind `fd` (which socket it is).
fn identity(fd: BorrowedFd<'_>) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::File::from(fd.try_clone_to_owned().ok()?).metadata().ok()?;
    Some((meta.dev(), meta.ino()))
}

/// `FDSTORE=1` + `FDNAME=<name>` with the socket; a failure is a warning.
fn store(notifier: &crate::Notifier, name: &str, fd: BorrowedFd<'_>) {
    let sent = Message::from_states(&[NotifyState::FdStore, NotifyState::FdName(name)])
        .and_then(|msg| notifier.send_with(&msg, SendOptions::new().fds(&[fd])));
    if let Err(e) = sent {
        diag::warning!(
            "listener {name:?}: the socket could not be handed to the file descriptor store, so it \
             will not survive a restart: {}",
            diag::Chain(&e)
        );
    }
}

/// `FDSTOREREMOVE=1` + `FDNAME=<name>`; a failure is a warning.
fn remove_from_store(notifier: &crate::Notifier, name: &str) {
    let sent = Message::from_states(&[NotifyState::FdStoreRemove, NotifyState::FdName(name)])
        .and_then(|msg| notifier.send(&msg));
    if let Err(e) = sent {
        diag::warning!("{name:?} could not be removed from the file descriptor store: {}", diag::Chain(&e));
    }
}

/// Warns once if the unit's store looks disabled, or too small for what was stored.
/// systemd ≥ 254 sets `$FDSTORE` to `FileDescriptorStoreMax=` when the store is enabled.
fn check_store_enabled(table: &mut Table, name: &str) {
    if table.warned_store {
        return;
    }
    let max = std::env::var("FDSTORE").ok().and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
    if max == 0 {
        table.warned_store = true;
        diag::warning!(
            "listener {name:?}: $FDSTORE is not set, so the unit has no file descriptor store and \
             the socket will not survive a restart (connections arriving then are refused): add \
             FileDescriptorStoreMax=N (N ≥ the number of listeners) to the unit's [Service] \
             section (managers older than systemd 254 do not set $FDSTORE: there, ignore this if \
             the unit has the setting)"
        );
    } else if table.stored > max {
        table.warned_store = true;
        diag::warning!(
            "listener {name:?}: {} sockets stored, but the unit's FileDescriptorStoreMax= is {max}: \
             the manager drops the rest, which will not survive a restart",
            table.stored
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_requested_port_zero_matches_any_port_of_the_same_address() {
        let bound = Bound::Inet("127.0.0.1:4242".parse().unwrap());
        assert!(Wanted::Inet(vec!["127.0.0.1:0".parse().unwrap()]).matches(&bound));
        assert!(Wanted::Inet(vec!["127.0.0.1:4242".parse().unwrap()]).matches(&bound));
        assert!(!Wanted::Inet(vec!["127.0.0.1:4243".parse().unwrap()]).matches(&bound));
        assert!(!Wanted::Inet(vec!["0.0.0.0:4242".parse().unwrap()]).matches(&bound));
        assert!(!Wanted::Inet(vec![]).matches(&bound));
        let both = Wanted::Inet(vec!["[::1]:4242".parse().unwrap(), "127.0.0.1:4242".parse().unwrap()]);
        assert!(both.matches(&bound));
        assert_eq!(both.to_string(), "[::1]:4242 or 127.0.0.1:4242");
    }

    #[test]
    fn unix_paths_match_exactly() {
        let bound = Bound::Unix(Some(PathBuf::from("/run/x.sock")));
        assert!(Wanted::Unix(PathBuf::from("/run/x.sock")).matches(&bound));
        assert!(!Wanted::Unix(PathBuf::from("/run/y.sock")).matches(&bound));
        assert!(!Wanted::Unix(PathBuf::from("/run/x.sock")).matches(&Bound::Unix(None)));
    }

    #[test]
    fn kinds_describe_themselves_and_fit_only_their_own() {
        let tcp = <TcpListener as sealed::Sealed<&str>>::KIND;
        let udp = <UdpSocket as sealed::Sealed<&str>>::KIND;
        let unix = <UnixListener as sealed::Sealed<&str>>::KIND;
        assert_eq!(tcp.describe(), "a listening TCP socket");
        assert_eq!(udp.describe(), "a UDP socket");
        assert_eq!(unix.describe(), "a listening Unix stream socket");
        assert!(tcp.fits(tcp) && udp.fits(udp) && unix.fits(unix));
        assert!(!tcp.fits(udp) && !udp.fits(tcp) && !unix.fits(tcp) && !tcp.fits(unix));
        let connected = Kind { listening: false, ..tcp };
        assert!(!connected.fits(tcp));
        assert_eq!(connected.describe(), "a TCP socket that is not listening");
    }
}
