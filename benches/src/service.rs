//! Part 3: SIGTERM → `STOPPING=1` latency of an `#[sd_service]` service, and what parts 3
//! and 5 share: the service binaries of this package (`src/bin/`), built on demand, and a
//! harness that runs one of them as a child under a [`Receiver`] the way the manager would.
//!
//! One measurement: start a fresh child with `NOTIFY_SOCKET`, wait for `READY=1`, let it
//! settle into its idle sleep ([`SETTLE`]), read `CLOCK_MONOTONIC`, `kill(pid, SIGTERM)`,
//! and read the clock again as soon as `poll(2)` on the receiver returns with the
//! `STOPPING=1` datagram queued. Every measurement needs a new process: a second SIGTERM
//! exits an `#[sd_service]` service at once. The child's exit is watched through a pidfd
//! while the receiver keeps reading, which also answers the exit barrier (`BARRIER=1`, whose
//! descriptor is closed by dropping the notification).
//!
//! Services measured, interleaved one child each per round (the order rotates):
//! - `bench-service-async`: `#[sd_service]` on a tokio `current_thread` main;
//! - `bench-service-sync`: `#[sd_service]` on a sync main whose loop checks
//!   `is_stopping()` every 100 ms;
//! - `bench-handrolled-tokio`: the common pattern without the attribute,
//!   `tokio::signal::unix::signal(SignalKind::terminate())` then `sd_notify::notify` (0.5)
//!   with `STOPPING=1` after the signal future completes — the comparison row.
//!
//! All three run on a socket-file receiver, since `sd-notify` 0.5 cannot reach an abstract
//! address.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sd_notify_core::Receiver;

use crate::stats::{median, quantile};

/// The annotated async service (tokio `current_thread`).
pub const BIN_ASYNC: &str = "bench-service-async";
/// The annotated sync service with a handle.
pub const BIN_SYNC: &str = "bench-service-sync";
/// The hand-rolled tokio service (tokio signal stream + `sd-notify` 0.5).
pub const BIN_HANDROLLED: &str = "bench-handrolled-tokio";
/// `bench-service-async` without the attribute.
pub const BIN_BASELINE_ASYNC: &str = "bench-baseline-async";
/// `bench-service-sync` without the attribute.
pub const BIN_BASELINE_SYNC: &str = "bench-baseline-sync";
/// "hello" without the attribute.
pub const BIN_HELLO_PLAIN: &str = "hello-plain";
/// "hello" with `#[sd_service]` and `#[ready]`.
pub const BIN_HELLO_SERVICE: &str = "hello-service";

/// Pause between `READY=1` and the signal, so that the service is asleep in its idle wait
/// (as a running service is), not still finishing its start.
pub const SETTLE: Duration = Duration::from_millis(5);

/// How long to wait for any one event of a child before giving up on it.
const CHILD_TIMEOUT: Duration = Duration::from_secs(10);

/// A report section plus its rows for the targets table.
#[derive(Debug, Clone, Default)]
pub struct Section {
    /// Markdown for the part's section.
    pub markdown: String,
    /// Rows of the targets table at the top of the report.
    pub summary: Vec<String>,
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Builds every binary of this package in the profile and target directory `exe` (the
/// running `bench-all`) was built in, and returns the directory that holds them.
/// `cargo run --bin bench-all` builds only `bench-all`; the services are built here.
///
/// # Errors
/// When cargo cannot be run or the build fails.
pub fn build_bins(exe: &Path) -> Result<PathBuf, String> {
    let dir = exe.parent().ok_or("bench-all has no parent directory")?.to_path_buf();
    let profile = dir.file_name().and_then(|n| n.to_str()).unwrap_or("release").to_owned();
    let target_dir = dir.parent().ok_or("bench-all is not in a target directory")?;
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let mut cmd = Command::new(cargo());
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--bins")
        .arg("--target-dir")
        .arg(target_dir)
        .arg("--profile")
        .arg(if profile == "debug" { "dev" } else { &profile });
    for var in ["CARGO_TARGET_DIR", "CARGO_BUILD_TARGET_DIR", "CARGO_PRIMARY_PACKAGE"] {
        cmd.env_remove(var);
    }
    let out = cmd.output().map_err(|e| format!("running cargo build: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo build --bins failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    for bin in [
        BIN_ASYNC,
        BIN_SYNC,
        BIN_HANDROLLED,
        BIN_BASELINE_ASYNC,
        BIN_BASELINE_SYNC,
        BIN_HELLO_PLAIN,
        BIN_HELLO_SERVICE,
    ] {
        if !dir.join(bin).is_file() {
            return Err(format!("{} missing after the build", dir.join(bin).display()));
        }
    }
    Ok(dir)
}

/// `CLOCK_MONOTONIC` in nanoseconds.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: valid pointer to a timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// `poll(2)` on `fds` for readability; returns which are readable (all `false` on timeout).
fn poll_readable(fds: &[RawFd], timeout: Duration) -> Result<Vec<bool>, String> {
    let mut pfds: Vec<libc::pollfd> =
        fds.iter().map(|&fd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 }).collect();
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    loop {
        // SAFETY: `pfds` is a valid array of `pfds.len()` pollfds.
        let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
        if n >= 0 {
            return Ok(pfds.iter().map(|p| p.revents != 0).collect());
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("poll: {e}"));
        }
    }
}

/// A pollable descriptor that becomes readable when process `pid` exits.
fn pidfd_open(pid: u32) -> Result<OwnedFd, String> {
    // SAFETY: pidfd_open(pid, 0) takes no pointers.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return Err(format!("pidfd_open: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: a descriptor pidfd_open just returned, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// A service binary as a child under its own receiver.
pub struct Supervised {
    /// The child process.
    pub child: Child,
    /// The receiver its `NOTIFY_SOCKET` names.
    pub receiver: Receiver,
    pidfd: OwnedFd,
}

impl Supervised {
    /// Starts `bin` with `NOTIFY_SOCKET` naming `receiver` (and `env` added); inherited
    /// service-manager variables are removed first.
    ///
    /// # Errors
    /// When the child cannot be started.
    pub fn start(bin: &Path, receiver: Receiver, env: &[(&str, String)]) -> Result<Supervised, String> {
        let (key, value): (&str, OsString) = receiver.env();
        let mut cmd = Command::new(bin);
        for var in
            ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"]
        {
            cmd.env_remove(var);
        }
        cmd.env(key, value).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().map_err(|e| format!("starting {}: {e}", bin.display()))?;
        let pidfd = pidfd_open(child.id())?;
        Ok(Supervised { child, receiver, pidfd })
    }

    /// The child's PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until a datagram with the line `line` arrives (others are read and dropped);
    /// returns the `CLOCK_MONOTONIC` time at which `poll(2)` reported it.
    ///
    /// # Errors
    /// When the child exits first or nothing comes within the timeout.
    pub fn wait_for_line(&mut self, line: &str) -> Result<u64, String> {
        let deadline = Instant::now() + CHILD_TIMEOUT;
        let fd = self.receiver.as_fd().as_raw_fd();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!("no {line} within {CHILD_TIMEOUT:?}"));
            }
            let ready = poll_readable(&[fd], left)?;
            let at = monotonic_ns();
            if !ready[0] {
                continue;
            }
            while let Some(n) = self.receiver.try_recv().map_err(|e| format!("recv: {e}"))? {
                if n.lines().is_ok_and(|l| l.iter().any(|l| l == line)) {
                    return Ok(at);
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("the child exited ({status}) before {line}"));
            }
        }
    }

    /// Reads (and drops: that answers barriers) every datagram until the child has exited;
    /// returns the `CLOCK_MONOTONIC` time its exit was seen and whether it exited with 0.
    ///
    /// # Errors
    /// When the child does not exit within the timeout (it is then killed).
    pub fn wait_exit(&mut self) -> Result<(u64, bool), String> {
        let deadline = Instant::now() + CHILD_TIMEOUT;
        let fds = [self.pidfd.as_raw_fd(), self.receiver.as_fd().as_raw_fd()];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Err(format!("the child did not exit within {CHILD_TIMEOUT:?}"));
            }
            let ready = poll_readable(&fds, left)?;
            let at = monotonic_ns();
            if ready[1] {
                while self.receiver.try_recv().map_err(|e| format!("recv: {e}"))?.is_some() {}
            }
            if ready[0] {
                let status = self.child.wait().map_err(|e| format!("wait: {e}"))?;
                while let Ok(Some(_)) = self.receiver.try_recv() {}
                return Ok((at, status.success()));
            }
        }
    }

    /// Sends `signo` to the child.
    pub fn signal(&self, signo: libc::c_int) -> Result<(), String> {
        // SAFETY: kill() takes no pointers; the PID is our unreaped child's.
        if unsafe { libc::kill(self.pid() as libc::pid_t, signo) } != 0 {
            return Err(format!("kill: {}", std::io::Error::last_os_error()));
        }
        Ok(())
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One service of part 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// `bench-service-async`.
    Async,
    /// `bench-service-sync`.
    Sync,
    /// `bench-handrolled-tokio`.
    HandRolled,
}

impl Subject {
    /// Every subject, in report order.
    pub const ALL: [Subject; 3] = [Subject::Async, Subject::Sync, Subject::HandRolled];

    /// The binary.
    pub fn bin(self) -> &'static str {
        match self {
            Subject::Async => BIN_ASYNC,
            Subject::Sync => BIN_SYNC,
            Subject::HandRolled => BIN_HANDROLLED,
        }
    }

    /// Report label.
    pub fn label(self) -> &'static str {
        match self {
            Subject::Async => "ours: `#[sd_service]` async (tokio `current_thread`)",
            Subject::Sync => "ours: `#[sd_service]` sync with handle (`is_stopping()` loop, 100 ms)",
            Subject::HandRolled => {
                "hand-rolled: tokio `signal(SignalKind::terminate())` + `sd_notify::notify` 0.5 after `recv()`"
            }
        }
    }
}

/// What one subject gave.
#[derive(Debug, Clone)]
pub struct Series {
    /// Which service.
    pub subject: Subject,
    /// SIGTERM → `STOPPING=1` arrival, µs, one per process.
    pub latency_us: Vec<f64>,
    /// SIGTERM → exit seen, ms, one per process.
    pub exit_ms: Vec<f64>,
    /// Children that exited non-zero.
    pub nonzero_exits: usize,
    /// Failed runs and why (the first few).
    pub failures: Vec<String>,
    /// Failed runs in all.
    pub failed: usize,
}

/// How many signals, each to its own process.
#[derive(Debug, Clone, Copy)]
pub struct LatencyConfig {
    /// Async `#[sd_service]` processes.
    pub async_n: usize,
    /// Sync `#[sd_service]` processes.
    pub sync_n: usize,
    /// Hand-rolled tokio processes.
    pub handrolled_n: usize,
}

impl LatencyConfig {
    /// The full run.
    pub const FULL: LatencyConfig = LatencyConfig { async_n: 1000, sync_n: 300, handrolled_n: 1000 };
    /// `--quick`.
    pub const QUICK: LatencyConfig = LatencyConfig { async_n: 100, sync_n: 30, handrolled_n: 100 };

    fn count(&self, s: Subject) -> usize {
        match s {
            Subject::Async => self.async_n,
            Subject::Sync => self.sync_n,
            Subject::HandRolled => self.handrolled_n,
        }
    }
}

/// One process: start, READY, settle, SIGTERM, STOPPING; returns (latency µs, exit ms, exit ok).
fn one_stop(bin: &Path, receiver: Receiver) -> Result<(f64, f64, bool), String> {
    let mut s = Supervised::start(bin, receiver, &[])?;
    s.wait_for_line("READY=1")?;
    std::thread::sleep(SETTLE);
    // Whatever came after READY (nothing, for these services) is not the answer.
    while let Ok(Some(_)) = s.receiver.try_recv() {}
    let t0 = monotonic_ns();
    s.signal(libc::SIGTERM)?;
    let t1 = s.wait_for_line("STOPPING=1")?;
    let (t2, ok) = s.wait_exit()?;
    Ok((t1.saturating_sub(t0) as f64 / 1e3, t2.saturating_sub(t0) as f64 / 1e6, ok))
}

/// Runs part 3: every subject's processes, interleaved.
///
/// # Errors
/// When no receiver can be bound.
pub fn measure_latency(bins: &Path, cfg: LatencyConfig) -> Result<(Vec<Series>, Duration), String> {
    let started = Instant::now();
    let mut series: Vec<Series> = Subject::ALL
        .iter()
        .map(|&subject| Series {
            subject,
            latency_us: Vec::new(),
            exit_ms: Vec::new(),
            nonzero_exits: 0,
            failures: Vec::new(),
            failed: 0,
        })
        .collect();
    let rounds = Subject::ALL.iter().map(|&s| cfg.count(s)).max().unwrap_or(0);
    for round in 0..rounds {
        for k in 0..series.len() {
            let i = (round + k) % series.len();
            let subject = series[i].subject;
            // Spread the smaller counts evenly over the rounds.
            let n = cfg.count(subject);
            if n == 0 || (round * n) / rounds == ((round + 1) * n) / rounds {
                continue;
            }
            let receiver = Receiver::bind_unique_path().map_err(|e| format!("binding a receiver: {e}"))?;
            let s = &mut series[i];
            match one_stop(&bins.join(subject.bin()), receiver) {
                Ok((lat, exit, ok)) => {
                    s.latency_us.push(lat);
                    s.exit_ms.push(exit);
                    s.nonzero_exits += usize::from(!ok);
                }
                Err(e) => {
                    s.failed += 1;
                    if s.failures.len() < 3 {
                        s.failures.push(e);
                    }
                }
            }
        }
        if (round + 1) % 250 == 0 {
            println!("  {} / {rounds} rounds, {:.0} s", round + 1, started.elapsed().as_secs_f64());
        }
    }
    Ok((series, started.elapsed()))
}

/// Median target for ours, µs.
pub const TARGET_MEDIAN_US: f64 = 100.0;
/// p99 target for ours, µs.
pub const TARGET_P99_US: f64 = 1000.0;

fn fmt_us(x: f64) -> String {
    if x.is_nan() { "—".into() } else { format!("{x:.0}") }
}

/// Runs part 3 and writes its section.
pub fn sigterm_to_stopping(bins: &Path, quick: bool) -> Section {
    let cfg = if quick { LatencyConfig::QUICK } else { LatencyConfig::FULL };
    println!(
        "part 3: SIGTERM → STOPPING=1 latency ({} async + {} sync + {} hand-rolled processes)",
        cfg.async_n, cfg.sync_n, cfg.handrolled_n
    );
    let (series, elapsed) = match measure_latency(bins, cfg) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("part 3: {e}");
            return Section { markdown: format!("not measured: {e}\n"), summary: Vec::new() };
        }
    };
    latency_section(&series, elapsed)
}

fn latency_section(series: &[Series], elapsed: Duration) -> Section {
    let hand = series.iter().find(|s| s.subject == Subject::HandRolled);
    let hand_median = hand.map_or(f64::NAN, |h| median(&h.latency_us));
    let hand_p99 = hand.map_or(f64::NAN, |h| quantile(&h.latency_us, 0.99));
    let mut md = String::from(
        "Each signal goes to a fresh process (a second SIGTERM makes an `#[sd_service]` service exit at once). The parent starts the service with `NOTIFY_SOCKET` naming its receiver (`sd_notify_core::Receiver`, a socket file: `sd-notify` 0.5 cannot reach abstract addresses), waits for `READY=1`, lets it settle 5 ms into its idle wait, reads `CLOCK_MONOTONIC`, sends `kill(pid, SIGTERM)` and reads the clock again as soon as `poll(2)` on the receiver returns with `STOPPING=1` queued. The three services run interleaved (one process of each per round, order rotated), so they see the same machine.\n\n",
    );
    md += "| service | signals | µs to `STOPPING=1`, median (p25–p75) | p99 µs | max µs | ÷ hand-rolled (median) | ÷ hand-rolled (p99) | SIGTERM → exit, ms, median |\n|---|---:|---:|---:|---:|---:|---:|---:|\n";
    let mut summary = Vec::new();
    let mut notes = Vec::new();
    for s in series {
        let v = &s.latency_us;
        let (m, p99) = (median(v), quantile(v, 0.99));
        let max = v.iter().copied().fold(f64::NAN, f64::max);
        let ratio = |x: f64, h: f64| {
            if s.subject == Subject::HandRolled {
                "1.00×".to_owned()
            } else if x.is_nan() || h.is_nan() {
                "—".to_owned()
            } else {
                format!("{:.2}×", x / h)
            }
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} ({}–{}) | {} | {} | {} | {} | {:.1} |",
            s.subject.label(),
            v.len(),
            fmt_us(m),
            fmt_us(quantile(v, 0.25)),
            fmt_us(quantile(v, 0.75)),
            fmt_us(p99),
            fmt_us(max),
            ratio(m, hand_median),
            ratio(p99, hand_p99),
            median(&s.exit_ms)
        );
        println!(
            "  {:<12} n {:>4}  median {:>6} µs  p99 {:>6} µs  max {:>6} µs  exit {:.1} ms  failed {}",
            s.subject.bin(),
            v.len(),
            fmt_us(m),
            fmt_us(p99),
            fmt_us(max),
            median(&s.exit_ms),
            s.failed
        );
        if s.failed > 0 {
            notes.push(format!(
                "- {}: {} of {} runs failed: {}",
                s.subject.label(),
                s.failed,
                s.failed + v.len(),
                s.failures.join("; ")
            ));
        }
        if s.nonzero_exits > 0 {
            notes.push(format!("- {}: {} processes exited non-zero", s.subject.label(), s.nonzero_exits));
        }
        if s.subject != Subject::HandRolled && !v.is_empty() {
            let cmp = format!(
                "hand-rolled tokio + `sd-notify` 0.5: {} µs, {}",
                fmt_us(hand_median),
                ratio(m, hand_median)
            );
            summary.push(format!(
                "| {} | `STOPPING=1` | µs from `kill(SIGTERM)` to arrival, median | ≤ {TARGET_MEDIAN_US:.0} µs | {} µs ({cmp}) | {} |",
                s.subject.label(),
                fmt_us(m),
                if m <= TARGET_MEDIAN_US { "met" } else { "**missed**" }
            ));
            let cmp99 = format!("hand-rolled: {} µs, {}", fmt_us(hand_p99), ratio(p99, hand_p99));
            summary.push(format!(
                "| {} | `STOPPING=1` | µs from `kill(SIGTERM)` to arrival, p99 | ≤ {:.0} ms | {} µs (max {} µs; {cmp99}) | {} |",
                s.subject.label(),
                TARGET_P99_US / 1000.0,
                fmt_us(p99),
                fmt_us(max),
                if p99 <= TARGET_P99_US { "met" } else { "**missed**" }
            ));
        }
    }
    let _ = write!(
        md,
        "\nPart wall time {:.0} s. µs to `STOPPING=1` covers signal delivery, the service's reaction and the datagram's way to a receiver blocked in `poll(2)`, including the wake-up of that receiver (both sides are scheduled by the same 2 CPUs). ÷ hand-rolled: our figure divided by the hand-rolled service's from the same run. SIGTERM → exit: until the pidfd of the child became readable (ours then sends `BARRIER=1` and waits for the receiver to close its descriptor, which the harness does as soon as it reads it; the sync loop notices the stop at its next 100 ms turn).\n\nWhere the time goes: ours sends `STOPPING=1` from the signal handler itself (one `send(2)` of a pre-encoded datagram on the already-connected socket), so nothing has to be scheduled in the service before it leaves. The hand-rolled service's handler (signal-hook-registry, inside tokio) only writes to a pipe; tokio's `epoll_wait` then returns, the driver dispatches the signal to the `Signal` stream, the main task is polled, and `sd_notify::notify` opens a socket, connects, writes and closes it.\n",
        elapsed.as_secs_f64()
    );
    if !notes.is_empty() {
        md += "\n";
        md += &notes.join("\n");
        md += "\n";
    }
    Section { markdown: md, summary }
}
