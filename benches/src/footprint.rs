//! Part 5: the run-time footprint of `#[sd_service]`.
//!
//! (a) Binary size: the release builds of this package's small binaries (`src/bin/`), and
//! `strip`ped copies of them, with and without the attribute.
//!
//! (b) Threads and wake-ups of an idle service: each program runs as a child under its own
//! receiver (drained by one thread of the parent, which also counts watchdog pings and
//! answers the exit barrier). After `READY=1` and [`SETTLE`] more, the parent reads
//! `voluntary_ctxt_switches` and `nonvoluntary_ctxt_switches` of every task in
//! `/proc/<pid>/task/*/status`, waits [`WINDOW`], and reads them again: a thread asleep in
//! `poll(2)`, `epoll_wait(2)` or `nanosleep(2)` that wakes up and sleeps again adds one
//! voluntary switch. All programs idle at the same time, in separate processes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sd_notify_core::Receiver;

use crate::service::{
    BIN_ASYNC, BIN_BASELINE_ASYNC, BIN_BASELINE_SYNC, BIN_HANDROLLED, BIN_HELLO_PLAIN, BIN_HELLO_SERVICE,
    BIN_SYNC, Section, Supervised,
};

/// Idle window over which wake-ups are counted.
pub const WINDOW: Duration = Duration::from_secs(10);
/// `--quick` window.
pub const QUICK_WINDOW: Duration = Duration::from_secs(3);
/// Wait after `READY=1` before the window starts (start-up transients, the first ping).
pub const SETTLE: Duration = Duration::from_secs(1);
/// The watchdog interval given with `WATCHDOG_USEC`.
pub const WATCHDOG: Duration = Duration::from_secs(1);

/// Sizes of one binary.
#[derive(Debug, Clone)]
pub struct Size {
    /// The binary's name.
    pub bin: &'static str,
    /// As built.
    pub built: u64,
    /// After `strip`.
    pub stripped: Option<u64>,
}

/// Pairs compared for size: (without the attribute, with it, what).
pub const SIZE_PAIRS: [(&str, &str, &str); 3] = [
    (BIN_HELLO_PLAIN, BIN_HELLO_SERVICE, "hello: sync `main` that prints and returns"),
    (BIN_BASELINE_SYNC, BIN_SYNC, "sync idle service (READY, sleep loop)"),
    (BIN_BASELINE_ASYNC, BIN_ASYNC, "async idle service (tokio `current_thread`)"),
];

/// Measures the size of `bin` in `dir`, and of a stripped copy.
fn size_of(dir: &Path, bin: &'static str, tmp: &Path) -> Result<Size, String> {
    let path = dir.join(bin);
    let built = std::fs::metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?.len();
    let copy = tmp.join(bin);
    std::fs::copy(&path, &copy).map_err(|e| format!("copying {}: {e}", path.display()))?;
    let stripped = std::process::Command::new("strip")
        .arg(&copy)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|_| std::fs::metadata(&copy).ok())
        .map(|m| m.len());
    let _ = std::fs::remove_file(&copy);
    Ok(Size { bin, built, stripped })
}

/// One idle program.
#[derive(Debug, Clone)]
pub struct IdleCase {
    /// Report label.
    pub label: &'static str,
    /// The binary.
    pub bin: &'static str,
    /// Run with `WATCHDOG_USEC` = [`WATCHDOG`].
    pub watchdog: bool,
    /// Has `#[sd_service]` (targets apply).
    pub ours: bool,
}

/// The idle programs, in report order.
pub const IDLE_CASES: [IdleCase; 7] = [
    IdleCase {
        label: "async `#[sd_service]` (tokio `current_thread`)",
        bin: BIN_ASYNC,
        watchdog: false,
        ours: true,
    },
    IdleCase {
        label: "async `#[sd_service]` (tokio `current_thread`)",
        bin: BIN_ASYNC,
        watchdog: true,
        ours: true,
    },
    IdleCase {
        label: "baseline: the same tokio main without the attribute (READY via `sd_notify_core::notify`, no signal handling)",
        bin: BIN_BASELINE_ASYNC,
        watchdog: false,
        ours: false,
    },
    IdleCase {
        label: "hand-rolled: tokio `signal(SignalKind::terminate())` + `sd-notify` 0.5",
        bin: BIN_HANDROLLED,
        watchdog: false,
        ours: false,
    },
    IdleCase {
        label: "sync `#[sd_service]` with handle (`is_stopping()` every 100 ms)",
        bin: BIN_SYNC,
        watchdog: false,
        ours: true,
    },
    IdleCase {
        label: "sync `#[sd_service]` with handle (`is_stopping()` every 100 ms)",
        bin: BIN_SYNC,
        watchdog: true,
        ours: true,
    },
    IdleCase {
        label: "baseline: the same sync loop without the attribute (READY via `sd_notify_core::notify`)",
        bin: BIN_BASELINE_SYNC,
        watchdog: false,
        ours: false,
    },
];

/// Per thread: name and (voluntary, nonvoluntary) context switches.
type TaskCounts = BTreeMap<u32, (String, u64, u64)>;

/// Reads every task of `pid`.
fn task_counts(pid: u32) -> Result<TaskCounts, String> {
    let dir = format!("/proc/{pid}/task");
    let mut m = BTreeMap::new();
    for e in std::fs::read_dir(&dir).map_err(|e| format!("{dir}: {e}"))?.flatten() {
        let Some(tid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let Ok(status) = std::fs::read_to_string(e.path().join("status")) else { continue };
        let field = |name: &str| {
            status.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_owned()).unwrap_or_default()
        };
        m.insert(
            tid,
            (
                field("Name:"),
                field("voluntary_ctxt_switches:").parse().unwrap_or(0),
                field("nonvoluntary_ctxt_switches:").parse().unwrap_or(0),
            ),
        );
    }
    Ok(m)
}

/// What one idle program did in the window.
#[derive(Debug, Clone)]
pub struct IdleResult {
    /// Which program.
    pub case: IdleCase,
    /// Threads at the end of the window (at its start, if different, in `threads_start`).
    pub threads: usize,
    /// Threads at the start of the window.
    pub threads_start: usize,
    /// Per thread over the window: name, voluntary, nonvoluntary.
    pub per_thread: Vec<(String, u64, u64)>,
    /// `WATCHDOG=1` datagrams received in the window.
    pub pings: u64,
    /// System calls by name in the second window, under `strace -f -c`.
    pub strace: Result<BTreeMap<String, u64>, String>,
    /// Why it was not measured.
    pub error: Option<String>,
}

impl IdleResult {
    /// Voluntary + nonvoluntary switches of all threads.
    pub fn total(&self) -> u64 {
        self.per_thread.iter().map(|(_, v, n)| v + n).sum()
    }

    /// Voluntary switches of all threads: the thread went to sleep, so it was woken once.
    pub fn voluntary(&self) -> u64 {
        self.per_thread.iter().map(|(_, v, _)| v).sum()
    }
}

/// The children, their receivers drained by one thread that counts `WATCHDOG=1` lines and,
/// when finished, stops the children and drains until they are gone (answering barriers).
struct Collector {
    pings: Arc<Mutex<Vec<u64>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Collector {
    fn start(mut children: Vec<Supervised>) -> Collector {
        let pings = Arc::new(Mutex::new(vec![0; children.len()]));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (pings.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let fds: Vec<i32> = children.iter().map(|c| c.receiver.as_fd().as_raw_fd()).collect();
            let mut deadline = None;
            loop {
                let mut pfds: Vec<libc::pollfd> =
                    fds.iter().map(|&fd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 }).collect();
                // SAFETY: a valid array of pollfds; 50 ms so that the stop flag is seen.
                unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, 50) };
                for (i, c) in children.iter().enumerate() {
                    // Dropping each notification closes a barrier's descriptor, answering it.
                    while let Ok(Some(n)) = c.receiver.try_recv() {
                        if n.lines().is_ok_and(|l| l.iter().any(|l| l == "WATCHDOG=1")) {
                            p.lock().unwrap_or_else(|e| e.into_inner())[i] += 1;
                        }
                    }
                }
                if deadline.is_none() && s.load(Ordering::Relaxed) {
                    for c in &children {
                        let _ = c.signal(libc::SIGTERM);
                    }
                    deadline = Some(Instant::now() + Duration::from_secs(5));
                }
                if let Some(d) = deadline {
                    let running = children
                        .iter_mut()
                        .map(|c| c.child.try_wait())
                        .filter(|w| matches!(w, Ok(None)))
                        .count();
                    if running == 0 || Instant::now() >= d {
                        break; // dropping a Supervised kills what is left
                    }
                }
            }
        });
        Collector { pings, stop, thread: Some(thread) }
    }

    fn pings(&self) -> Vec<u64> {
        self.pings.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// SIGTERM to every child; returns once all are gone.
    fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Traces every process in `pids` with `strace -f -c` for `window`; system calls by name.
fn strace_window(pids: &[u32], window: Duration) -> Vec<Result<BTreeMap<String, u64>, String>> {
    if !crate::per_op::strace_available() {
        return pids.iter().map(|_| Err("strace not available".into())).collect();
    }
    let tmp = std::env::temp_dir();
    let tracers: Vec<Result<(std::process::Child, std::path::PathBuf), String>> = pids
        .iter()
        .map(|pid| {
            let out = tmp.join(format!("sd-notify-bench-idle-{}-{pid}.strace", std::process::id()));
            std::process::Command::new("strace")
                .args(["-f", "-c", "-o"])
                .arg(&out)
                .args(["-p", &pid.to_string()])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .map(|c| (c, out))
                .map_err(|e| format!("strace: {e}"))
        })
        .collect();
    std::thread::sleep(window);
    tracers
        .into_iter()
        .map(|t| {
            let (mut child, out) = t?;
            // SAFETY: kill() takes no pointers; the PID is our own strace child's. SIGINT makes
            // strace detach and write its summary.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
            let _ = child.wait();
            let text = std::fs::read_to_string(&out).map_err(|e| format!("strace output: {e}"));
            let _ = std::fs::remove_file(&out);
            Ok(crate::per_op::parse_strace_summary(&text?))
        })
        .collect()
}

/// Runs every idle case at once and counts their wake-ups over `window`.
fn measure_idle(dir: &Path, window: Duration) -> Vec<IdleResult> {
    let mut results: Vec<IdleResult> = IDLE_CASES
        .iter()
        .map(|c| IdleResult {
            case: c.clone(),
            threads: 0,
            threads_start: 0,
            per_thread: Vec::new(),
            pings: 0,
            strace: Err("not run".into()),
            error: None,
        })
        .collect();
    // Start each child with its own receiver; wait for READY=1 on it.
    let mut children: Vec<Option<Supervised>> = Vec::new();
    for r in &mut results {
        let started = Receiver::bind_unique_path()
            .map_err(|e| format!("binding a receiver: {e}"))
            .and_then(|receiver| {
                let env = if r.case.watchdog {
                    vec![("WATCHDOG_USEC", WATCHDOG.as_micros().to_string())]
                } else {
                    Vec::new()
                };
                Supervised::start(&dir.join(r.case.bin), receiver, &env)
            })
            .and_then(|mut s| s.wait_for_line("READY=1").map(|_| s));
        match started {
            Ok(s) => children.push(Some(s)),
            Err(e) => {
                r.error = Some(e);
                children.push(None);
            }
        }
    }
    // Hand the children to the collector, keeping their PIDs.
    let mut procs = Vec::new();
    let mut running = Vec::new();
    for (i, c) in children.into_iter().enumerate() {
        if let Some(s) = c {
            procs.push((i, s.pid()));
            running.push(s);
        }
    }
    let collector = Collector::start(running);
    std::thread::sleep(SETTLE);
    let before: Vec<Result<TaskCounts, String>> = procs.iter().map(|&(_, pid)| task_counts(pid)).collect();
    let pings_before = collector.pings();
    let t0 = Instant::now();
    std::thread::sleep(window);
    let after: Vec<Result<TaskCounts, String>> = procs.iter().map(|&(_, pid)| task_counts(pid)).collect();
    let pings_after = collector.pings();
    let measured = t0.elapsed();
    for (k, ((i, _), (b, a))) in procs.iter().zip(before.into_iter().zip(after)).enumerate() {
        let r = &mut results[*i];
        match (b, a) {
            (Ok(b), Ok(a)) => {
                r.threads_start = b.len();
                r.threads = a.len();
                for (tid, (name, v1, n1)) in &a {
                    let (v0, n0) = b.get(tid).map_or((0, 0), |(_, v, n)| (*v, *n));
                    r.per_thread.push((name.clone(), v1.saturating_sub(v0), n1.saturating_sub(n0)));
                }
                r.pings = pings_after[k].saturating_sub(pings_before[k]);
            }
            (Err(e), _) | (_, Err(e)) => r.error = Some(e),
        }
    }
    if measured > window + Duration::from_millis(200) {
        println!("  note: the window lasted {:.2} s", measured.as_secs_f64());
    }
    // The second window: the same processes under `strace -f -c`, for which system calls the
    // wake-ups are.
    let pids: Vec<u32> = procs.iter().map(|&(_, pid)| pid).collect();
    for ((i, _), counts) in procs.iter().zip(strace_window(&pids, window)) {
        results[*i].strace = counts;
    }
    collector.finish();
    results
}

/// Runs part 5 and writes its section.
pub fn size_and_idle_wakeups(dir: &Path, quick: bool) -> Section {
    let mut md = String::new();
    let mut summary = Vec::new();

    // (a) sizes.
    println!("part 5a: binary sizes");
    let tmp = std::env::temp_dir().join(format!("sd-notify-bench-strip-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&tmp);
    md += "### Binary size\n\n| program | without `#[sd_service]` | with `#[sd_service]` | stripped: without → with | stripped ratio | stripped difference |\n|---|---|---|---:|---:|---:|\n";
    let mut size_notes = Vec::new();
    for (plain, ours, what) in SIZE_PAIRS {
        match (size_of(dir, plain, &tmp), size_of(dir, ours, &tmp)) {
            (Ok(p), Ok(o)) => {
                let (sp, so) = (p.stripped, o.stripped);
                let stripped = match (sp, so) {
                    (Some(a), Some(b)) => (
                        format!("{a} → {b} bytes"),
                        format!("{:.2}×", b as f64 / a as f64),
                        format!("{:+} bytes", b as i64 - a as i64),
                    ),
                    _ => ("—".into(), "—".into(), "—".into()),
                };
                let _ = writeln!(
                    md,
                    "| {what} | `{plain}` ({} bytes as built) | `{ours}` ({} bytes as built) | {} | {} | {} |",
                    p.built, o.built, stripped.0, stripped.1, stripped.2
                );
                println!("  {plain} → {ours}: stripped {} , {}", stripped.0, stripped.1);
            }
            (Err(e), _) | (_, Err(e)) => size_notes.push(format!("- {what}: not measured: {e}")),
        }
    }
    let _ = std::fs::remove_dir(&tmp);
    md += "\n`cargo build --release` with the workspace's default release profile (no LTO, `panic = \"unwind\"`), then `strip` on a copy. The hello pair is `fn main() { println!(\"hello\"); }` and the same with `#[sd_service]` and `#[ready]` on the `println!` statement. The async binaries all link the same tokio build (features `rt`, `rt-multi-thread`, `macros`, `signal`, as this package's hand-rolled services need; `rt-multi-thread` also links `libm`).\n";
    for n in &size_notes {
        md += n;
        md += "\n";
    }
    match size_breakdown(dir, BIN_HELLO_PLAIN, BIN_HELLO_SERVICE) {
        Ok(b) => {
            md += "\n";
            md += &b;
        }
        Err(e) => {
            let _ = writeln!(md, "\n(no breakdown: {e})");
        }
    }

    // (b) idle.
    let window = if quick { QUICK_WINDOW } else { WINDOW };
    println!("part 5b: threads and wake-ups of idle services over {} s", window.as_secs());
    let results = measure_idle(dir, window);
    let intervals = window.as_secs_f64() / WATCHDOG.as_secs_f64();
    let _ = write!(
        md,
        "\n### Threads and wake-ups while idle\n\n| program | `WATCHDOG_USEC` | threads | wake-ups (voluntary switches) in {w} s, all threads | preemptions (nonvoluntary switches) | sum | per thread: voluntary + nonvoluntary | wake-ups per watchdog interval, per thread (sum per interval) | `WATCHDOG=1` received | system calls in a second {w} s window under `strace -f -c` |\n|---|---:|---:|---:|---:|---:|---|---|---:|---|\n",
        w = window.as_secs()
    );
    for r in &results {
        let wd = if r.case.watchdog { WATCHDOG.as_micros().to_string() } else { "—".into() };
        if let Some(e) = &r.error {
            let _ =
                writeln!(md, "| {} | {wd} | — | — | — | — | not measured: {e} | — | — | — |", r.case.label);
            println!("  {} ({wd}): {e}", r.case.bin);
            continue;
        }
        let threads = if r.threads == r.threads_start {
            r.threads.to_string()
        } else {
            format!("{} → {}", r.threads_start, r.threads)
        };
        let per_thread = r
            .per_thread
            .iter()
            .map(|(name, v, n)| format!("`{name}` {v} + {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let per_interval = if r.case.watchdog {
            r.per_thread
                .iter()
                .map(|(name, v, n)| {
                    format!("`{name}` {:.1} ({:.1})", *v as f64 / intervals, (v + n) as f64 / intervals)
                })
                .collect::<Vec<_>>()
                .join(", ")
        } else {
            "—".into()
        };
        let syscalls = match &r.strace {
            Ok(m) if m.is_empty() => "none".to_owned(),
            Ok(m) => m.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", "),
            Err(e) => format!("— ({e})"),
        };
        let nonvoluntary = r.total() - r.voluntary();
        let _ = writeln!(
            md,
            "| {} | {wd} | {threads} | {} | {nonvoluntary} | {} | {per_thread} | {per_interval} | {} | {syscalls} |",
            r.case.label,
            r.voluntary(),
            r.total(),
            if r.case.watchdog { r.pings.to_string() } else { "—".into() }
        );
        println!(
            "  {:<22} wd {:<7} threads {threads:<3} wake-ups {:>3} (+{nonvoluntary} preempted)  {per_thread}  pings {}  strace: {syscalls}",
            r.case.bin,
            wd,
            r.voluntary(),
            r.pings
        );
        if r.case.ours && r.case.bin == BIN_ASYNC {
            if r.case.watchdog {
                let worst = r.per_thread.iter().map(|(_, v, _)| *v as f64 / intervals).fold(0.0, f64::max);
                summary.push(format!(
                    "| ours: async `#[sd_service]`, idle, `WATCHDOG_USEC={}` | — | wake-ups (voluntary switches) per watchdog interval, per thread (with preemptions) | 2 (\"two per interval\") | {per_interval}; the process: {:.1} ({:.1}) per interval; {} pings in {intervals:.0} intervals | {} |",
                    WATCHDOG.as_micros(),
                    r.voluntary() as f64 / intervals,
                    r.total() as f64 / intervals,
                    r.pings,
                    if worst <= 2.2 {
                        "met per thread (by design: 2 threads × 2 per interval)"
                    } else {
                        "**missed**"
                    }
                ));
            } else {
                summary.push(format!(
                    "| ours: async `#[sd_service]`, idle, no watchdog | — | wake-ups + preemptions in {} s, all {} threads | 0 | {} | {} |",
                    window.as_secs(),
                    r.threads,
                    r.total(),
                    if r.total() == 0 { "met" } else { "**missed**" }
                ));
            }
        }
    }
    let _ = write!(
        md,
        "\nAll programs run at the same time, each as a child under its own receiver (socket file), all receivers drained by one thread of the parent, which also answers exit barriers. Counted from {:.0} s after `READY=1` for {} s, per thread in `/proc/<pid>/task/*/status` (threads named as in their `Name:`; the main thread has the binary's name, cut to 15 bytes): the increase of `voluntary_ctxt_switches` — the thread went to sleep (in `poll`, `epoll_wait`, `futex`, `clock_nanosleep`, …), so each is one wake-up — and of `nonvoluntary_ctxt_switches` — the thread was running and was preempted, typically by a thread it had just woken on the same CPU: a context switch, not a wake-up. Then the same processes run a second window under `strace -f -c -p` (which slows every system call, so its counts are for seeing which calls the wake-ups are, not for timing). With `WATCHDOG_USEC={}` ({:.0} intervals in the window), by design the `sd-service` thread's timer fires every half interval and wakes the main task, which sends `WATCHDOG=1` when polled: 2 wake-ups per interval for each of the two threads, 4 for the process. The sync service's main thread wakes at every turn of its own `is_stopping()` loop (10 per second, as in the baseline): those wake-ups are the loop's, not the attribute's; with the watchdog the `sd-service` thread adds its 2 per interval, and the ping goes out from the loop's `is_stopping()` call.\n",
        SETTLE.as_secs_f64(),
        window.as_secs(),
        WATCHDOG.as_micros(),
        intervals
    );
    // Above 2 per interval on the async service's main thread: say what the extra ones are.
    if let Some(r) = results.iter().find(|r| r.case.bin == BIN_ASYNC && r.case.watchdog && r.error.is_none())
    {
        let main_extra = r
            .per_thread
            .iter()
            .filter(|(name, _, _)| name != "sd-service")
            .map(|(_, v, _)| *v as f64 / intervals)
            .fold(0.0, f64::max);
        if main_extra > 2.2 {
            let futex = r.strace.as_ref().ok().and_then(|m| m.get("futex").copied()).unwrap_or(0);
            let _ = write!(
                md,
                "\nThe async service's main thread sleeps more often than the 2 per interval of the design ({main_extra:.1}). The extra sleeps are `futex` waits ({futex} in the traced window, where tracing slows the service thread and makes them rarer; none without a watchdog): the service thread's `wake_main_task()` (`sd-notify-core/src/service/mod.rs`) calls `wake_by_ref()` while it holds the `MAIN_TASK` mutex; the main thread, woken out of `epoll_wait` by that call, polls `Supervise`, whose `poll` locks `MAIN_TASK` too, and sleeps on the mutex until the service thread releases it. Taking the waker out of the lock before waking it (clone under the lock, wake after) would leave one wake-up per ping.\n"
            );
        }
    }
    Section { markdown: md, summary }
}

/// `size -A` of `path`: section → bytes.
fn sections(path: &Path) -> Result<BTreeMap<String, i64>, String> {
    let out = std::process::Command::new("size")
        .arg("-A")
        .arg(path)
        .output()
        .map_err(|e| format!("size -A: {e}"))?;
    if !out.status.success() {
        return Err(format!("size -A {}: {}", path.display(), String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let name = f.next()?;
            let size: i64 = f.next()?.parse().ok()?;
            name.starts_with('.').then(|| (name.to_owned(), size))
        })
        .collect())
}

/// Code symbols of `path` (unstripped) with their sizes, from `nm -S -C`.
fn text_symbols(path: &Path) -> Result<BTreeMap<String, i64>, String> {
    let out = std::process::Command::new("nm")
        .args(["-S", "-C", "--size-sort"])
        .arg(path)
        .output()
        .map_err(|e| format!("nm: {e}"))?;
    if !out.status.success() {
        return Err(format!("nm {}: {}", path.display(), String::from_utf8_lossy(&out.stderr).trim()));
    }
    let mut m = BTreeMap::new();
    for l in String::from_utf8_lossy(&out.stdout).lines() {
        let mut f = l.splitn(4, ' ');
        let (_, Some(size), Some(kind), Some(name)) = (f.next(), f.next(), f.next(), f.next()) else {
            continue;
        };
        if !matches!(kind, "t" | "T" | "w" | "W") {
            continue;
        }
        let Ok(size) = i64::from_str_radix(size, 16) else { continue };
        *m.entry(name.to_owned()).or_insert(0) += size;
    }
    Ok(m)
}

/// The group a symbol is counted under: `sd_notify_core::<module>` (two levels under
/// `service` and `sys`), or the first two path segments of other crates (`std::thread`).
fn symbol_group(name: &str) -> String {
    let s = name.trim_start_matches('<');
    let path: Vec<&str> = s
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .next()
        .unwrap_or(s)
        .split("::")
        .filter(|p| !p.is_empty())
        .collect();
    let depth = match path.as_slice() {
        ["sd_notify_core", "service" | "sys", ..] => 3,
        ["sd_notify_core", ..] => 2,
        [_, ..] => 2,
        [] => 0,
    };
    if path.is_empty() { name.to_owned() } else { path[..depth.min(path.len())].join("::") }
}

/// Where the bytes `ours` has beyond `plain` go: the sections of the stripped files that
/// differ, and the machine code (from the unstripped builds' symbol tables) by module.
pub fn size_breakdown(dir: &Path, plain: &str, ours: &str) -> Result<String, String> {
    let tmp = std::env::temp_dir().join(format!("sd-notify-bench-breakdown-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
    let strip = |bin: &str| -> Result<std::path::PathBuf, String> {
        let copy = tmp.join(bin);
        std::fs::copy(dir.join(bin), &copy).map_err(|e| format!("copying {bin}: {e}"))?;
        let ok =
            std::process::Command::new("strip").arg(&copy).status().map_err(|e| format!("strip: {e}"))?;
        if !ok.success() {
            return Err(format!("strip {bin} failed"));
        }
        Ok(copy)
    };
    let result = (|| {
        let (sp, so) = (sections(&strip(plain)?)?, sections(&strip(ours)?)?);
        let (tp, to) = (text_symbols(&dir.join(plain))?, text_symbols(&dir.join(ours))?);
        let mut md = format!(
            "#### Where `{ours}`'s extra bytes go\n\nSections of the stripped files that differ (bytes):\n\n| section | `{plain}` | `{ours}` | difference |\n|---|---:|---:|---:|\n"
        );
        let mut names: Vec<&String> = sp.keys().chain(so.keys()).collect();
        names.sort();
        names.dedup();
        let mut rows: Vec<(i64, String)> = names
            .into_iter()
            .map(|n| {
                let (a, b) = (*sp.get(n).unwrap_or(&0), *so.get(n).unwrap_or(&0));
                (b - a, format!("| `{n}` | {a} | {b} | {:+} |", b - a))
            })
            .filter(|(d, _)| *d != 0)
            .collect();
        rows.sort_by_key(|(d, _)| -d.abs());
        for (_, r) in &rows {
            md += r;
            md += "\n";
        }
        let total: i64 = rows.iter().map(|(d, _)| d).sum();
        let _ = writeln!(md, "| sum of the sections | | | {total:+} |");
        // Code by group: symbols new in ours, or larger there.
        let mut groups: BTreeMap<String, (i64, usize)> = BTreeMap::new();
        let mut grown: Vec<(i64, &String)> = Vec::new();
        for (name, &size) in &to {
            let d = size - tp.get(name).copied().unwrap_or(0);
            if d > 0 {
                let g = groups.entry(symbol_group(name)).or_insert((0, 0));
                g.0 += d;
                g.1 += 1;
                grown.push((d, name));
            }
        }
        let code: i64 = groups.values().map(|g| g.0).sum();
        let _ = writeln!(
            md,
            "\nMachine code (`.text`) in `{ours}` beyond `{plain}`, by module: {code} bytes in symbols that are new or larger (from `nm -S -C` of the unstripped builds; `.text` grows by {:+}, the rest being alignment and code not in the symbol table):\n\n| module | bytes | symbols |\n|---|---:|---:|",
            so.get(".text").unwrap_or(&0) - sp.get(".text").unwrap_or(&0)
        );
        let mut g: Vec<(&String, &(i64, usize))> = groups.iter().collect();
        g.sort_by_key(|(_, (b, _))| -b);
        let shown = 24;
        for (name, (bytes, n)) in g.iter().take(shown) {
            let _ = writeln!(md, "| `{name}` | {bytes} | {n} |");
        }
        if g.len() > shown {
            let rest: i64 = g.iter().skip(shown).map(|(_, (b, _))| b).sum();
            let _ = writeln!(md, "| {} other groups | {rest} | |", g.len() - shown);
        }
        grown.sort_by_key(|(d, _)| -d);
        md += "\nThe largest of those symbols:\n\n| symbol | bytes |\n|---|---:|\n";
        for (d, name) in grown.iter().take(20) {
            let short: String = name.chars().take(110).collect();
            let _ = writeln!(md, "| `{}` | {d} |", short.replace('|', "\\|"));
        }
        Ok(md)
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result
}
