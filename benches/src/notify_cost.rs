//! Part 1: the cost of one notification, in two regimes.
//!
//! - [`Regime::SenderCost`]: what the sending thread pays, without the receiver's wake-up.
//!   The child binds the receiver itself (at the address the parent put in `NOTIFY_SOCKET`)
//!   and, in the same thread, drains it between batches of [`SENDER_COST_BATCH`] sends; only
//!   the sends are timed, so no cross-thread wake-up is in the figure.
//! - [`Regime::LiveReceiver`]: the parent binds the receiver and drains it in a thread that
//!   polls and reads until empty, as systemd's event loop does; every send may wake it, so
//!   the figure includes the scheduler and the receiver's pace.
//!
//! In both, one child process runs per address kind with `NOTIFY_SOCKET` in its environment,
//! so the implementations that read the variable find it without anyone calling `set_var`.
//! The child times every implementation in interleaved rounds (all of them, one batch each,
//! then again; the order rotates every round) and prints one line per batch; the parent
//! takes medians and, per round, the ratios to both floors measured in that same round.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sd_notify_core::NotifyAddress;

use crate::drain::Drain;
use crate::senders::{Impl, Payload, Sender};
use crate::stats::{median, quantile};

/// Child-mode argument (live receiver).
pub const CHILD_ARG: &str = "__notify-cost";
/// Child-mode argument (sender cost).
pub const SENDER_COST_ARG: &str = "__sender-cost";
/// Sends between two drains in the sender-cost regime: below `net.unix.max_dgram_qlen`
/// (10 by default), so no send finds the queue full.
pub const SENDER_COST_BATCH: usize = 8;

/// How the receiver runs while the sender is timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Regime {
    /// The sender's own thread drains between batches; only the sends are timed.
    SenderCost,
    /// A receiver thread of the parent process drains as datagrams arrive.
    LiveReceiver,
}

/// How much to measure.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Rounds (each implementation once per round).
    pub rounds: usize,
    /// Notifications per batch.
    pub n: usize,
}

/// Figures of one implementation for one payload.
#[derive(Debug, Clone, Default)]
pub struct Cell {
    /// ns/op of every round.
    pub ns: Vec<f64>,
    /// ns/op divided by the floor's ns/op in the same round and for the same payload.
    pub ratio: Vec<f64>,
    /// ns/op divided by the `sendto` floor's in the same round and for the same payload.
    pub ratio_sendto: Vec<f64>,
    /// CPU ns/op of the sending thread (`CLOCK_THREAD_CPUTIME_ID`), every round.
    pub cpu: Vec<f64>,
    /// CPU ns/op divided by the floor's in the same round.
    pub cpu_ratio: Vec<f64>,
    /// Voluntary context switches of the sender per notification, every round.
    pub blocked: Vec<f64>,
    /// Why it was not measured.
    pub unsupported: Option<String>,
}

/// The results for one kind of address.
#[derive(Debug, Clone)]
pub struct Table {
    /// `abstract` or `path`.
    pub kind: &'static str,
    /// The address used.
    pub address: String,
    /// By (implementation, payload).
    pub cells: BTreeMap<(usize, usize), Cell>,
    /// Sent by the child / received by the parent.
    pub sent: u64,
    /// Received by the parent's drain thread.
    pub received: u64,
    /// Wall time of the child.
    pub elapsed: Duration,
    /// The regime.
    pub regime: Regime,
    /// Timer overhead per notification subtracted, every round (sender cost only).
    pub timer_ns: Vec<f64>,
}

impl Table {
    /// The cell of `imp` for `payload`.
    pub fn cell(&self, imp: Impl, payload: Payload) -> Option<&Cell> {
        self.cells.get(&(index_of(imp), payload_index(payload)))
    }
}

fn index_of(imp: Impl) -> usize {
    Impl::ALL.iter().position(|&i| i == imp).unwrap_or(usize::MAX)
}

fn payload_index(p: Payload) -> usize {
    Payload::ALL.iter().position(|&q| q == p).unwrap_or(usize::MAX)
}

/// Runs the child for one address kind and collects its figures.
///
/// # Errors
/// When the receiver cannot be bound or the child cannot run.
pub fn measure(exe: &Path, cfg: Config, kind: &'static str, regime: Regime) -> Result<Table, String> {
    // Live receiver: bound and drained here. Sender cost: the child binds the address itself.
    let drain = match (regime, kind) {
        (Regime::SenderCost, _) => None,
        (_, "abstract") => Some(Drain::abstract_socket()),
        _ => Some(Drain::path_socket()),
    }
    .transpose()
    .map_err(|e| format!("binding the {kind} receiver: {e}"))?;
    let (key, value) = match &drain {
        Some(d) => d.env(),
        None => ("NOTIFY_SOCKET", fresh_address(kind).into()),
    };
    let before = drain.as_ref().map_or(0, Drain::received);
    let start = Instant::now();
    let child_arg = match regime {
        Regime::SenderCost => SENDER_COST_ARG,
        Regime::LiveReceiver => CHILD_ARG,
    };
    let mut child = Command::new(exe)
        .args([child_arg, &cfg.rounds.to_string(), &cfg.n.to_string()])
        .env(key, &value)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("spawning {}: {e}", exe.display()))?;
    let mut table = Table {
        kind,
        address: value.to_string_lossy().into_owned(),
        cells: BTreeMap::new(),
        sent: 0,
        received: 0,
        elapsed: Duration::ZERO,
        regime,
        timer_ns: Vec::new(),
    };
    let mut timer_by_round: BTreeMap<usize, f64> = BTreeMap::new();
    let mut rounds_of: BTreeMap<(usize, usize), Vec<usize>> = BTreeMap::new();
    let stdout = child.stdout.take().ok_or("no stdout")?;
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| e.to_string())?;
        let f: Vec<&str> = line.splitn(7, ' ').collect();
        let lookup = |i: &str, p: &str| -> Option<(usize, usize)> {
            Some((index_of(Impl::from_key(i)?), payload_index(Payload::from_key(p)?)))
        };
        match f.as_slice() {
            ["ROUND", r, i, p, ns, cpu, csw] => {
                if let (Some(k), Ok(r), Ok(ns), Ok(cpu), Ok(csw)) = (
                    lookup(i, p),
                    r.parse::<usize>(),
                    ns.parse::<f64>(),
                    cpu.parse::<f64>(),
                    csw.parse::<f64>(),
                ) {
                    let cell = table.cells.entry(k).or_default();
                    cell.ns.push(ns);
                    cell.cpu.push(cpu);
                    cell.blocked.push(csw);
                    rounds_of.entry(k).or_default().push(r);
                }
            }
            ["TIMER", r, ns] => {
                if let (Ok(r), Ok(ns)) = (r.parse::<usize>(), ns.parse::<f64>()) {
                    timer_by_round.insert(r, ns);
                }
            }
            ["RECEIVED", n] => table.received = n.parse().unwrap_or(0),
            ["UNSUPPORTED", i, p, reason @ ..] => {
                if let Some(k) = lookup(i, p) {
                    table.cells.entry(k).or_default().unsupported = Some(reason.join(" "));
                }
            }
            ["SENT", n] => table.sent = n.parse().unwrap_or(0),
            _ => eprintln!("  child: {line}"),
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    table.elapsed = start.elapsed();
    if !status.success() {
        return Err(format!("the {kind} child failed: {status}"));
    }
    if let Some(drain) = &drain {
        table.received = drain.wait_for(before + table.sent, Duration::from_secs(5)) - before;
    }
    // The timer's own cost per notification (two clock reads per batch), subtracted.
    if !timer_by_round.is_empty() {
        table.timer_ns = timer_by_round.values().copied().collect();
        for (k, cell) in table.cells.iter_mut() {
            for (ns, r) in cell.ns.iter_mut().zip(rounds_of.get(k).into_iter().flatten()) {
                *ns -= timer_by_round.get(r).copied().unwrap_or(0.0);
            }
        }
    }
    // Ratios to the floors, round by round.
    for p in 0..Payload::ALL.len() {
        let floor_of = |imp: Impl| {
            table.cells.get(&(index_of(imp), p)).map(|c| (c.ns.clone(), c.cpu.clone())).unwrap_or_default()
        };
        let (floor, floor_cpu) = floor_of(Impl::Floor);
        let (floor_sendto, _) = floor_of(Impl::FloorSendto);
        for ((_, q), cell) in table.cells.iter_mut() {
            if *q == p {
                cell.ratio = cell.ns.iter().zip(&floor).map(|(a, f)| a / f).collect();
                cell.ratio_sendto = cell.ns.iter().zip(&floor_sendto).map(|(a, f)| a / f).collect();
                cell.cpu_ratio = cell.cpu.iter().zip(&floor_cpu).map(|(a, f)| a / f).collect();
            }
        }
    }
    Ok(table)
}

/// The child: times every implementation against `NOTIFY_SOCKET`; prints `ROUND`,
/// `UNSUPPORTED` and `SENT` lines.
pub fn child(rounds: usize, n: usize) -> Result<(), String> {
    let address = NotifyAddress::from_env()
        .map_err(|e| e.to_string())?
        .ok_or("NOTIFY_SOCKET is not set: run bench-all, not this mode")?;
    let mut sent: u64 = 0;
    let mut senders = warm_senders(&address, (n / 10).max(10), &mut sent, |_| {});
    for round in 0..rounds {
        for payload in Payload::ALL {
            let mut idx: Vec<usize> = (0..senders.len()).filter(|&i| senders[i].1 == payload).collect();
            if !idx.is_empty() {
                let by = round % idx.len();
                idx.rotate_left(by);
            }
            for i in idx {
                let (imp, payload, s) = &mut senders[i];
                let csw0 = voluntary_switches();
                let cpu0 = thread_cpu_ns();
                let start = Instant::now();
                let mut failed = None;
                for _ in 0..n {
                    if let Err(e) = s.send() {
                        failed = Some(e);
                        break;
                    }
                    sent += 1;
                }
                let ns = start.elapsed().as_nanos() as f64 / n as f64;
                let cpu = (thread_cpu_ns() - cpu0) as f64 / n as f64;
                let csw = (voluntary_switches() - csw0) as f64 / n as f64;
                match failed {
                    None => {
                        println!("ROUND {round} {} {} {ns:.1} {cpu:.1} {csw:.4}", imp.key(), payload.key())
                    }
                    Some(e) => println!(
                        "UNSUPPORTED {} {} failed during round {round}: {e}",
                        imp.key(),
                        payload.key()
                    ),
                }
            }
        }
    }
    println!("SENT {sent}");
    Ok(())
}

/// Every implementation that can send to `address`, each warmed up with `warmup` sends of
/// its payload (`after_send(i)` after the `i`-th, `sent` counting them); one that cannot is
/// an `UNSUPPORTED` line and left out.
fn warm_senders(
    address: &NotifyAddress,
    warmup: usize,
    sent: &mut u64,
    mut after_send: impl FnMut(usize),
) -> Vec<(Impl, Payload, Sender)> {
    let mut senders = Vec::new();
    for payload in Payload::ALL {
        for imp in Impl::ALL {
            let mut s = match Sender::new(imp, payload, address) {
                Ok(s) => s,
                Err(e) => {
                    println!("UNSUPPORTED {} {} {e}", imp.key(), payload.key());
                    continue;
                }
            };
            let warmed = (0..warmup).try_for_each(|i| {
                s.send()?;
                *sent += 1;
                after_send(i);
                Ok::<(), String>(())
            });
            match warmed {
                Ok(()) => senders.push((imp, payload, s)),
                Err(e) => println!("UNSUPPORTED {} {} {e}", imp.key(), payload.key()),
            }
        }
    }
    senders
}

/// A fresh address of `kind` for the sender-cost child to bind.
pub fn fresh_address(kind: &str) -> String {
    let nonce =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let name = format!("sd-notify-bench-{}-{nonce}", std::process::id());
    match kind {
        "abstract" => format!("@{name}"),
        _ => std::env::temp_dir().join(format!("{name}.sock")).to_string_lossy().into_owned(),
    }
}

/// The sender-cost child: binds `NOTIFY_SOCKET` itself, then times every implementation,
/// draining the receiver in this same thread between batches of [`SENDER_COST_BATCH`]
/// (untimed). Prints `ROUND`, `TIMER`, `UNSUPPORTED`, `SENT` and `RECEIVED` lines.
pub fn sender_cost_child(rounds: usize, n: usize) -> Result<(), String> {
    use std::os::fd::{AsFd, AsRawFd};
    let address = NotifyAddress::from_env()
        .map_err(|e| e.to_string())?
        .ok_or("NOTIFY_SOCKET is not set: run bench-all, not this mode")?;
    let receiver = sd_notify_core::Receiver::bind(address.clone()).map_err(|e| format!("bind: {e}"))?;
    let fd = receiver.as_fd().as_raw_fd();
    let mut received: u64 = 0;
    let mut buf = [0u8; 4097];
    let mut drain = |received: &mut u64| loop {
        // SAFETY: `buf` is valid for writes of its length; `fd` lives as long as `receiver`.
        let got = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
        if got < 0 {
            break;
        }
        *received += 1;
    };
    let mut sent: u64 = 0;
    let warmup = (n / 10).max(10);
    // Drained batch by batch, and after each implementation's last warm-up send.
    let mut senders = warm_senders(&address, warmup, &mut sent, |i| {
        if i % SENDER_COST_BATCH == SENDER_COST_BATCH - 1 || i == warmup - 1 {
            drain(&mut received);
        }
    });
    for round in 0..rounds {
        // The timer's cost: the same batches with nothing in them.
        let mut empty: Vec<f64> = Vec::with_capacity(n / SENDER_COST_BATCH + 1);
        for _ in 0..n / SENDER_COST_BATCH {
            let start = Instant::now();
            for i in 0..SENDER_COST_BATCH {
                std::hint::black_box(i);
            }
            empty.push(start.elapsed().as_nanos() as f64 / SENDER_COST_BATCH as f64);
        }
        println!("TIMER {round} {:.2}", median(&empty));
        for payload in Payload::ALL {
            // Finely interleaved: one batch of every implementation in turn (the order rotating
            // batch by batch), so that all of them share the machine's noisy moments alike.
            let idx: Vec<usize> = (0..senders.len()).filter(|&i| senders[i].1 == payload).collect();
            // ns/op of every batch, per implementation: the median is what a send costs when
            // nothing preempts the thread (one preemption in a batch would add milliseconds).
            let mut timed: Vec<Vec<f64>> = vec![Vec::with_capacity(n / SENDER_COST_BATCH + 1); idx.len()];
            let mut failed: Vec<Option<String>> = vec![None; idx.len()];
            let csw0 = voluntary_switches();
            let mut done = 0;
            let mut batch = 0;
            while done + SENDER_COST_BATCH <= n {
                let k = SENDER_COST_BATCH;
                for j in 0..idx.len() {
                    let slot = (j + batch + round) % idx.len();
                    if failed[slot].is_some() {
                        continue;
                    }
                    let s = &mut senders[idx[slot]].2;
                    let start = Instant::now();
                    for _ in 0..k {
                        if let Err(e) = s.send() {
                            failed[slot] = Some(e);
                            break;
                        }
                    }
                    timed[slot].push(start.elapsed().as_nanos() as f64 / k as f64);
                    sent += k as u64;
                    drain(&mut received);
                }
                done += k;
                batch += 1;
            }
            let csw = (voluntary_switches() - csw0) as f64 / (n * idx.len().max(1)) as f64;
            for (slot, &i) in idx.iter().enumerate() {
                let (imp, payload, _) = &senders[i];
                match &failed[slot] {
                    None => {
                        let ns = median(&timed[slot]);
                        println!("ROUND {round} {} {} {ns:.1} {ns:.1} {csw:.4}", imp.key(), payload.key())
                    }
                    Some(e) => println!(
                        "UNSUPPORTED {} {} failed during round {round}: {e}",
                        imp.key(),
                        payload.key()
                    ),
                }
            }
        }
    }
    drain(&mut received);
    println!("SENT {sent}");
    println!("RECEIVED {received}");
    Ok(())
}

/// Voluntary context switches of the calling thread so far: each is a send that blocked
/// (the receiver's queue was full) or another wait.
pub fn voluntary_switches() -> i64 {
    // SAFETY: all-zero is a valid rusage; getrusage fills it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a rusage.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    ru.ru_nvcsw
}

/// CPU time of the calling thread, ns.
pub fn thread_cpu_ns() -> i64 {
    // SAFETY: all-zero is a valid timespec; clock_gettime fills it.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as i64 * 1_000_000_000 + ts.tv_nsec as i64
}

/// Median with the interquartile range, or a dash.
pub fn fmt_spread(v: &[f64], digits: usize, suffix: &str) -> String {
    if v.is_empty() {
        return "—".into();
    }
    format!("{:.d$}{suffix} ({:.d$}–{:.d$})", median(v), quantile(v, 0.25), quantile(v, 0.75), d = digits)
}

/// Median wall ns/op with its interquartile range.
pub fn fmt_ns(cell: Option<&Cell>) -> String {
    cell.map_or("—".into(), |c| fmt_spread(&c.ns, 0, ""))
}

/// Median of the per-round wall-time ratios to the floor.
pub fn fmt_ratio(cell: Option<&Cell>) -> String {
    match cell {
        Some(c) if !c.ratio.is_empty() => format!("{:.2}×", median(&c.ratio)),
        _ => "—".into(),
    }
}

/// Median with the range over rounds (min–max), or a dash.
pub fn fmt_range(v: &[f64], digits: usize, suffix: &str) -> String {
    if v.is_empty() {
        return "—".into();
    }
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{:.d$}{suffix} ({min:.d$}–{max:.d$})", median(v), d = digits)
}

/// The report section for one table.
pub fn markdown(t: &Table, cfg: Config) -> String {
    let live = t.regime == Regime::LiveReceiver;
    let mut s = format!(
        "#### {}, receiver on a{} {} address (`NOTIFY_SOCKET={}`)\n\n",
        if live { "Live receiver" } else { "Sender cost" },
        if t.kind == "abstract" { "n" } else { "" },
        if t.kind == "abstract" { "abstract" } else { "filesystem path" },
        t.address
    );
    let mut notes = Vec::new();
    for p in Payload::ALL {
        if live {
            s += &format!(
                "{}:\n\n| implementation | wall ns/op, median (p25–p75) | × `send` floor, median (min–max of rounds) | × `sendto` floor, median (min–max) | CPU ns/op of the sender | × `send` floor (CPU), median (min–max) | sender blocked / op |\n|---|---:|---:|---:|---:|---:|---:|\n",
                p.label()
            );
        } else {
            s += &format!(
                "{}:\n\n| implementation | ns/op, median (p25–p75) | × `send` floor, median (min–max of rounds) | × `sendto` floor, median (min–max of rounds) | sender blocked / op |\n|---|---:|---:|---:|---:|\n",
                p.label()
            );
        }
        for imp in Impl::ALL {
            let c = t.cell(imp, p);
            let get = |f: fn(&Cell) -> &Vec<f64>| c.map(f).cloned().unwrap_or_default();
            let blocked = get(|c| &c.blocked)
                .first()
                .map_or("—".into(), |_| format!("{:.3}", median(&get(|c| &c.blocked))));
            if live {
                s += &format!(
                    "| {} | {} | {} | {} | {} | {} | {} |\n",
                    imp.label(),
                    fmt_spread(&get(|c| &c.ns), 0, ""),
                    fmt_range(&get(|c| &c.ratio), 2, "×"),
                    fmt_range(&get(|c| &c.ratio_sendto), 2, "×"),
                    fmt_spread(&get(|c| &c.cpu), 0, ""),
                    fmt_range(&get(|c| &c.cpu_ratio), 2, "×"),
                    blocked,
                );
            } else {
                s += &format!(
                    "| {} | {} | {} | {} | {} |\n",
                    imp.label(),
                    fmt_spread(&get(|c| &c.ns), 0, ""),
                    fmt_range(&get(|c| &c.ratio), 2, "×"),
                    fmt_range(&get(|c| &c.ratio_sendto), 2, "×"),
                    blocked,
                );
            }
            if let Some(reason) = c.and_then(|c| c.unsupported.as_ref()) {
                let why = if imp == Impl::SdNotify && t.kind == "abstract" {
                    " (sd-notify 0.5 hands `NOTIFY_SOCKET` to `UnixDatagram::connect` as a path: an `@name` is taken as a relative file name, so abstract addresses are unsupported; see the path table for it)"
                } else {
                    ""
                };
                let note = format!("- {}: not measured: {reason}{why}", imp.label());
                if !notes.contains(&note) {
                    notes.push(note);
                }
            }
        }
        s += "\n";
    }
    if live {
        s += &format!(
            "{} rounds × {} notifications per implementation and payload, interleaved (order rotated each round). Wall ns/op: batch wall time ÷ batch size. × floor: per round, ns/op ÷ that floor's ns/op in the same round; the median over rounds, and in brackets the lowest and highest round. CPU ns/op: the sending thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`) ÷ batch size. Sender blocked / op: voluntary context switches of the sender per notification (a send that found the receiver's queue full, `net.unix.max_dgram_qlen` = {}); where it is not near 0, part of the wall figure is the receiver's pace. Child wall time {:.1} s. Datagrams sent {} / received {}{}.\n",
            cfg.rounds,
            cfg.n,
            max_dgram_qlen(),
            t.elapsed.as_secs_f64(),
            t.sent,
            t.received,
            if t.sent == t.received {
                ""
            } else {
                " — MISMATCH: some implementation reported success without delivering"
            }
        );
    } else {
        s += &format!(
            "{} rounds × {} notifications per implementation and payload, finely interleaved: batches of {SENDER_COST_BATCH} sends, one batch of every implementation in turn (order rotated batch by batch), so all of them share the machine's noisy moments; after each batch the same thread drains the receiver (untimed). ns/op of a round: the median over its batches of (batch wall time ÷ {SENDER_COST_BATCH}) — robust to the preemptions of a shared machine, where one in a batch adds milliseconds — minus the timer's own cost (the same batches with nothing in them: {} ns/op, median over rounds); the table shows the median over rounds (p25–p75). × floor: per round, ns/op ÷ that floor's ns/op in the same round; the median over rounds, and in brackets the lowest and highest round. Sender blocked / op: voluntary context switches of the thread over the round ÷ notifications (0: no send waited for the receiver). Child wall time {:.1} s. Datagrams sent {} / received {}{}.\n",
            cfg.rounds,
            cfg.n,
            if t.timer_ns.is_empty() { "?".into() } else { format!("{:.1}", median(&t.timer_ns)) },
            t.elapsed.as_secs_f64(),
            t.sent,
            t.received,
            if t.sent == t.received {
                ""
            } else {
                " — MISMATCH: some implementation reported success without delivering"
            }
        );
    }
    if !notes.is_empty() {
        s += "\n";
        s += &notes.join("\n");
        s += "\n";
    }
    s
}

/// `net.unix.max_dgram_qlen`, or `?`.
fn max_dgram_qlen() -> String {
    std::fs::read_to_string("/proc/sys/net/unix/max_dgram_qlen").map_or("?".into(), |q| q.trim().to_owned())
}

/// User-space encoding cost of ours, without any system call: what `Notifier::notify` does
/// before its `send(2)` beyond what `Notifier::send(&msg)` does.
#[derive(Debug, Clone)]
pub struct EncodeCost {
    /// (what, payload, ns per call every round).
    pub rows: Vec<(&'static str, Option<Payload>, Vec<f64>)>,
    /// Calls per round.
    pub n: usize,
}

/// Times `Message::from_states` per payload and `Message::new()`, `rounds` × `n` calls.
pub fn encode_cost(rounds: usize, n: usize) -> EncodeCost {
    use sd_notify_core::{Message, NotifyState};
    use std::hint::black_box;
    let mut rows: Vec<(&'static str, Option<Payload>, Vec<f64>)> = vec![
        ("`Message::from_states(&[…])`", Some(Payload::Ready), Vec::new()),
        ("`Message::from_states(&[…])`", Some(Payload::Status60), Vec::new()),
        (
            "`Message::new()` (a `const fn`: at run time the compiler materialises the constant with a 4 KiB `memset`; the send paths do not call it)",
            None,
            Vec::new(),
        ),
    ];
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..n {
            let _ = black_box(Message::from_states(black_box(&[NotifyState::Ready])));
        }
        rows[0].2.push(t.elapsed().as_nanos() as f64 / n as f64);
        let t = Instant::now();
        for _ in 0..n {
            let _ = black_box(Message::from_states(black_box(&[NotifyState::Status(black_box(
                crate::senders::STATUS_VALUE,
            ))])));
        }
        rows[1].2.push(t.elapsed().as_nanos() as f64 / n as f64);
        let t = Instant::now();
        for _ in 0..n {
            black_box(Message::new());
        }
        rows[2].2.push(t.elapsed().as_nanos() as f64 / n as f64);
    }
    EncodeCost { rows, n }
}

/// The report section for [`encode_cost`].
pub fn encode_markdown(e: &EncodeCost, rounds: usize) -> String {
    let mut s = String::from(
        "### 1d. `Message::from_states` alone, without sending\n\n| call | payload | ns per call, median (p25–p75) |\n|---|---|---:|\n",
    );
    for (what, p, ns) in &e.rows {
        s += &format!(
            "| {what} | {} | {:.0} ({:.0}–{:.0}) |\n",
            p.map_or("—", |p| p.label()),
            median(ns),
            quantile(ns, 0.25),
            quantile(ns, 0.75)
        );
    }
    s += &format!(
        "\n{rounds} rounds × {} calls, result passed through `black_box`. `Message::from_states` returns its 4 KiB message by value, and that move is most of these figures; `Notifier::notify(&[…])` does not pay it (it builds in place, and a single state goes out without a `Message`: a constant line such as `READY=1` as it is, a `STATUS=` line checked as it is copied). What `notify` pays over `send(&msg)` is in 1b, in instructions.\n",
        e.n
    );
    s
}
