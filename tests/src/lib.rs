//! Shared pieces of the test suite: the knobs the fixture services read, and a harness that
//! runs a service binary under a [`Receiver`] the way systemd would supervise it.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use sd_notify_core::{NotifyAddress, NotifyState, Receiver};

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
    /// `None` while the address in `NOTIFY_SOCKET` is not bound yet (see
    /// [`Launch::unbound`]), or without `NOTIFY_SOCKET`.
    receiver: Option<Receiver>,
    /// The address of [`Launch::unbound`], bound by [`ServiceUnderTest::bind_late`].
    late: Option<NotifyAddress>,
    started: Instant,
    /// Every datagram received so far, in order.
    pub events: Vec<Event>,
    exit: Option<ExitStatus>,
    output: Option<Output>,
    stdin: Option<ChildStdin>,
}

/// One line the service printed on stdout.
#[derive(Debug, Clone)]
pub struct Line {
    /// When the test read it, since the service was spawned.
    pub at: Duration,
    /// The line, without its newline.
    pub text: String,
}

/// The captured stdout (line by line, as it comes) and stderr (whole) of a [`Launch`]ed service.
struct Output {
    stdout: mpsc::Receiver<Line>,
    /// Every stdout line read so far.
    lines: Vec<Line>,
    stderr: Arc<Mutex<Vec<u8>>>,
    stderr_reader: Option<std::thread::JoinHandle<()>>,
}

/// How to start a [`ServiceUnderTest`] beyond [`ServiceUnderTest::spawn`]: a receiver made
/// by the test (e.g. with a full queue), an address bound only later, no `NOTIFY_SOCKET` at
/// all, `WATCHDOG_PID` set to the service's own PID, stdin to write commands to. Stdout and
/// stderr are always captured ([`ServiceUnderTest::stdout_line`], [`ServiceUnderTest::stderr`]).
pub struct Launch {
    bin: String,
    env: Vec<(String, String)>,
    notify: Notify,
    watchdog_pid_self: bool,
    stdin: bool,
}

enum Notify {
    Fresh,
    Given(Receiver),
    Unbound(NotifyAddress),
    Unset,
}

impl Launch {
    /// `bin` under a fresh abstract receiver, with `RUST_BACKTRACE=0` and without the
    /// `WATCHDOG_*`/`LISTEN_*` variables this test process might have inherited.
    pub fn new(bin: &str) -> Self {
        Launch {
            bin: bin.to_owned(),
            env: Vec::new(),
            notify: Notify::Fresh,
            watchdog_pid_self: false,
            stdin: false,
        }
    }

    /// Sets `key=value` in the service's environment.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Sets each pair in the service's environment.
    pub fn envs(mut self, pairs: &[(&str, &str)]) -> Self {
        self.env.extend(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        self
    }

    /// Notifications go to `receiver` (bound, and perhaps filled, by the test).
    pub fn receiver(mut self, receiver: Receiver) -> Self {
        self.notify = Notify::Given(receiver);
        self
    }

    /// `NOTIFY_SOCKET` names `address`, which nobody has bound yet: the manager "appears"
    /// when the test calls [`ServiceUnderTest::bind_late`].
    pub fn unbound(mut self, address: NotifyAddress) -> Self {
        self.notify = Notify::Unbound(address);
        self
    }

    /// No `NOTIFY_SOCKET` at all: not supervised (a person running it in a terminal).
    pub fn without_notify_socket(mut self) -> Self {
        self.notify = Notify::Unset;
        self
    }

    /// `WATCHDOG_PID` set to the service's own PID (through `sh -c 'exec ...'`, which keeps
    /// the PID).
    pub fn watchdog_pid_self(mut self) -> Self {
        self.watchdog_pid_self = true;
        self
    }

    /// A pipe on stdin, for [`ServiceUnderTest::write_stdin`].
    pub fn stdin(mut self) -> Self {
        self.stdin = true;
        self
    }

    /// Spawns the service.
    pub fn start(self) -> ServiceUnderTest {
        let mut cmd = if self.watchdog_pid_self {
            let mut sh = Command::new("/bin/sh");
            sh.args(["-c", "WATCHDOG_PID=$$; export WATCHDOG_PID; exec \"$0\""]).arg(&self.bin);
            sh
        } else {
            Command::new(&self.bin)
        };
        for var in
            ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"]
        {
            cmd.env_remove(var);
        }
        let (receiver, late) = match self.notify {
            Notify::Fresh => (Some(Receiver::bind_unique_abstract().expect("bind receiver")), None),
            Notify::Given(r) => (Some(r), None),
            Notify::Unbound(address) => (None, Some(address)),
            Notify::Unset => (None, None),
        };
        if let Some(r) = &receiver {
            let (key, value) = r.env();
            cmd.env(key, value);
        }
        if let Some(address) = &late {
            cmd.env("NOTIFY_SOCKET", address.to_string());
        }
        cmd.env("RUST_BACKTRACE", "0")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(if self.stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {}: {e}", self.bin));
        let (tx, stdout) = mpsc::channel();
        let out = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            for text in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(Line { at: started.elapsed(), text }).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut err = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&stderr);
        let stderr_reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = err.read(&mut buf) {
                sink.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(&buf[..n]);
            }
        });
        let stdin = child.stdin.take();
        ServiceUnderTest {
            child,
            receiver,
            late,
            started,
            events: Vec::new(),
            exit: None,
            output: Some(Output { stdout, lines: Vec::new(), stderr, stderr_reader: Some(stderr_reader) }),
            stdin,
        }
    }
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
        ServiceUnderTest {
            child,
            receiver: Some(receiver),
            late: None,
            started,
            events: Vec::new(),
            exit: None,
            output: None,
            stdin: None,
        }
    }

    /// Binds the receiver at the address of [`Launch::unbound`]: from now on the service's
    /// manager exists.
    pub fn bind_late(&mut self) {
        let address = self.late.take().expect("launched with Launch::unbound, bound once");
        let shown = address.to_string();
        self.receiver = Some(Receiver::bind(address).unwrap_or_else(|e| panic!("bind {shown}: {e:?}")));
    }

    /// The receiver (bound), e.g. to fill its queue or to read it directly.
    pub fn receiver(&self) -> &Receiver {
        self.receiver.as_ref().expect("a bound receiver")
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
        let Some(receiver) = &self.receiver else {
            std::thread::sleep(timeout); // nothing can arrive before the receiver is bound
            return None;
        };
        let n = receiver.recv_timeout(timeout).ok()?;
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

    /// Waits until the process exited WITHOUT reading a single datagram (a manager that
    /// never reads); kills it and panics if it outlives `timeout`.
    pub fn wait_exit_unread(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exit.or_else(|| self.child.try_wait().ok().flatten()) {
                self.exit = Some(status);
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("service still running after {timeout:?} (receiver not read)");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// The process's exit status if it has exited (without reading anything).
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().ok().flatten();
        }
        self.exit
    }

    /// The next stdout line that satisfies `pred`, within `timeout` (`None` otherwise).
    /// Lines that do not match are kept in [`Self::stdout_lines`].
    pub fn stdout_line_within(&mut self, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<Line> {
        let output = self.output.as_mut().expect("launched with Launch (stdout captured)");
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match output.stdout.recv_timeout(left) {
                Ok(line) => {
                    output.lines.push(line.clone());
                    if pred(&line.text) {
                        return Some(line);
                    }
                }
                Err(_) => break,
            }
        }
        None
    }

    /// The next stdout line that satisfies `pred`; panics with stdout and stderr so far if
    /// none came within `timeout`.
    pub fn stdout_line(&mut self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) -> Line {
        match self.stdout_line_within(timeout, pred) {
            Some(line) => line,
            None => panic!(
                "no stdout line with {what} within {timeout:?}; stdout: {:#?}; stderr: {}; datagrams: {:#?}",
                self.stdout_lines(),
                self.stderr(),
                self.texts()
            ),
        }
    }

    /// The `CLOCK_MONOTONIC` µs of the fixture's [`mark`]`(label)` line (waits for it).
    pub fn mark(&mut self, label: &str, timeout: Duration) -> u64 {
        let prefix = format!("T {label} ");
        let line = self.stdout_line(&prefix, timeout, |l| l.starts_with(&prefix));
        line.text[prefix.len()..].parse().expect("T <label> <usec>")
    }

    /// Every stdout line read so far.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.output.as_ref().map(|o| o.lines.iter().map(|l| l.text.clone()).collect()).unwrap_or_default()
    }

    /// Stderr so far (all of it once the process has exited and [`Self::wait_exit`] or
    /// [`Self::wait_exit_unread`] returned).
    pub fn stderr(&mut self) -> String {
        let Some(output) = self.output.as_mut() else { return String::new() };
        if self.exit.is_some() {
            if let Some(reader) = output.stderr_reader.take() {
                let _ = reader.join(); // ends at EOF: the process (and its children) closed stderr
            }
        }
        String::from_utf8_lossy(&output.stderr.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }

    /// Writes `line` and a newline to the service's stdin ([`Launch::stdin`]).
    pub fn write_stdin(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("launched with Launch::stdin");
        writeln!(stdin, "{line}").and_then(|()| stdin.flush()).expect("write to the service's stdin");
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

/// For fixtures: prints `T <label> <CLOCK_MONOTONIC µs>` on stdout (flushed), the time
/// stamp [`ServiceUnderTest::mark`] reads. The clock is system-wide, so the test compares
/// it with its own [`monotonic_usec`].
pub fn mark(label: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "T {label} {}", monotonic_usec());
    let _ = out.flush();
}

/// Fills `receiver`'s queue from this process: non-blocking sends of `X_FILL=<n>` until the
/// kernel says `EAGAIN` (the queue is full; `net.unix.max_dgram_qlen` datagrams, 10 by
/// default, or more). Returns how many were queued. Nothing more can be queued by anyone
/// until the receiver reads.
pub fn fill_queue(receiver: &Receiver) -> usize {
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let sender = UnixDatagram::unbound().expect("socket");
    sender.set_nonblocking(true).expect("O_NONBLOCK");
    let address = receiver.address();
    let to = if let Some(path) = address.as_path() {
        SocketAddr::from_pathname(path).expect("path address")
    } else if let Some(name) = address.as_abstract_name() {
        use std::os::linux::net::SocketAddrExt;
        SocketAddr::from_abstract_name(name).expect("abstract address")
    } else {
        panic!("cannot fill {address}")
    };
    let mut n = 0;
    loop {
        match sender.send_to_addr(format!("X_FILL={n}").as_bytes(), &to) {
            Ok(_) => n += 1,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("filling the queue: {e}"),
        }
        assert!(n < 100_000, "the queue never filled");
    }
    n
}

/// `CLOCK_MONOTONIC` now, in µs, as `MONOTONIC_USEC=` carries it.
pub fn monotonic_usec() -> u64 {
    match NotifyState::monotonic_now() {
        NotifyState::MonotonicUsec(usec) => usec,
        _ => unreachable!("monotonic_now gives MonotonicUsec"),
    }
}

/// For the e2e stress fixtures: appends `<event> <CLOCK_MONOTONIC µs>` to the file named by
/// `STRESS_LOG` (nothing without it), which the case reads against the manager's journal.
pub fn stress_record(event: &str) {
    let Some(path) = std::env::var_os("STRESS_LOG") else { return };
    let line = format!("{event} {}\n", monotonic_usec());
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        eprintln!("STRESS_LOG {}: {e}", path.to_string_lossy());
    }
}
