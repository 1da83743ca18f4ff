//! The implementations compared, each able to send one prepared payload repeatedly.
//!
//! Every sender reaches the same receiver. Those that read `NOTIFY_SOCKET` (the process-wide
//! function of ours, the `sd-notify` and `libsystemd` crates, libsystemd's C `sd_notify`)
//! get it from the environment the parent process gave the child; nothing here changes the
//! environment.

use std::ffi::{CStr, CString, c_char, c_int};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::OnceLock;

use sd_notify_core::{Message, Notifier, NotifyAddress, NotifyState};

/// A 60-byte status value.
pub const STATUS_VALUE: &str = "serving 1024 connections on [::]:8080, 8 workers, no errors.";
const _: () = assert!(STATUS_VALUE.len() == 60);

/// What one notification says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    /// `READY=1`.
    Ready,
    /// `STATUS=` with [`STATUS_VALUE`].
    Status60,
}

impl Payload {
    /// Both, in report order.
    pub const ALL: [Payload; 2] = [Payload::Ready, Payload::Status60];

    /// Command-line name.
    pub fn key(self) -> &'static str {
        match self {
            Payload::Ready => "ready",
            Payload::Status60 => "status60",
        }
    }

    /// Report name.
    pub fn label(self) -> &'static str {
        match self {
            Payload::Ready => "`READY=1`",
            Payload::Status60 => "`STATUS=` (60-byte value)",
        }
    }

    /// From [`Payload::key`].
    pub fn from_key(key: &str) -> Option<Payload> {
        Payload::ALL.into_iter().find(|p| p.key() == key)
    }

    /// The exact datagram (assignments joined by `\n`, no trailing newline).
    pub fn bytes(self) -> Vec<u8> {
        match self {
            Payload::Ready => b"READY=1".to_vec(),
            Payload::Status60 => format!("STATUS={STATUS_VALUE}").into_bytes(),
        }
    }
}

/// One implementation under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Impl {
    /// `Notifier::send(&msg)` with a prepared `Message`.
    OursSend,
    /// `Notifier::notify(&[NotifyState::…])`: encodes on every call.
    OursNotify,
    /// `sd_notify_core::notify(&[NotifyState::…])`: the process-wide notifier from `NOTIFY_SOCKET`.
    OursGlobal,
    /// `sd_notify::notify(&[NotifyState::…])` of the `sd-notify` crate 0.5.
    SdNotify,
    /// `libsystemd::daemon::notify(false, &[NotifyState::…])` of the `libsystemd` crate 0.7.
    Libsystemd,
    /// libsystemd's C `sd_notify(0, "…")`, loaded with `dlopen("libsystemd.so.0")`.
    CSdNotify,
    /// The floor: `send(2)` of the same bytes on a cached connected `AF_UNIX` datagram socket.
    Floor,
    /// The second floor: `sendto(2)` of the same bytes on a cached *unbound* socket, naming the
    /// address every time (what libsystemd does, minus its socket per call).
    FloorSendto,
    /// A reference, not a floor: `sendmsg(2)` on the connected socket with an iovec of the
    /// pieces (`"KEY="`, value) instead of one contiguous buffer (the alternative to copying
    /// the pieces into a buffer; compare it with [`Impl::Floor`]).
    FloorIovec,
}

impl Impl {
    /// All, in report order; the floor last.
    pub const ALL: [Impl; 9] = [
        Impl::OursSend,
        Impl::OursNotify,
        Impl::OursGlobal,
        Impl::SdNotify,
        Impl::Libsystemd,
        Impl::CSdNotify,
        Impl::FloorIovec,
        Impl::FloorSendto,
        Impl::Floor,
    ];

    /// Command-line name.
    pub fn key(self) -> &'static str {
        match self {
            Impl::OursSend => "ours-send",
            Impl::OursNotify => "ours-notify",
            Impl::OursGlobal => "ours-global",
            Impl::SdNotify => "sd-notify",
            Impl::Libsystemd => "libsystemd",
            Impl::CSdNotify => "c-sd_notify",
            Impl::Floor => "floor",
            Impl::FloorSendto => "floor-sendto",
            Impl::FloorIovec => "iovec-sendmsg",
        }
    }

    /// Report name.
    pub fn label(self) -> &'static str {
        match self {
            Impl::OursSend => "ours: `Notifier::send(&msg)` (prepared `Message`)",
            Impl::OursNotify => "ours: `Notifier::notify(&[NotifyState::…])`",
            Impl::OursGlobal => "ours: `sd_notify_core::notify(&[…])` (process-wide)",
            Impl::SdNotify => "`sd-notify` 0.5: `sd_notify::notify(&[…])`",
            Impl::Libsystemd => "`libsystemd` 0.7: `daemon::notify(false, &[…])`",
            Impl::CSdNotify => "C `sd_notify(0, …)` (libsystemd.so.0, dlopen)",
            Impl::Floor => "floor: `send(2)` on a connected socket",
            Impl::FloorSendto => "floor: `sendto(2)` on an unbound socket",
            Impl::FloorIovec => "reference: `sendmsg(2)`, iovec of the pieces, connected",
        }
    }

    /// From [`Impl::key`].
    pub fn from_key(key: &str) -> Option<Impl> {
        Impl::ALL.into_iter().find(|i| i.key() == key)
    }

    /// Ours (the ones with a target).
    pub fn is_ours(self) -> bool {
        matches!(self, Impl::OursSend | Impl::OursNotify | Impl::OursGlobal)
    }

    /// One of the two floors or the iovec reference (raw system calls, no library).
    pub fn is_raw(self) -> bool {
        matches!(self, Impl::Floor | Impl::FloorSendto | Impl::FloorIovec)
    }
}

/// `int sd_notify(int unset_environment, const char *state)`.
type SdNotifyFn = unsafe extern "C" fn(c_int, *const c_char) -> c_int;

/// Where libsystemd's C library is looked for.
pub const LIBSYSTEMD_SONAME: &str = "libsystemd.so.0";

/// libsystemd's `sd_notify`, loaded once; the library is never unloaded.
pub fn c_sd_notify() -> Result<SdNotifyFn, String> {
    static F: OnceLock<Result<usize, String>> = OnceLock::new();
    let addr = F.get_or_init(|| {
        let soname = CString::new(LIBSYSTEMD_SONAME).map_err(|e| e.to_string())?;
        // SAFETY: a valid NUL-terminated name; loading libsystemd runs its constructors,
        // which have no preconditions on our side.
        let handle = unsafe { libc::dlopen(soname.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if handle.is_null() {
            return Err(format!("dlopen({LIBSYSTEMD_SONAME}) failed: {}", dl_error()));
        }
        // SAFETY: `handle` is a live handle from dlopen and the name is NUL-terminated.
        let sym = unsafe { libc::dlsym(handle, c"sd_notify".as_ptr()) };
        if sym.is_null() {
            return Err(format!("dlsym(sd_notify) failed: {}", dl_error()));
        }
        Ok(sym as usize)
    });
    match addr {
        // SAFETY: the symbol `sd_notify` of libsystemd has exactly this C signature
        // (sd-daemon.h), and the library stays loaded for the life of the process.
        Ok(a) => Ok(unsafe { std::mem::transmute::<usize, SdNotifyFn>(*a) }),
        Err(e) => Err(e.clone()),
    }
}

fn dl_error() -> String {
    // SAFETY: dlerror has no preconditions; it returns NULL or a NUL-terminated string.
    let msg = unsafe { libc::dlerror() };
    if msg.is_null() {
        "unknown error".into()
    } else {
        // SAFETY: non-null, NUL-terminated, valid until the next dl* call on this thread.
        unsafe { CStr::from_ptr(msg) }.to_string_lossy().into_owned()
    }
}

/// A close-on-exec `AF_UNIX` datagram socket, neither bound nor connected.
pub fn unbound_socket() -> std::io::Result<OwnedFd> {
    // SAFETY: plain socket(2) call; the result is checked before use.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by socket(2) and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A connected, close-on-exec `AF_UNIX` datagram socket to `address` (path or abstract).
pub fn connected_socket(address: &NotifyAddress) -> std::io::Result<OwnedFd> {
    let fd = unbound_socket()?;
    let (sa, len) = sockaddr(address)?;
    // SAFETY: `sa` is a valid sockaddr_un and `len` does not exceed its size.
    let rc = unsafe { libc::connect(fd.as_raw_fd(), (&raw const sa).cast::<libc::sockaddr>(), len) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(fd)
}

/// `address` as a `sockaddr_un` and its length.
pub fn sockaddr(address: &NotifyAddress) -> std::io::Result<(libc::sockaddr_un, libc::socklen_t)> {
    // SAFETY: all-zero is a valid sockaddr_un.
    let mut sa: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    sa.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let base = size_of::<libc::sa_family_t>();
    let (bytes, len): (Vec<u8>, usize) = if let Some(name) = address.as_abstract_name() {
        let mut b = vec![0u8];
        b.extend_from_slice(name);
        let l = base + b.len();
        (b, l)
    } else if let Some(p) = address.as_path() {
        let mut b = std::os::unix::ffi::OsStrExt::as_bytes(p.as_os_str()).to_vec();
        b.push(0);
        let l = base + b.len();
        (b, l)
    } else {
        return Err(std::io::Error::from_raw_os_error(libc::EAFNOSUPPORT));
    };
    if bytes.len() > sa.sun_path.len() {
        return Err(std::io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    for (dst, src) in sa.sun_path.iter_mut().zip(&bytes) {
        *dst = *src as c_char;
    }
    Ok((sa, len as libc::socklen_t))
}

/// One implementation, prepared to send one payload again and again.
pub enum Sender {
    /// [`Impl::OursSend`].
    OursSend(Notifier, Box<Message>),
    /// [`Impl::OursNotify`].
    OursNotify(Notifier, Payload),
    /// [`Impl::OursGlobal`].
    OursGlobal(Payload),
    /// [`Impl::SdNotify`].
    SdNotify(Payload),
    /// [`Impl::Libsystemd`]; the state is built once (its `Status` owns a `String`).
    Libsystemd(Vec<libsystemd::daemon::NotifyState>),
    /// [`Impl::CSdNotify`].
    C(SdNotifyFn, CString),
    /// [`Impl::Floor`].
    Floor(OwnedFd, Vec<u8>),
    /// [`Impl::FloorSendto`].
    FloorSendto(OwnedFd, Box<(libc::sockaddr_un, libc::socklen_t)>, Vec<u8>),
    /// [`Impl::FloorIovec`]: the socket, `"KEY="` and the value.
    FloorIovec(OwnedFd, &'static [u8], &'static [u8]),
}

impl Sender {
    /// Prepares `imp` to send `payload` to `address` (which must be the one in
    /// `NOTIFY_SOCKET` for the implementations that read it).
    ///
    /// # Errors
    /// A description when the implementation is unavailable here.
    pub fn new(imp: Impl, payload: Payload, address: &NotifyAddress) -> Result<Sender, String> {
        Ok(match imp {
            Impl::OursSend => {
                let notifier = Notifier::new(address.clone()).map_err(|e| e.to_string())?;
                let msg = match payload {
                    Payload::Ready => Message::from_states(&[NotifyState::Ready]),
                    Payload::Status60 => Message::from_states(&[NotifyState::Status(STATUS_VALUE)]),
                }
                .map_err(|e| e.to_string())?;
                Sender::OursSend(notifier, Box::new(msg))
            }
            Impl::OursNotify => {
                Sender::OursNotify(Notifier::new(address.clone()).map_err(|e| e.to_string())?, payload)
            }
            Impl::OursGlobal => Sender::OursGlobal(payload),
            Impl::SdNotify => Sender::SdNotify(payload),
            Impl::Libsystemd => Sender::Libsystemd(vec![match payload {
                Payload::Ready => libsystemd::daemon::NotifyState::Ready,
                Payload::Status60 => libsystemd::daemon::NotifyState::Status(STATUS_VALUE.to_owned()),
            }]),
            Impl::CSdNotify => {
                let f = c_sd_notify()?;
                Sender::C(f, CString::new(payload.bytes()).map_err(|e| e.to_string())?)
            }
            Impl::Floor => {
                let fd = connected_socket(address).map_err(|e| e.to_string())?;
                Sender::Floor(fd, payload.bytes())
            }
            Impl::FloorSendto => Sender::FloorSendto(
                unbound_socket().map_err(|e| e.to_string())?,
                Box::new(sockaddr(address).map_err(|e| e.to_string())?),
                payload.bytes(),
            ),
            Impl::FloorIovec => {
                let (key, value): (&'static [u8], &'static [u8]) = match payload {
                    Payload::Ready => (b"READY=", b"1"),
                    Payload::Status60 => (b"STATUS=", STATUS_VALUE.as_bytes()),
                };
                Sender::FloorIovec(connected_socket(address).map_err(|e| e.to_string())?, key, value)
            }
        })
    }

    /// Sends once.
    ///
    /// # Errors
    /// The implementation's error, as text; also when it sent nothing (e.g. `NOTIFY_SOCKET`
    /// unset, which some report as success).
    #[inline(never)]
    pub fn send(&mut self) -> Result<(), String> {
        match self {
            Sender::OursSend(n, msg) => n.send(msg).map_err(|e| e.to_string()),
            Sender::OursNotify(n, Payload::Ready) => {
                n.notify(&[NotifyState::Ready]).map_err(|e| e.to_string())
            }
            Sender::OursNotify(n, Payload::Status60) => {
                n.notify(&[NotifyState::Status(STATUS_VALUE)]).map_err(|e| e.to_string())
            }
            Sender::OursGlobal(Payload::Ready) => {
                sd_notify_core::notify(&[NotifyState::Ready]).map_err(|e| e.to_string())
            }
            Sender::OursGlobal(Payload::Status60) => {
                sd_notify_core::notify(&[NotifyState::Status(STATUS_VALUE)]).map_err(|e| e.to_string())
            }
            Sender::SdNotify(Payload::Ready) => {
                sd_notify::notify(&[sd_notify::NotifyState::Ready]).map_err(|e| e.to_string())
            }
            Sender::SdNotify(Payload::Status60) => {
                sd_notify::notify(&[sd_notify::NotifyState::Status(STATUS_VALUE)]).map_err(|e| e.to_string())
            }
            Sender::Libsystemd(state) => match libsystemd::daemon::notify(false, state) {
                Ok(true) => Ok(()),
                Ok(false) => Err("NOTIFY_SOCKET unset: nothing sent".into()),
                Err(e) => Err(e.to_string()),
            },
            Sender::C(f, text) => {
                // SAFETY: `f` is libsystemd's sd_notify and `text` a NUL-terminated string.
                let rc = unsafe { f(0, text.as_ptr()) };
                match rc {
                    1.. => Ok(()),
                    0 => Err("NOTIFY_SOCKET unset: nothing sent".into()),
                    _ => Err(std::io::Error::from_raw_os_error(-rc).to_string()),
                }
            }
            Sender::Floor(fd, bytes) => {
                // SAFETY: `bytes` is valid for reads of its length; `fd` is a live socket.
                let n = unsafe {
                    libc::send(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len(), libc::MSG_NOSIGNAL)
                };
                if n < 0 { Err(std::io::Error::last_os_error().to_string()) } else { Ok(()) }
            }
            Sender::FloorSendto(fd, sa, bytes) => {
                let (sa, len) = &**sa;
                // SAFETY: `bytes` is valid for reads of its length, `sa` is a valid sockaddr_un
                // of `len` bytes; `fd` is a live socket.
                let n = unsafe {
                    libc::sendto(
                        fd.as_raw_fd(),
                        bytes.as_ptr().cast(),
                        bytes.len(),
                        libc::MSG_NOSIGNAL,
                        (&raw const *sa).cast::<libc::sockaddr>(),
                        *len,
                    )
                };
                if n < 0 { Err(std::io::Error::last_os_error().to_string()) } else { Ok(()) }
            }
            Sender::FloorIovec(fd, key, value) => {
                let iov = [
                    libc::iovec { iov_base: key.as_ptr() as *mut libc::c_void, iov_len: key.len() },
                    libc::iovec { iov_base: value.as_ptr() as *mut libc::c_void, iov_len: value.len() },
                ];
                // SAFETY: msghdr is plain old data; all-zero is a valid empty header.
                let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
                msg.msg_iov = iov.as_ptr() as *mut libc::iovec;
                msg.msg_iovlen = iov.len() as _;
                // SAFETY: `msg` points to `iov`, whose buffers are static; the kernel only reads.
                let n = unsafe { libc::sendmsg(fd.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
                if n < 0 { Err(std::io::Error::last_os_error().to_string()) } else { Ok(()) }
            }
        }
    }
}
