//! Part 6: the cost of polling a `ServiceHandle::shutdown()` future while many others wait,
//! and what futures leave behind once dropped.
//!
//! The child process (`bench-all __waiters`, without `NOTIFY_SOCKET`) runs an `#[sd_service]`
//! fn, so the futures measured are the real ones of a live service. In it, for each count of
//! waiting futures, every future has a task waker of its own (as tasks do) and has been
//! polled once. Beside them, with the same wakers, runs a local copy of the algorithm before
//! issue 13 (item 1): one `Mutex<Vec<Waker>>` per event, scanned with `will_wake` at every
//! poll, a new waker pushed, and nothing removed until the event fires. The two are timed in
//! the same rounds, one batch each in turn, and compared round by round.
//!
//! Three operations: a *re-poll* of a future that already waits, the futures taken in a
//! spread order (as an executor polls its tasks) or in the order they were made (both over
//! all of them, so the old scan finds its waker halfway on average), and a *new* future's
//! first poll followed by its drop (a connection that selects on `shutdown()` and ends; the
//! old list is given back the waker after each, or it would grow, as it did in use). In
//! spread order, a re-poll's own memory (its future, its waker, its slot) is no longer in
//! the cache once there are many: the in-order row shows the work alone.

use std::fmt::Write as _;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;

use sd_notify_core::{ServiceHandle, Shutdown, sd_service};

use crate::service::Section;
use crate::stats::{median, quantile};

/// Child-mode argument.
pub const CHILD_ARG: &str = "__waiters";

/// The counts of waiting futures measured; the last is the one the issue names.
pub const COUNTS: [usize; 3] = [1_000, 10_000, 100_000];

/// Re-polls (or new futures) per batch of ours.
const OURS_PER_BATCH: usize = 20_000;
/// Scanned waker comparisons per batch of the old algorithm (its batch size is this ÷ count).
const OLD_WORK_PER_BATCH: usize = 20_000_000;

/// The two operations measured.
const OPS: [(&str, &str); 3] = [
    ("repoll", "re-poll of a waiting future, spread order"),
    ("repoll-in-order", "re-poll of a waiting future, in the order they were made"),
    ("new", "a new future's first poll, then its drop"),
];

/// A task's waker that does nothing when woken (nothing is woken here).
struct Task;

impl Wake for Task {
    fn wake(self: Arc<Self>) {}
}

/// The algorithm before the fix, copied from `sd-notify-core` (service/handle.rs before
/// issue 13): a poll checks the condition, scans the list for a waker that `will_wake`,
/// pushes the task's waker if none does, and checks again.
#[derive(Default)]
struct OldWaiters(Mutex<Vec<Waker>>);

impl OldWaiters {
    fn ready_when(&self, condition: impl Fn() -> bool, cx: &mut Context<'_>) -> Poll<()> {
        if condition() {
            return Poll::Ready(());
        }
        {
            let mut waiters = self.0.lock().unwrap_or_else(|p| p.into_inner());
            if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
                waiters.push(cx.waker().clone());
            }
        }
        if condition() { Poll::Ready(()) } else { Poll::Pending }
    }

    /// Takes back the waker a new future's poll pushed (the list keeps `len`).
    fn pop_to(&self, len: usize) {
        let extra = {
            let mut waiters = self.0.lock().unwrap_or_else(|p| p.into_inner());
            if waiters.len() > len { waiters.pop() } else { None }
        };
        drop(extra);
    }
}

/// The old condition's equivalent of ours (`stop_requested()`: a flag and a signal count).
static OLD_FLAG: AtomicBool = AtomicBool::new(false);
static OLD_SIGNALS: AtomicU32 = AtomicU32::new(0);

fn old_condition() -> bool {
    OLD_FLAG.load(Ordering::SeqCst) || OLD_SIGNALS.load(Ordering::SeqCst) > 0
}

/// Rounds, passed from [`child`] to the service fn.
static ROUNDS: OnceLock<usize> = OnceLock::new();

/// The futures' index for the `k`-th re-poll of a batch of `batch`: a prime stride, spread
/// over all `n` (as an executor polls its tasks: in no order the cache can follow), or
/// evenly spaced in the order made (so both orders cover all `n`, and the old scan reads
/// half the list on average in both).
fn index(k: usize, n: usize, batch: usize, spread: bool) -> usize {
    if spread { (k * 7_919) % n } else { (k * (n / batch).max(1)) % n }
}

/// The child: runs the measuring service and prints `ROUND <count> <op> <ours ns> <old ns>`
/// per round and `LEFT <count> <ours> <old>` (wakers still held once every future was
/// dropped).
pub fn child(rounds: usize) -> Result<(), String> {
    let _ = ROUNDS.set(rounds);
    if measure_in_service() == ExitCode::SUCCESS {
        Ok(())
    } else {
        Err("the measuring service failed".into())
    }
}

#[sd_service]
fn measure_in_service(service: ServiceHandle) -> Result<(), String> {
    let rounds = ROUNDS.get().copied().unwrap_or(1);
    for n in COUNTS {
        let tasks: Vec<Arc<Task>> = (0..n).map(|_| Arc::new(Task)).collect();
        let wakers: Vec<Waker> = tasks.iter().map(|t| Waker::from(Arc::clone(t))).collect();
        let mut ours: Vec<Pin<Box<Shutdown>>> = (0..n).map(|_| Box::pin(service.shutdown())).collect();
        let old = OldWaiters::default();
        for (future, waker) in ours.iter_mut().zip(&wakers) {
            let mut cx = Context::from_waker(waker);
            if future.as_mut().poll(&mut cx).is_ready() || old.ready_when(old_condition, &mut cx).is_ready() {
                return Err("a future completed: the service is stopping".into());
            }
        }
        let old_batch = (OLD_WORK_PER_BATCH / n).clamp(20, OURS_PER_BATCH);
        let extra: Vec<Waker> = (0..OURS_PER_BATCH).map(|_| Waker::from(Arc::new(Task))).collect();
        for round in 0..rounds {
            // Alternate which goes first, so neither always follows the other.
            let first_ours = round % 2 == 0;
            for (op, _) in OPS {
                let repoll = op != "new";
                let spread = op == "repoll";
                let mut time_ours = || {
                    let start = Instant::now();
                    if repoll {
                        for k in 0..OURS_PER_BATCH {
                            let i = index(k, n, OURS_PER_BATCH, spread);
                            let _ = ours[i].as_mut().poll(&mut Context::from_waker(&wakers[i]));
                        }
                    } else {
                        for waker in &extra {
                            let mut future = std::pin::pin!(service.shutdown());
                            let _ = future.as_mut().poll(&mut Context::from_waker(waker));
                        }
                    }
                    start.elapsed().as_nanos() as f64 / OURS_PER_BATCH as f64
                };
                let time_old = || {
                    let start = Instant::now();
                    if repoll {
                        for k in 0..old_batch {
                            let i = index(k, n, old_batch, spread);
                            let _ = old.ready_when(old_condition, &mut Context::from_waker(&wakers[i]));
                        }
                    } else {
                        for waker in &extra[..old_batch] {
                            let _ = old.ready_when(old_condition, &mut Context::from_waker(waker));
                            old.pop_to(n);
                        }
                    }
                    start.elapsed().as_nanos() as f64 / old_batch as f64
                };
                let (o, p) = if first_ours {
                    let o = time_ours();
                    (o, time_old())
                } else {
                    let p = time_old();
                    (time_ours(), p)
                };
                println!("ROUND {n} {op} {o:.1} {p:.1}");
            }
        }
        // The futures end (their tasks finished; the old ones had no `Drop` to tell the list).
        // Each task's waker still held is a clone of its `Arc` beyond the one in `tasks`.
        drop(ours);
        drop(wakers);
        let held = || tasks.iter().map(|t| Arc::strong_count(t) - 1).sum::<usize>();
        let held_by_both = held();
        drop(old);
        let left_ours = held();
        println!("LEFT {n} {left_ours} {}", held_by_both - left_ours);
    }
    Ok(())
}

/// Figures of one (count, operation).
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// Waiting futures.
    pub count: usize,
    /// `repoll` or `new`.
    pub op: &'static str,
    /// ns per poll of ours, every round.
    pub ours: Vec<f64>,
    /// ns per poll of the old algorithm, every round.
    pub old: Vec<f64>,
    /// old ÷ ours in the same round.
    pub ratio: Vec<f64>,
}

/// What the child measured.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// One per (count, operation), in [`COUNTS`] order, each count with its three operations.
    pub rows: Vec<Row>,
    /// (count, wakers left by ours, wakers left by the old algorithm).
    pub left: Vec<(usize, usize, usize)>,
    /// Rounds.
    pub rounds: usize,
}

/// Runs the child and gathers its figures.
pub fn measure(exe: &Path, rounds: usize) -> Result<Report, String> {
    let out = Command::new(exe)
        .args([CHILD_ARG, &rounds.to_string()])
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .env_remove("WATCHDOG_PID")
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("spawning the child: {e}"))?;
    if !out.status.success() {
        return Err(format!("the child failed: {}", out.status));
    }
    let mut report = Report { rounds, ..Report::default() };
    for n in COUNTS {
        for (op, _) in OPS {
            report.rows.push(Row { count: n, op, ..Row::default() });
        }
    }
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            ["ROUND", n, op, ours, old] => {
                let n: usize = n.parse().map_err(|_| format!("bad line {line:?}"))?;
                let (ours, old): (f64, f64) = (
                    ours.parse().map_err(|_| format!("bad line {line:?}"))?,
                    old.parse().map_err(|_| format!("bad line {line:?}"))?,
                );
                if let Some(row) = report.rows.iter_mut().find(|r| r.count == n && r.op == *op) {
                    row.ours.push(ours);
                    row.old.push(old);
                    row.ratio.push(old / ours);
                }
            }
            ["LEFT", n, ours, old] => {
                let parse = |s: &str| s.parse::<usize>().map_err(|_| format!("bad line {line:?}"));
                report.left.push((parse(n)?, parse(ours)?, parse(old)?));
            }
            _ => return Err(format!("unexpected line from the child: {line:?}")),
        }
    }
    Ok(report)
}

fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

fn spread_of(v: &[f64], digits: usize, suffix: &str) -> String {
    format!("{:.digits$}{suffix} ({:.digits$}–{:.digits$})", median(v), quantile(v, 0.25), quantile(v, 0.75))
}

/// The section of `BENCHMARKS.md`, and its rows for the targets table.
pub fn section(r: &Report) -> Section {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "The futures of `ServiceHandle::shutdown()` of a live `#[sd_service]` run (in a child process without `NOTIFY_SOCKET`), each with a task waker of its own and polled once, beside a local copy of the algorithm before issue 13 (one `Vec<Waker>` scanned with `will_wake` at every poll, cleared only when the event fires) holding the same wakers. {} rounds, ours and the old one timed in turn in each round; ns per poll (median, p25–p75) and the ratio of the two in the same round.\n",
        r.rounds
    );
    s += "| waiting futures | operation | ours, ns/poll | before the fix, ns/poll | before ÷ ours |\n|---:|---|---:|---:|---:|\n";
    for row in &r.rows {
        let label = OPS.iter().find(|(op, _)| *op == row.op).map_or(row.op, |(_, l)| l);
        let _ = writeln!(
            s,
            "| {} | {label} | {} | {} | {} |",
            thousands(row.count),
            spread_of(&row.ours, 0, ""),
            spread_of(&row.old, 0, ""),
            spread_of(&row.ratio, 1, "×"),
        );
    }
    s += "\nWakers still held once every future was dropped (tasks finished, no stop):\n\n| futures dropped | ours | before the fix |\n|---:|---:|---:|\n";
    for (n, ours, old) in &r.left {
        let _ = writeln!(s, "| {} | {ours} | {} |", thousands(*n), thousands(*old));
    }
    s += "\nOurs does the same work for every poll, whatever the count: it checks its condition, locks, updates or takes its own slot, and checks again. What grows from 1 000 to 100 000 in the spread-order row is memory: each re-poll touches its future, its task's waker and its slot, which no longer stay in the cache once there are 100 000 of each (the in-order row, where the hardware prefetches them, grows less). The old algorithm does that and scans, on average, half the list.\n";
    let mut summary = Vec::new();
    if let Some((n, ours, _)) = r.left.last() {
        summary.push(format!(
            "| ours: dropped `shutdown()` futures | — | wakers left after {} were dropped | 0 | {ours} | {} |",
            thousands(*n),
            if *ours == 0 { "met" } else { "**missed**" }
        ));
    }
    Section { markdown: s, summary }
}
