//! Part 3: start-up (spawn → `READY=1`) and SIGTERM → `STOPPING=1` latency of
//! `#[sd_service]` services beside hand-rolled ones on the same runtimes, without load and
//! with two CPU hogs, and what parts 3 and 5 share: the service binaries of this package
//! (`src/bin/`), built on demand, and a harness that runs one of them as a child under a
//! [`Receiver`] the way the manager would.
//!
//! One measurement: read `CLOCK_MONOTONIC`, start a fresh child with `NOTIFY_SOCKET`, read the
//! clock when `READY=1` arrives, let it settle into its idle sleep ([`SETTLE`]), read the
//! clock, `kill(pid, SIGTERM)`, and read the clock again as soon as `poll(2)` on the receiver
//! returns with the `STOPPING=1` datagram queued. Every measurement needs a new process: a
//! second SIGTERM exits an `#[sd_service]` service at once. The child's exit is watched
//! through a pidfd while the receiver keeps reading, which also answers the exit barrier
//! (`BARRIER=1`, whose descriptor is closed by dropping the notification).
//!
//! Services measured, interleaved (see [`measure_latency`]):
//! - `bench-service-async` / `bench-service-async-mt`: `#[sd_service]` on a tokio
//!   `current_thread` / `multi_thread` main;
//! - `bench-service-sync`: `#[sd_service]` on a sync main whose loop checks
//!   `is_stopping()` every 100 ms;
//! - `bench-handrolled-tokio` / `bench-handrolled-tokio-mt`: the common pattern without the
//!   attribute, `tokio::signal::unix::signal(SignalKind::terminate())` then `sd_notify::notify`
//!   (0.5) with `STOPPING=1` after the signal future completes — the comparison rows;
//! - `bench-handrolled-sync`: a SIGTERM handler that sets a flag, a 100 ms loop that checks it
//!   and then sends `STOPPING=1` with `sd-notify` 0.5.
//!
//! All run on a socket-file receiver, since `sd-notify` 0.5 cannot reach an abstract
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
/// `bench-service-async` on a tokio `multi_thread` runtime.
pub const BIN_ASYNC_MT: &str = "bench-service-async-mt";
/// `bench-handrolled-tokio` on a tokio `multi_thread` runtime.
pub const BIN_HANDROLLED_MT: &str = "bench-handrolled-tokio-mt";
/// The hand-rolled sync service (a flag set by a SIGTERM handler, checked by a 100 ms loop).
pub const BIN_HANDROLLED_SYNC: &str = "bench-handrolled-sync";
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

/// The environment variable naming a directory of already built service binaries to
/// measure instead of building this package's (e.g. `target/release` of a checkout of
/// another commit, for a before/after comparison).
pub const BINS_ENV: &str = "BENCH_BINS_DIR";

/// Builds every binary of this package in the profile and target directory `exe` (the
/// running `bench-all`) was built in, and returns the directory that holds them.
/// `cargo run --bin bench-all` builds only `bench-all`; the services are built here.
///
/// # Errors
/// When cargo cannot be run or the build fails.
pub fn build_bins(exe: &Path) -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os(BINS_ENV) {
        // Binaries built elsewhere (another commit's, for a before/after comparison).
        return Ok(PathBuf::from(dir));
    }
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
        BIN_ASYNC_MT,
        BIN_HANDROLLED_MT,
        BIN_HANDROLLED_SYNC,
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
        Supervised::start_with(bin, &[], receiver, env)
    }

    /// [`Supervised::start`] with arguments.
    ///
    /// # Errors
    /// When the child cannot be started.
    pub fn start_with(
        bin: &Path,
        args: &[OsString],
        receiver: Receiver,
        env: &[(&str, String)],
    ) -> Result<Supervised, String> {
        let (key, value): (&str, OsString) = receiver.env();
        let mut cmd = Command::new(bin);
        cmd.args(args);
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
    /// `bench-handrolled-tokio`.
    HandRolled,
    /// `bench-service-async-mt`.
    AsyncMt,
    /// `bench-handrolled-tokio-mt`.
    HandRolledMt,
    /// `bench-service-sync`.
    Sync,
    /// `bench-handrolled-sync`.
    HandRolledSync,
}

impl Subject {
    /// Every subject, in report order (each of ours followed by its hand-rolled peer).
    pub const ALL: [Subject; 6] = [
        Subject::Async,
        Subject::HandRolled,
        Subject::AsyncMt,
        Subject::HandRolledMt,
        Subject::Sync,
        Subject::HandRolledSync,
    ];

    /// The binary.
    pub fn bin(self) -> &'static str {
        match self {
            Subject::Async => BIN_ASYNC,
            Subject::HandRolled => BIN_HANDROLLED,
            Subject::AsyncMt => BIN_ASYNC_MT,
            Subject::HandRolledMt => BIN_HANDROLLED_MT,
            Subject::Sync => BIN_SYNC,
            Subject::HandRolledSync => BIN_HANDROLLED_SYNC,
        }
    }

    /// Whether this is one of ours (`#[sd_service]`).
    pub fn is_ours(self) -> bool {
        matches!(self, Subject::Async | Subject::AsyncMt | Subject::Sync)
    }

    /// The hand-rolled service on the same runtime (itself for a hand-rolled one).
    pub fn peer(self) -> Subject {
        match self {
            Subject::Async => Subject::HandRolled,
            Subject::AsyncMt => Subject::HandRolledMt,
            Subject::Sync => Subject::HandRolledSync,
            other => other,
        }
    }

    /// Whether its stop goes through a 100 ms loop (fewer processes of it are run).
    fn is_sync(self) -> bool {
        matches!(self, Subject::Sync | Subject::HandRolledSync)
    }

    /// Report label.
    pub fn label(self) -> &'static str {
        match self {
            Subject::Async => "ours: `#[sd_service]` async, tokio `current_thread`",
            Subject::HandRolled => {
                "hand-rolled: tokio `current_thread`, `signal(SignalKind::terminate())` + `sd_notify::notify` 0.5 after `recv()`"
            }
            Subject::AsyncMt => "ours: `#[sd_service]` async, tokio `multi_thread` (2 workers)",
            Subject::HandRolledMt => "hand-rolled: the same on tokio `multi_thread` (2 workers)",
            Subject::Sync => "ours: `#[sd_service]` sync with handle (`is_stopping()` loop, 100 ms)",
            Subject::HandRolledSync => {
                "hand-rolled sync: SIGTERM handler sets a flag, 100 ms loop checks it, then `sd_notify::notify` 0.5"
            }
        }
    }
}

/// Whether two CPU hogs run while a process is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Regime {
    /// Nothing of ours besides the harness and the service.
    Quiet,
    /// Two `sh -c 'while :; do :; done'` processes (one per CPU of the bench machine).
    Loaded,
}

impl Regime {
    /// Both, in report order.
    pub const ALL: [Regime; 2] = [Regime::Quiet, Regime::Loaded];

    /// Report label.
    pub fn label(self) -> &'static str {
        match self {
            Regime::Quiet => "quiet",
            Regime::Loaded => "2 CPU hogs",
        }
    }
}

/// Busy-looping shells, killed (by their own PIDs) when dropped.
struct Hogs(Vec<Child>);

impl Hogs {
    fn start(n: usize) -> Result<Hogs, String> {
        let mut hogs = Hogs(Vec::new());
        for _ in 0..n {
            let child = Command::new("sh")
                .args(["-c", "while :; do :; done"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("starting a CPU hog: {e}"))?;
            hogs.0.push(child);
        }
        Ok(hogs)
    }
}

impl Drop for Hogs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// How many CPU hogs the loaded regime runs.
pub const HOGS: usize = 2;

/// What one subject gave in one regime.
#[derive(Debug, Clone)]
pub struct Series {
    /// Which service.
    pub subject: Subject,
    /// Under which load.
    pub regime: Regime,
    /// SIGTERM → `STOPPING=1` arrival, µs, one per process, by round (`NaN` where it did not run).
    pub latency_us: Vec<f64>,
    /// Spawn → `READY=1` arrival, µs, by round (`NaN` where it did not run).
    pub startup_us: Vec<f64>,
    /// SIGTERM → exit seen, ms, one per process.
    pub exit_ms: Vec<f64>,
    /// Children that exited non-zero.
    pub nonzero_exits: usize,
    /// Failed runs and why (the first few).
    pub failures: Vec<String>,
    /// Failed runs in all.
    pub failed: usize,
}

impl Series {
    fn finite(v: &[f64]) -> Vec<f64> {
        v.iter().copied().filter(|x| x.is_finite()).collect()
    }
}

/// How many rounds; every async subject runs once per regime per round, the sync ones in
/// every `sync_every`-th round (their stop takes a loop turn of 100 ms).
#[derive(Debug, Clone, Copy)]
pub struct LatencyConfig {
    /// Rounds.
    pub rounds: usize,
    /// Sync subjects run in rounds `r` with `r % sync_every == 0`.
    pub sync_every: usize,
    /// Rounds of the start-up measurement alone (every subject once per round, no load).
    pub startup_rounds: usize,
}

impl LatencyConfig {
    /// The full run.
    pub const FULL: LatencyConfig = LatencyConfig { rounds: 200, sync_every: 4, startup_rounds: 2000 };
    /// `--quick`.
    pub const QUICK: LatencyConfig = LatencyConfig { rounds: 40, sync_every: 4, startup_rounds: 200 };
}

/// What one process gave.
struct Stop {
    startup_us: f64,
    latency_us: f64,
    exit_ms: f64,
    exit_ok: bool,
}

/// One process: spawn, READY, settle, SIGTERM, STOPPING, exit.
fn one_stop(bin: &Path, receiver: Receiver) -> Result<Stop, String> {
    let spawned = monotonic_ns();
    let mut s = Supervised::start(bin, receiver, &[])?;
    let ready = s.wait_for_line("READY=1")?;
    std::thread::sleep(SETTLE);
    // Whatever came after READY (nothing, for these services) is not the answer.
    while let Ok(Some(_)) = s.receiver.try_recv() {}
    let t0 = monotonic_ns();
    s.signal(libc::SIGTERM)?;
    let t1 = s.wait_for_line("STOPPING=1")?;
    let (t2, exit_ok) = s.wait_exit()?;
    Ok(Stop {
        startup_us: ready.saturating_sub(spawned) as f64 / 1e3,
        latency_us: t1.saturating_sub(t0) as f64 / 1e3,
        exit_ms: t2.saturating_sub(t0) as f64 / 1e6,
        exit_ok,
    })
}

/// Start-up alone: in every round, every subject once (order rotating), no load; spawn →
/// `READY=1` arrival in µs by round (`NaN` where a run failed). The child is killed with
/// SIGKILL once `READY=1` is in: thousands of rounds take seconds, which the per-round
/// noise of a shared machine (hundreds of µs) needs for a median within a few µs.
///
/// # Errors
/// When no receiver can be bound.
pub fn measure_startup(bins: &Path, rounds: usize) -> Result<Vec<(Subject, Vec<f64>)>, String> {
    let mut out: Vec<(Subject, Vec<f64>)> =
        Subject::ALL.iter().map(|&s| (s, vec![f64::NAN; rounds])).collect();
    for round in 0..rounds {
        for k in 0..out.len() {
            let i = (round + k) % out.len();
            let subject = out[i].0;
            let receiver = Receiver::bind_unique_path().map_err(|e| format!("binding a receiver: {e}"))?;
            let spawned = monotonic_ns();
            let Ok(mut s) = Supervised::start(&bins.join(subject.bin()), receiver, &[]) else { continue };
            if let Ok(ready) = s.wait_for_line("READY=1") {
                out[i].1[round] = ready.saturating_sub(spawned) as f64 / 1e3;
            }
            let _ = s.child.kill();
            let _ = s.child.wait();
        }
    }
    Ok(out)
}

/// Runs part 3: in every round, every subject once without load and once with [`HOGS`] CPU
/// hogs, the order of the regimes alternating and the order of the subjects rotating.
///
/// # Errors
/// When no receiver can be bound or no hog can be started.
pub fn measure_latency(bins: &Path, cfg: LatencyConfig) -> Result<(Vec<Series>, Duration), String> {
    let started = Instant::now();
    let mut series: Vec<Series> = Regime::ALL
        .iter()
        .flat_map(|&regime| Subject::ALL.iter().map(move |&subject| (regime, subject)))
        .map(|(regime, subject)| Series {
            subject,
            regime,
            latency_us: vec![f64::NAN; cfg.rounds],
            startup_us: vec![f64::NAN; cfg.rounds],
            exit_ms: Vec::new(),
            nonzero_exits: 0,
            failures: Vec::new(),
            failed: 0,
        })
        .collect();
    let per_regime = Subject::ALL.len();
    for round in 0..cfg.rounds {
        for r in 0..Regime::ALL.len() {
            let regime = Regime::ALL[(round + r) % Regime::ALL.len()];
            let _hogs = match regime {
                Regime::Quiet => None,
                Regime::Loaded => {
                    let hogs = Hogs::start(HOGS)?;
                    // Let them take the CPUs before the first process starts.
                    std::thread::sleep(Duration::from_millis(20));
                    Some(hogs)
                }
            };
            let base = if regime == Regime::Quiet { 0 } else { per_regime };
            for k in 0..per_regime {
                let i = base + (round + k) % per_regime;
                let subject = series[i].subject;
                if subject.is_sync() && round % cfg.sync_every != 0 {
                    continue;
                }
                let receiver =
                    Receiver::bind_unique_path().map_err(|e| format!("binding a receiver: {e}"))?;
                let s = &mut series[i];
                match one_stop(&bins.join(subject.bin()), receiver) {
                    Ok(stop) => {
                        s.latency_us[round] = stop.latency_us;
                        s.startup_us[round] = stop.startup_us;
                        s.exit_ms.push(stop.exit_ms);
                        s.nonzero_exits += usize::from(!stop.exit_ok);
                    }
                    Err(e) => {
                        s.failed += 1;
                        if s.failures.len() < 3 {
                            s.failures.push(e);
                        }
                    }
                }
            }
        }
        if (round + 1) % 50 == 0 {
            println!("  {} / {} rounds, {:.0} s", round + 1, cfg.rounds, started.elapsed().as_secs_f64());
        }
    }
    Ok((series, started.elapsed()))
}

/// p99 target for ours without load, µs.
pub const TARGET_P99_US: f64 = 1000.0;
/// Target for ours under load: p99 at most this fraction of the hand-rolled service's p99
/// on the same runtime under the same load.
pub const TARGET_LOADED_P99_RATIO: f64 = 0.5;
/// Start-up target: ours at most this many µs later at `READY=1` than the hand-rolled
/// service on the same runtime (median of the per-round differences, no load).
pub const TARGET_STARTUP_EXTRA_US: f64 = 20.0;

/// The start-up verdict on wall time: met or missed on the median, and inconclusive when the
/// middle half of the per-round differences is far wider than the target (the machine's
/// noise then decides the median, not the services).
fn startup_verdict(median: f64, p25: f64, p75: f64, n: usize) -> String {
    // Standard error of a median: 1.25 σ / √n, σ from the interquartile range.
    let se = 1.25 * ((p75 - p25) / 1.35) / (n.max(1) as f64).sqrt();
    let verdict = if median <= TARGET_STARTUP_EXTRA_US { "met" } else { "missed" };
    if median + 2.0 * se <= TARGET_STARTUP_EXTRA_US {
        format!("met (± {se:.0} µs standard error)")
    } else if median - 2.0 * se > TARGET_STARTUP_EXTRA_US {
        format!("**missed** (± {se:.0} µs standard error)")
    } else {
        format!(
            "{verdict} on the median, **inconclusive** (± {se:.0} µs standard error; see the deterministic counts in part 3)"
        )
    }
}

fn fmt_us(x: f64) -> String {
    if x.is_nan() { "—".into() } else { format!("{x:.0}") }
}

/// Runs part 3 and writes its section.
pub fn sigterm_to_stopping(bins: &Path, quick: bool) -> Section {
    let cfg = if quick { LatencyConfig::QUICK } else { LatencyConfig::FULL };
    println!(
        "part 3: start-up and SIGTERM → STOPPING=1 latency ({} rounds; each async service once per regime and round, the sync ones every {}th round)",
        cfg.rounds, cfg.sync_every
    );
    let (series, elapsed) = match measure_latency(bins, cfg) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("part 3: {e}");
            return Section { markdown: format!("not measured: {e}\n"), summary: Vec::new() };
        }
    };
    println!("part 3: start-up alone, {} rounds", cfg.startup_rounds);
    let startup = measure_startup(bins, cfg.startup_rounds).unwrap_or_else(|e| {
        eprintln!("part 3: start-up: {e}");
        Vec::new()
    });
    latency_section(bins, &series, &startup, cfg, elapsed)
}

fn find(series: &[Series], subject: Subject, regime: Regime) -> Option<&Series> {
    series.iter().find(|s| s.subject == subject && s.regime == regime)
}

/// Per-round pairs of `f(ours)` and `f(peer)`, where both ran.
fn paired(a: &[f64], b: &[f64]) -> Vec<(f64, f64)> {
    a.iter().zip(b).filter(|(x, y)| x.is_finite() && y.is_finite()).map(|(&x, &y)| (x, y)).collect()
}

fn latency_section(
    bins: &Path,
    series: &[Series],
    startup: &[(Subject, Vec<f64>)],
    cfg: LatencyConfig,
    elapsed: Duration,
) -> Section {
    let mut md = format!(
        "Each process is started fresh (a second SIGTERM makes an `#[sd_service]` service exit at once). The parent reads `CLOCK_MONOTONIC`, starts the service with `NOTIFY_SOCKET` naming its receiver (`sd_notify_core::Receiver`, a socket file: `sd-notify` 0.5 cannot reach abstract addresses), and reads the clock again when `poll(2)` on the receiver returns with `READY=1` queued (start-up); it lets the service settle {} ms into its idle wait, reads the clock, sends `kill(pid, SIGTERM)` and reads the clock again as soon as `poll(2)` returns with `STOPPING=1` queued. {} rounds; in each, every async service runs once without load and once with {HOGS} CPU hogs (`sh -c 'while :; do :; done'`, one per CPU, started 20 ms before the first process of the regime and killed after its last), the regimes' order alternating and the services' order rotating; the sync services run in every {}th round (their stop takes a loop turn). Ours and the hand-rolled service on the same runtime so see the same machine, in the same round and regime.\n\n",
        SETTLE.as_millis(),
        cfg.rounds,
        cfg.sync_every
    );
    let mut summary = Vec::new();
    let mut notes = Vec::new();

    // SIGTERM → STOPPING.
    md += "### SIGTERM → `STOPPING=1`\n\n";
    md += "| service | load | signals | µs to `STOPPING=1`, median (p25–p75) | p99 µs | max µs | ÷ hand-rolled, same runtime and load (median) | ÷ hand-rolled (p99) | SIGTERM → exit, ms, median |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n";
    for &subject in &Subject::ALL {
        for &regime in &Regime::ALL {
            let Some(s) = find(series, subject, regime) else { continue };
            let v = Series::finite(&s.latency_us);
            let peer = find(series, subject.peer(), regime)
                .map(|p| Series::finite(&p.latency_us))
                .unwrap_or_default();
            let (m, p99) = (median(&v), quantile(&v, 0.99));
            let (pm, pp99) = (median(&peer), quantile(&peer, 0.99));
            let max = v.iter().copied().fold(f64::NAN, f64::max);
            let ratio = |x: f64, h: f64| {
                if !subject.is_ours() {
                    "1.00×".to_owned()
                } else if x.is_nan() || h.is_nan() {
                    "—".to_owned()
                } else {
                    format!("{:.2}×", x / h)
                }
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} ({}–{}) | {} | {} | {} | {} | {:.1} |",
                subject.label(),
                regime.label(),
                v.len(),
                fmt_us(m),
                fmt_us(quantile(&v, 0.25)),
                fmt_us(quantile(&v, 0.75)),
                fmt_us(p99),
                fmt_us(max),
                ratio(m, pm),
                ratio(p99, pp99),
                median(&s.exit_ms)
            );
            println!(
                "  {:<26} {:<10} n {:>4}  median {:>6} µs  p99 {:>6} µs  max {:>6} µs  exit {:.1} ms  failed {}",
                subject.bin(),
                regime.label(),
                v.len(),
                fmt_us(m),
                fmt_us(p99),
                fmt_us(max),
                median(&s.exit_ms),
                s.failed
            );
            if s.failed > 0 {
                notes.push(format!(
                    "- {} ({}): {} of {} runs failed: {}",
                    subject.label(),
                    regime.label(),
                    s.failed,
                    s.failed + v.len(),
                    s.failures.join("; ")
                ));
            }
            if s.nonzero_exits > 0 {
                notes.push(format!(
                    "- {} ({}): {} processes exited non-zero",
                    subject.label(),
                    regime.label(),
                    s.nonzero_exits
                ));
            }
            if subject.is_ours() && !v.is_empty() {
                match regime {
                    Regime::Quiet => summary.push(format!(
                        "| {} | `STOPPING=1` | µs from `kill(SIGTERM)` to arrival, p99, no load | ≤ {:.0} ms | {} µs (median {} µs; hand-rolled p99 {} µs, {}) | {} |",
                        subject.label(),
                        TARGET_P99_US / 1000.0,
                        fmt_us(p99),
                        fmt_us(m),
                        fmt_us(pp99),
                        ratio(p99, pp99),
                        if p99 <= TARGET_P99_US { "met" } else { "**missed**" }
                    )),
                    Regime::Loaded => {
                        let r = p99 / pp99;
                        summary.push(format!(
                            "| {} | `STOPPING=1` | p99 µs from `kill(SIGTERM)` to arrival, {HOGS} CPU hogs, ÷ hand-rolled on the same runtime under the same load | ≤ {TARGET_LOADED_P99_RATIO:.2}× | {:.2}× ({} vs {} µs; medians {} vs {} µs) | {} |",
                            subject.label(),
                            r,
                            fmt_us(p99),
                            fmt_us(pp99),
                            fmt_us(m),
                            fmt_us(pm),
                            if r <= TARGET_LOADED_P99_RATIO { "met" } else { "**missed**" }
                        ));
                    }
                }
            }
        }
    }
    md += "\nµs to `STOPPING=1` covers signal delivery, the service's reaction and the datagram's way to a receiver blocked in `poll(2)`, including the wake-up of that receiver (both sides are scheduled by the same CPUs as the hogs). ÷ hand-rolled: our figure divided by the hand-rolled service's on the same runtime under the same load, from the same run. SIGTERM → exit: until the pidfd of the child became readable (ours then sends `BARRIER=1` and waits for the receiver to close its descriptor, which the harness does as soon as it reads it; the sync loops notice the stop at their next 100 ms turn).\n\nWhere the time goes: ours sends `STOPPING=1` from the signal handler itself (one `send(2)` with `MSG_DONTWAIT` of a datagram encoded at start, on the socket connected at start), in whichever thread the kernel delivers the signal to, so nothing has to be scheduled in the service before it leaves: under load the only wait is for the CPU to run the handler. The hand-rolled tokio service's handler (signal-hook-registry, inside tokio) only writes to a pipe; tokio's driver then has to be scheduled, return from `epoll_wait`, dispatch the signal to the `Signal` stream and poll the main task, and `sd_notify::notify` opens a socket, connects, writes and closes it: every one of those steps waits for a CPU the hogs hold. The hand-rolled sync service can only send at its next loop turn.\n\n";

    // Start-up.
    md += "### Start-up: spawn → `READY=1`\n\n";
    md += "| service | load | processes | µs to `READY=1`, median (p25–p75) | ours − hand-rolled on the same runtime, same round, µs: median (p25–p75) | ours ÷ hand-rolled, median of rounds |\n|---|---|---:|---:|---:|---:|\n";
    for &subject in &Subject::ALL {
        for &regime in &Regime::ALL {
            let Some(s) = find(series, subject, regime) else { continue };
            let v = Series::finite(&s.startup_us);
            let (mut diff, mut ratio) = ("—".to_owned(), "—".to_owned());
            if let Some(p) = find(series, subject.peer(), regime).filter(|_| subject.is_ours()) {
                let pairs = paired(&s.startup_us, &p.startup_us);
                let d: Vec<f64> = pairs.iter().map(|(a, b)| a - b).collect();
                let r: Vec<f64> = pairs.iter().map(|(a, b)| a / b).collect();
                let m = median(&d);
                diff = format!("{m:+.0} ({:+.0} – {:+.0})", quantile(&d, 0.25), quantile(&d, 0.75));
                ratio = format!("{:.3}×", median(&r));
            }
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} ({}–{}) | {} | {} |",
                subject.label(),
                regime.label(),
                v.len(),
                fmt_us(median(&v)),
                fmt_us(quantile(&v, 0.25)),
                fmt_us(quantile(&v, 0.75)),
                diff,
                ratio
            );
        }
    }
    let _ = write!(
        md,
        "\nSpawn → `READY=1` includes what both services pay alike (`posix_spawn`, `execve`, the dynamic loader, Rust's runtime start-up, the runtime's construction, the receiver's wake-up); the difference within a round is what the attribute adds. What ours does before `READY=1`, in this order: read `NOTIFY_SOCKET` and `WATCHDOG_USEC`, create and connect the notification socket (the hand-rolled service creates one too, for its one message), encode the `STOPPING=1` datagram, create the wake-up pipe and install the SIGTERM/SIGINT handlers; the `sd-service` thread is started only after `READY=1` has been sent (or earlier when something needs it first: a watchdog, a future waiting on the run, a queued message). Part wall time {:.0} s.\n",
        elapsed.as_secs_f64()
    );
    md += &startup_alone_markdown(startup, cfg.startup_rounds, &mut summary);
    md += "\n";
    md += &startup_syscalls_markdown(bins);
    md += &startup_instructions_markdown(bins);
    if !notes.is_empty() {
        md += &notes.join("\n");
        md += "\n";
    }
    Section { markdown: md, summary }
}

/// System calls made before `READY=1`, per name, for one process of `subject`.
#[derive(Debug, Clone)]
pub struct StartupSyscalls {
    /// Which service.
    pub subject: Subject,
    /// How many of each, by all threads, from `execve` to the one that sent `READY=1` (included).
    pub calls: std::collections::BTreeMap<String, usize>,
}

/// The child `strace` traces (its first child).
fn traced_child(strace_pid: u32) -> Option<u32> {
    let children = std::fs::read_to_string(format!("/proc/{strace_pid}/task/{strace_pid}/children")).ok()?;
    children.split_whitespace().next()?.parse().ok()
}

/// Runs `subject` once under `strace -f` and counts the system calls before `READY=1` was sent.
///
/// # Errors
/// When strace cannot be run or the service does not get ready.
pub fn startup_syscalls(bins: &Path, subject: Subject) -> Result<StartupSyscalls, String> {
    let receiver = Receiver::bind_unique_path().map_err(|e| format!("binding a receiver: {e}"))?;
    let out = std::env::temp_dir().join(format!(
        "sd-notify-startup-{}-{}.strace",
        std::process::id(),
        subject.bin()
    ));
    let strace = which("strace").ok_or("strace not found")?;
    let mut s = Supervised::start_with(
        &strace,
        &[
            OsString::from("-f"),
            OsString::from("-qq"),
            OsString::from("-o"),
            out.clone().into_os_string(),
            OsString::from("--"),
            bins.join(subject.bin()).into_os_string(),
        ],
        receiver,
        &[],
    )?;
    let ready = s.wait_for_line("READY=1");
    if let Some(pid) = traced_child(s.pid()) {
        // SAFETY: kill() takes no pointers; `pid` is the traced child of our own strace.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    }
    let _ = s.wait_exit();
    ready?;
    let text = std::fs::read_to_string(&out).map_err(|e| format!("reading {}: {e}", out.display()))?;
    let _ = std::fs::remove_file(&out);
    let mut calls = std::collections::BTreeMap::new();
    let mut seen_exec = false;
    for line in text.lines() {
        // "PID name(args…) = …", "PID <... name resumed>…", "PID --- SIG… ---", "PID +++ …"
        let rest = line.split_once(' ').map_or(line, |(_, r)| r).trim_start();
        if rest.starts_with("<...") || rest.starts_with("---") || rest.starts_with("+++") {
            continue;
        }
        let Some((name, _)) = rest.split_once('(') else { continue };
        if name == "execve" {
            seen_exec = true;
        }
        if !seen_exec {
            continue;
        }
        *calls.entry(name.to_owned()).or_insert(0) += 1;
        if line.contains("READY=1") {
            break;
        }
    }
    Ok(StartupSyscalls { subject, calls })
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(name)).find(|p| p.is_file())
}

/// Markdown for the start-up system calls: per service the total, and for ours what it has
/// beyond its hand-rolled peer.
pub fn startup_syscalls_markdown(bins: &Path) -> String {
    let mut md = String::from(
        "#### System calls before `READY=1` (deterministic)\n\n| service | system calls from `execve` to `READY=1` (all threads) | ours − hand-rolled on the same runtime | which, beyond the hand-rolled service's (+) or fewer (−) |\n|---|---:|---:|---|\n",
    );
    let mut got = Vec::new();
    for &subject in &Subject::ALL {
        match startup_syscalls(bins, subject) {
            Ok(r) => got.push(r),
            Err(e) => {
                let _ = writeln!(md, "| {} | not measured: {e} | | |", subject.label());
            }
        }
    }
    for r in &got {
        let total: usize = r.calls.values().sum();
        let peer = got.iter().find(|p| p.subject == r.subject.peer() && r.subject.is_ours());
        let (diff, which) = match peer {
            Some(p) => {
                let ptotal: usize = p.calls.values().sum();
                let mut names: Vec<&String> = r.calls.keys().chain(p.calls.keys()).collect();
                names.sort();
                names.dedup();
                let parts: Vec<String> = names
                    .into_iter()
                    .filter_map(|n| {
                        let d = *r.calls.get(n).unwrap_or(&0) as i64 - *p.calls.get(n).unwrap_or(&0) as i64;
                        (d != 0).then(|| format!("{n} {d:+}"))
                    })
                    .collect();
                (format!("{:+}", total as i64 - ptotal as i64), parts.join(", "))
            }
            None => ("—".to_owned(), String::new()),
        };
        println!("  start-up syscalls {:<26} {total:>4} ({diff})", r.subject.bin());
        let _ = writeln!(md, "| {} | {total} | {diff} | {which} |", r.subject.label());
    }
    md += "\nOne process of each under `strace -f`, counted from its `execve` to the call that sent `READY=1` (the hand-rolled services' `sd_notify::notify` `write`, ours' `sendto`), every thread's calls included; a count, not a time, so it does not move with the machine's load.\n\n";
    md
}

/// The function entered to send `READY=1`: callgrind's dump point (`--dump-before`), so that
/// the count covers everything before the readiness call and nothing of it.
fn ready_call(subject: Subject) -> &'static str {
    if subject.is_ours() { "sd_notify_core::service::run::ready" } else { "sd_notify::notify*" }
}

/// Instructions (user space, all threads, callgrind's `Ir`) from `execve` to entering the
/// call that sends `READY=1`, for one process of `subject` under valgrind.
///
/// # Errors
/// When valgrind cannot be run, the service does not get ready, or no dump was written.
pub fn startup_instructions(bins: &Path, subject: Subject) -> Result<u64, String> {
    let valgrind = which("valgrind").ok_or("valgrind not found")?;
    let receiver = Receiver::bind_unique_path().map_err(|e| format!("binding a receiver: {e}"))?;
    let out =
        std::env::temp_dir().join(format!("sd-notify-startup-{}-{}.cg", std::process::id(), subject.bin()));
    let mut s = Supervised::start_with(
        &valgrind,
        &[
            OsString::from("--tool=callgrind"),
            OsString::from(format!("--dump-before={}", ready_call(subject))),
            OsString::from(format!("--callgrind-out-file={}", out.display())),
            bins.join(subject.bin()).into_os_string(),
        ],
        receiver,
        &[],
    )?;
    let ready = s.wait_for_line("READY=1");
    let _ = s.child.kill();
    let _ = s.wait_exit();
    ready?;
    // The dump before the first call is `<out>.1`; `<out>` itself is what followed.
    let dump = PathBuf::from(format!("{}.1", out.display()));
    let text = std::fs::read_to_string(&dump).map_err(|e| format!("reading {}: {e}", dump.display()));
    let _ = std::fs::remove_file(&dump);
    let _ = std::fs::remove_file(&out);
    let text = text?;
    text.lines()
        .find_map(|l| l.strip_prefix("summary:").or_else(|| l.strip_prefix("totals:")))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("no total in {}", dump.display()))
}

/// Markdown for the instructions before `READY=1`.
pub fn startup_instructions_markdown(bins: &Path) -> String {
    let mut md = String::from(
        "#### Instructions before `READY=1` (deterministic)\n\n| service | instructions from `execve` to the readiness call (user space, all threads) | ours − hand-rolled on the same runtime | ours ÷ hand-rolled |\n|---|---:|---:|---:|\n",
    );
    let got: Vec<(Subject, Result<u64, String>)> =
        Subject::ALL.iter().map(|&s| (s, startup_instructions(bins, s))).collect();
    for (subject, r) in &got {
        let peer = got.iter().find(|(p, _)| *p == subject.peer() && subject.is_ours());
        match (r, peer) {
            (Ok(n), Some((_, Ok(p)))) => {
                println!(
                    "  start-up instructions {:<26} {n:>8} ({:+})",
                    subject.bin(),
                    *n as i64 - *p as i64
                );
                let _ = writeln!(
                    md,
                    "| {} | {n} | {:+} | {:.3}× |",
                    subject.label(),
                    *n as i64 - *p as i64,
                    *n as f64 / *p as f64
                );
            }
            (Ok(n), _) => {
                println!("  start-up instructions {:<26} {n:>8}", subject.bin());
                let _ = writeln!(md, "| {} | {n} | — | — |", subject.label());
            }
            (Err(e), _) => {
                let _ = writeln!(md, "| {} | not measured: {e} | | |", subject.label());
            }
        }
    }
    md += "\nOne process of each under `valgrind --tool=callgrind --dump-before=F`, where F is the call that sends `READY=1` (ours: `sd_notify_core::service::run::ready`, which the `#[ready]` marker calls; the hand-rolled services: `sd_notify::notify`): every instruction executed in user space before that call, by any thread, the dynamic loader's included (it is the largest part, and it grows with the binary's relocations); the readiness call itself is in neither count. Kernel time is not in it: the system calls are counted above.\n\n";
    md
}

/// The start-up-alone table, and its rows for the targets table.
fn startup_alone_markdown(
    startup: &[(Subject, Vec<f64>)],
    rounds: usize,
    summary: &mut Vec<String>,
) -> String {
    let mut md = format!(
        "\n#### Start-up alone: {rounds} rounds, no load\n\n| service | µs to `READY=1`, median (p25–p75) | ours − hand-rolled on the same runtime, same round, µs: median (p25–p75) | ours ÷ hand-rolled, median of rounds |\n|---|---:|---:|---:|\n"
    );
    for (subject, v) in startup {
        let fin = Series::finite(v);
        let (mut diff, mut ratio) = ("—".to_owned(), "—".to_owned());
        if let Some((_, p)) = startup.iter().find(|(s, _)| *s == subject.peer() && subject.is_ours()) {
            let pairs = paired(v, p);
            let d: Vec<f64> = pairs.iter().map(|(a, b)| a - b).collect();
            let r: Vec<f64> = pairs.iter().map(|(a, b)| a / b).collect();
            let m = median(&d);
            diff = format!("{m:+.0} ({:+.0} – {:+.0})", quantile(&d, 0.25), quantile(&d, 0.75));
            ratio = format!("{:.3}×", median(&r));
            println!(
                "  start-up {:<26} median {:>6} µs, − hand-rolled {diff}",
                subject.bin(),
                fmt_us(median(&fin))
            );
            if !d.is_empty() {
                summary.push(format!(
                    "| {} | `READY=1` | µs from spawn to arrival, no load, minus the hand-rolled service's on the same runtime (median of {} rounds) | ≤ +{TARGET_STARTUP_EXTRA_US:.0} µs | {m:+.0} µs (p25–p75 {:+.0} – {:+.0}; {:.3}×; medians {} vs {} µs) | {} |",
                    subject.label(),
                    d.len(),
                    quantile(&d, 0.25),
                    quantile(&d, 0.75),
                    median(&r),
                    fmt_us(median(&fin)),
                    fmt_us(median(&Series::finite(p))),
                    startup_verdict(m, quantile(&d, 0.25), quantile(&d, 0.75), d.len())
                ));
            }
        }
        let _ = writeln!(
            md,
            "| {} | {} ({}–{}) | {diff} | {ratio} |",
            subject.label(),
            fmt_us(median(&fin)),
            fmt_us(quantile(&fin, 0.25)),
            fmt_us(quantile(&fin, 0.75))
        );
    }
    md += "\nEach process killed (SIGKILL) as soon as `READY=1` is in. The median of the per-round differences has a standard error of about 1.25 × σ ÷ √rounds (σ ≈ the p25–p75 width ÷ 1.35), printed with the verdict.\n";
    md
}
