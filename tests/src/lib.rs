//! Shared pieces of the test suite: the knobs the fixture services read, and a harness that
//! runs a service binary under a [`Receiver`] the way systemd would supervise it.

use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use sd_notify_core::{Receiver, State};

/// A fixture's numeric knob from the environment (`Some(1)` for a flag set to anything
/// that is not a number).
pub fn knob(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| v.parse().unwrap_or(1))
}

/// One datagram the service sent, as the receiver read it.
#[derive(Debug, Clone)]
pub struct Event {
    /// When it arrived, since the service was spawned.
    pub at: Duration,
    /// The exact bytes.
    pub bytes: Vec<u8>,
    /// The sender's PID.
    pub pid: Option<u32>,
    /// `BARRIER=1` (answered by closing the fd at once).
    pub barrier: bool,
}

impl Event {
    /// The datagram as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// `true` when one line is exactly `line`.
    pub fn has(&self, line: &str) -> bool {
        self.text().split('\n').any(|l| l == line)
    }

    /// The value of `key=` in this datagram.
    pub fn value(&self, key: &str) -> Option<String> {
        self.text().split('\n').find_map(|l| l.strip_prefix(key)?.strip_prefix('=').map(str::to_owned))
    }
}

/// A service binary running as a child, its notifications going to a private receiver.
pub struct ServiceUnderTest {
    child: Child,
    receiver: Receiver,
    started: Instant,
    /// Every datagram received so far, in order.
    pub events: Vec<Event>,
    exit: Option<ExitStatus>,
}

impl ServiceUnderTest {
    /// Spawns `bin` with `NOTIFY_SOCKET` pointing at a fresh abstract receiver and `env` set.
    pub fn spawn(bin: &str, env: &[(&str, &str)]) -> Self {
        let receiver = Receiver::bind_unique_abstract().expect("bind receiver");
        let (key, value) = receiver.env();
        let mut cmd = Command::new(bin);
        cmd.env(key, value)
            .env("RUST_BACKTRACE", "0")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        let started = Instant::now();
        let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {bin}: {e}"));
        ServiceUnderTest { child, receiver, started, events: Vec::new(), exit: None }
    }

    /// The service's PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Time since spawn.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Sends `signal` to the service.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill() has no memory preconditions; the PID is our own child's.
        let r = unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        assert_eq!(r, 0, "kill: {}", std::io::Error::last_os_error());
    }

    /// The next datagram within `timeout`, recorded in [`Self::events`]. Barriers are
    /// answered at once, as the manager does.
    pub fn next(&mut self, timeout: Duration) -> Option<Event> {
        let n = self.receiver.recv_timeout(timeout).ok()?;
        let event = Event {
            at: self.started.elapsed(),
            bytes: n.bytes().to_vec(),
            pid: n.pid(),
            barrier: n.is_barrier(),
        };
        drop(n); // closes a barrier's fd: the barrier is answered
        self.events.push(event.clone());
        Some(event)
    }

    /// Waits for a datagram that satisfies `pred`; panics with everything received if none
    /// came within `timeout`.
    pub fn wait_for(&mut self, what: &str, timeout: Duration, pred: impl Fn(&Event) -> bool) -> Event {
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.next(left) {
                Some(e) if pred(&e) => return e,
                Some(_) => {}
                None => break,
            }
        }
        panic!("no datagram with {what} within {timeout:?}; received: {:#?}", self.texts());
    }

    /// Receives everything until the process exited and its last datagrams were read;
    /// returns the exit status. Kills the process if it outlives `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exit.or_else(|| self.child.try_wait().ok().flatten()) {
                self.exit = Some(status);
                while self.next(Duration::from_millis(50)).is_some() {}
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("service still running after {timeout:?}; received: {:#?}", self.texts());
            }
            self.next(Duration::from_millis(20));
        }
    }

    /// Receives for `window` and returns what arrived in it.
    pub fn collect_for(&mut self, window: Duration) -> Vec<Event> {
        let first = self.events.len();
        let deadline = Instant::now() + window;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            self.next(left);
        }
        self.events[first..].to_vec()
    }

    /// The texts of every datagram so far.
    pub fn texts(&self) -> Vec<String> {
        self.events.iter().map(Event::text).collect()
    }

    /// The datagrams received so far that have `line`.
    pub fn with_line(&self, line: &str) -> Vec<&Event> {
        self.events.iter().filter(|e| e.has(line)).collect()
    }
}

impl Drop for ServiceUnderTest {
    fn drop(&mut self) {
        if self.exit.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The exit code, or 128 + signal for a process killed by a signal (as a shell shows it).
pub fn exit_code(status: ExitStatus) -> i32 {
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// `CLOCK_MONOTONIC` now, in µs, as `MONOTONIC_USEC=` carries it.
pub fn monotonic_usec() -> u64 {
    match State::monotonic_now() {
        State::MonotonicUsec(usec) => usec,
        _ => unreachable!("monotonic_now gives MonotonicUsec"),
    }
}
