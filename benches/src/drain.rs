//! The live receiver: a socket bound like the manager's (`SO_PASSCRED`, via
//! `sd_notify_core::Receiver`) and a thread that drains it the way systemd's event loop does:
//! wait for readability, then read datagrams until the queue is empty.

use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sd_notify_core::{NotifyAddress, Receiver};

/// A bound receiver drained by its own thread until dropped.
pub struct Drain {
    receiver: Arc<Receiver>,
    received: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drain {
    /// Binds a fresh abstract socket and starts draining it.
    ///
    /// # Errors
    /// `bind(2)` errors.
    pub fn abstract_socket() -> std::io::Result<Drain> {
        Ok(Drain::start(Receiver::bind_unique_abstract()?))
    }

    /// Binds a fresh socket file (removed on drop) and starts draining it.
    ///
    /// # Errors
    /// `bind(2)` errors.
    pub fn path_socket() -> std::io::Result<Drain> {
        Ok(Drain::start(Receiver::bind_unique_path()?))
    }

    fn start(receiver: Receiver) -> Drain {
        let receiver = Arc::new(receiver);
        let received = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (receiver, received, stop) = (receiver.clone(), received.clone(), stop.clone());
            std::thread::spawn(move || drain(&receiver, &received, &stop))
        };
        Drain { receiver, received, stop, thread: Some(thread) }
    }

    /// The bound address.
    pub fn address(&self) -> &NotifyAddress {
        self.receiver.address()
    }

    /// `("NOTIFY_SOCKET", value)` for a child's environment.
    pub fn env(&self) -> (&'static str, std::ffi::OsString) {
        self.receiver.env()
    }

    /// Datagrams received so far.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Waits until at least `count` datagrams arrived, or `timeout` passed; returns the count.
    pub fn wait_for(&self, count: u64, timeout: Duration) -> u64 {
        let deadline = Instant::now() + timeout;
        while self.received() < count && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        self.received()
    }
}

impl Drop for Drain {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn drain(receiver: &Receiver, received: &AtomicU64, stop: &AtomicBool) {
    let fd = receiver.as_fd().as_raw_fd();
    let mut buf = [0u8; 4097];
    while !stop.load(Ordering::Relaxed) {
        loop {
            // SAFETY: `buf` is valid for writes of its length; `fd` lives as long as `receiver`.
            let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
            if n < 0 {
                break;
            }
            received.fetch_add(1, Ordering::Relaxed);
        }
        let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd; 100 ms timeout so the stop flag is seen.
        unsafe { libc::poll(&mut pfd, 1, 100) };
    }
}
