//! Part 2: system calls and heap allocations per notification.
//!
//! For each implementation and payload the parent runs a child that sends W warm-up
//! notifications and then exactly K more. Allocations are counted by the binary's counting
//! allocator over the K sends only. System calls are counted by `strace -f -c` over the whole
//! child, once with K = 0 and once with K = [`K`]; the difference divided by K is what the
//! sends cost (start-up, `dlopen`, first-use socket creation and warm-up cancel out). The
//! child has no other thread; the receiver drains in the parent, which strace does not trace.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::drain::Drain;
use crate::senders::{Impl, Payload, Sender};

/// Child-mode argument.
pub const CHILD_ARG: &str = "__count";
/// Notifications counted.
pub const K: u64 = 1000;
/// Warm-up notifications before counting.
pub const WARMUP: u64 = 100;

/// Figures of one implementation for one payload.
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// The implementation.
    pub imp: Option<Impl>,
    /// The payload.
    pub payload: Option<Payload>,
    /// `abstract` or `path`.
    pub address_kind: &'static str,
    /// Allocation calls per notification.
    pub allocs: Option<f64>,
    /// Bytes requested per notification.
    pub alloc_bytes: Option<f64>,
    /// System calls per notification, by name.
    pub syscalls: Option<BTreeMap<String, f64>>,
    /// Why something was not measured.
    pub note: Option<String>,
}

/// The child: warm up, then count allocations over `k` sends. Prints `ALLOCS calls bytes`
/// and `SENT n`, or `UNSUPPORTED reason`.
pub fn child(imp: Impl, payload: Payload, k: u64, warmup: u64) -> Result<(), String> {
    let address = sd_notify_core::NotifyAddress::from_env()
        .map_err(|e| e.to_string())?
        .ok_or("NOTIFY_SOCKET is not set: run bench-all, not this mode")?;
    let mut s = match Sender::new(imp, payload, &address) {
        Ok(s) => s,
        Err(e) => {
            println!("UNSUPPORTED {e}");
            return Ok(());
        }
    };
    for _ in 0..warmup {
        if let Err(e) = s.send() {
            println!("UNSUPPORTED {e}");
            return Ok(());
        }
    }
    let (c0, b0) = crate::alloc_count::snapshot();
    for _ in 0..k {
        s.send()?;
    }
    let (c1, b1) = crate::alloc_count::snapshot();
    println!("ALLOCS {} {}", c1 - c0, b1 - b0);
    println!("SENT {}", warmup + k);
    Ok(())
}

struct ChildOut {
    allocs: Option<(u64, u64)>,
    sent: u64,
    unsupported: Option<String>,
}

fn run_child(
    exe: &Path,
    drain: &Drain,
    imp: Impl,
    payload: Payload,
    k: u64,
    strace_out: Option<&Path>,
) -> Result<ChildOut, String> {
    let (key, value) = drain.env();
    let before = drain.received();
    let args =
        [CHILD_ARG.to_string(), imp.key().into(), payload.key().into(), k.to_string(), WARMUP.to_string()];
    let mut cmd = match strace_out {
        Some(out) => {
            let mut c = Command::new("strace");
            c.arg("-f").arg("-c").arg("-o").arg(out).arg("--").arg(exe).args(&args);
            c
        }
        None => {
            let mut c = Command::new(exe);
            c.args(&args);
            c
        }
    };
    let out = cmd.env(key, value).output().map_err(|e| format!("running the child: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "child failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let mut res = ChildOut { allocs: None, sent: 0, unsupported: None };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split(' ').collect();
        match f.as_slice() {
            ["ALLOCS", c, b] => res.allocs = Some((c.parse().unwrap_or(0), b.parse().unwrap_or(0))),
            ["SENT", n] => res.sent = n.parse().unwrap_or(0),
            ["UNSUPPORTED", reason @ ..] => res.unsupported = Some(reason.join(" ")),
            _ => {}
        }
    }
    if res.unsupported.is_none() {
        let got = drain.wait_for(before + res.sent, Duration::from_secs(5)) - before;
        if got != res.sent {
            return Err(format!("sent {} but the receiver got {got}", res.sent));
        }
    }
    Ok(res)
}

/// Parses `strace -c` output into calls by syscall name.
pub fn parse_strace_summary(text: &str) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for line in text.lines() {
        let t: Vec<&str> = line.split_whitespace().collect();
        if t.len() < 5 || t[0].starts_with('%') || t[0].starts_with('-') {
            continue;
        }
        let name = t[t.len() - 1];
        if name == "total" {
            continue;
        }
        if let Ok(calls) = t[3].parse::<u64>() {
            m.insert(name.to_owned(), calls);
        }
    }
    m
}

/// Is `strace` usable here?
pub fn strace_available() -> bool {
    Command::new("strace")
        .args(["-f", "-c", "-o", "/dev/null", "--", "true"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Measures every implementation and payload.
pub fn measure(exe: &Path, abstract_drain: &Drain, path_drain: &Drain) -> Vec<Row> {
    let use_strace = strace_available();
    let tmp = std::env::temp_dir().join(format!("sd-notify-bench-strace-{}", std::process::id()));
    let mut rows = Vec::new();
    for imp in Impl::ALL {
        for payload in Payload::ALL {
            // sd-notify 0.5 treats "@name" as a relative path: give it the socket file.
            let (kind, drain) =
                if imp == Impl::SdNotify { ("path", path_drain) } else { ("abstract", abstract_drain) };
            let mut row =
                Row { imp: Some(imp), payload: Some(payload), address_kind: kind, ..Row::default() };
            match run_child(exe, drain, imp, payload, K, None) {
                Ok(ChildOut { unsupported: Some(r), .. }) => row.note = Some(r),
                Ok(ChildOut { allocs: Some((c, b)), .. }) => {
                    row.allocs = Some(c as f64 / K as f64);
                    row.alloc_bytes = Some(b as f64 / K as f64);
                }
                Ok(_) => row.note = Some("child printed no counts".into()),
                Err(e) => row.note = Some(e),
            }
            if row.note.is_none() {
                if use_strace {
                    let f0 = tmp.with_extension("k0");
                    let f1 = tmp.with_extension("k1");
                    let r0 = run_child(exe, drain, imp, payload, 0, Some(&f0));
                    let r1 = run_child(exe, drain, imp, payload, K, Some(&f1));
                    match (r0, r1) {
                        (Ok(_), Ok(_)) => {
                            let s0 = parse_strace_summary(&std::fs::read_to_string(&f0).unwrap_or_default());
                            let s1 = parse_strace_summary(&std::fs::read_to_string(&f1).unwrap_or_default());
                            let mut per = BTreeMap::new();
                            for (name, &c1) in &s1 {
                                let c0 = s0.get(name).copied().unwrap_or(0);
                                let d = c1 as f64 - c0 as f64;
                                if d.abs() / K as f64 >= 0.005 {
                                    per.insert(name.clone(), d / K as f64);
                                }
                            }
                            row.syscalls = Some(per);
                        }
                        (Err(e), _) | (_, Err(e)) => row.note = Some(format!("strace run: {e}")),
                    }
                    let _ = std::fs::remove_file(&f0);
                    let _ = std::fs::remove_file(&f1);
                } else {
                    row.note = Some("strace not available: syscalls not counted".into());
                }
            }
            rows.push(row);
        }
    }
    rows
}

fn fmt_num(x: f64) -> String {
    if (x - x.round()).abs() < 0.005 { format!("{}", x.round() as i64) } else { format!("{x:.2}") }
}

/// The report section.
pub fn markdown(rows: &[Row]) -> String {
    let mut s = String::from(
        "| implementation | payload | address | syscalls / op | which (per op) | allocations / op | bytes allocated / op |\n|---|---|---|---:|---|---:|---:|\n",
    );
    let mut notes = Vec::new();
    for r in rows {
        let (Some(imp), Some(p)) = (r.imp, r.payload) else { continue };
        let (total, which) = match &r.syscalls {
            Some(m) => (
                fmt_num(m.values().sum()),
                m.iter().map(|(k, v)| format!("{k} {}", fmt_num(*v))).collect::<Vec<_>>().join(", "),
            ),
            None => ("—".into(), "—".into()),
        };
        s += &format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            imp.label(),
            p.label(),
            r.address_kind,
            total,
            which,
            r.allocs.map(fmt_num).unwrap_or_else(|| "—".into()),
            r.alloc_bytes.map(|b| format!("{b:.0}")).unwrap_or_else(|| "—".into()),
        );
        if let Some(n) = &r.note {
            notes.push(format!("- {} with {}: {n}", imp.label(), p.label()));
        }
    }
    s += &format!(
        "\nK = {K} notifications after {WARMUP} warm-up ones, in a child process with no other thread. Syscalls: `strace -f -c` of a run with K = {K} minus one with K = 0, divided by K. Allocations: a counting `#[global_allocator]` (calls to alloc/alloc_zeroed/realloc) over the K sends only.\n"
    );
    if !notes.is_empty() {
        s += "\n";
        s += &notes.join("\n");
        s += "\n";
    }
    s
}

/// Child-mode argument of the callgrind part.
pub const CALLGRIND_ARG: &str = "__callgrind";
/// Notifications in the first counted phase of [`callgrind_child`].
pub const CALLGRIND_N: u64 = 200;
/// Notifications the second phase sends beyond the first.
pub const CALLGRIND_M: u64 = 1000;

/// What a callgrind row counts: a send of one implementation, or a piece of ours alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// One notification by this implementation.
    Send(Impl),
    /// `NotifyState::validate()` of the payload's state alone: what validation needs.
    Validate,
    /// `Message::from_states(&[state])` alone: validation and encoding, no system call.
    Encode,
    /// A counted call that does nothing: the harness's own cost per call.
    Empty,
}

impl Counted {
    /// Command-line name.
    pub fn key(self) -> &'static str {
        match self {
            Counted::Send(imp) => imp.key(),
            Counted::Validate => "validate",
            Counted::Encode => "encode",
            Counted::Empty => "empty",
        }
    }

    /// From [`Counted::key`].
    pub fn from_key(key: &str) -> Option<Counted> {
        match key {
            "validate" => Some(Counted::Validate),
            "encode" => Some(Counted::Encode),
            "empty" => Some(Counted::Empty),
            _ => Impl::from_key(key).map(Counted::Send),
        }
    }

    /// Report name.
    pub fn label(self) -> String {
        match self {
            Counted::Send(imp) => imp.label().to_owned(),
            Counted::Validate => "ours, part: `NotifyState::validate()` alone (what validation needs)".into(),
            Counted::Encode => {
                "ours, part: `Message::from_states(&[state])` alone (validate + encode, no send)".into()
            }
            Counted::Empty => "harness: a counted call that does nothing".into(),
        }
    }
}

/// Every row of the callgrind table, in report order.
pub fn callgrind_rows() -> Vec<Counted> {
    let mut v: Vec<Counted> = Impl::ALL.into_iter().map(Counted::Send).collect();
    v.extend([Counted::Validate, Counted::Empty]);
    v
}

/// The thing a counted call runs.
enum Work {
    Send(Sender),
    Validate(sd_notify_core::NotifyState<'static>),
    Encode(sd_notify_core::NotifyState<'static>),
    Empty,
}

impl Work {
    #[inline(always)]
    fn run(&mut self) -> Result<(), String> {
        match self {
            Work::Send(s) => s.send(),
            Work::Validate(state) => std::hint::black_box(&*state).validate().map_err(|e| e.to_string()),
            Work::Encode(state) => {
                let msg =
                    sd_notify_core::Message::from_states(std::slice::from_ref(std::hint::black_box(&*state)));
                std::hint::black_box(&msg);
                msg.map(drop).map_err(|e| e.to_string())
            }
            Work::Empty => Ok(()),
        }
    }
}

/// One counted call of the first phase (a function of its own, so callgrind attributes
/// inclusive cost to it; the tag keeps the two phases from being merged into one function).
#[inline(never)]
fn callgrind_counted_first(w: &mut Work) -> Result<(), String> {
    std::hint::black_box(1u8);
    w.run()
}

/// One counted call of the second phase.
#[inline(never)]
fn callgrind_counted_second(w: &mut Work) -> Result<(), String> {
    std::hint::black_box(2u8);
    w.run()
}

/// The callgrind child: binds `NOTIFY_SOCKET` itself (so nothing waits for another process),
/// warms up, then makes [`CALLGRIND_N`] counted calls through one function and `N + M`
/// through another, draining the receiver between calls (outside the counted functions).
/// The parent reads both functions' inclusive instruction counts from callgrind's output.
pub fn callgrind_child(what: Counted, payload: Payload) -> Result<(), String> {
    use sd_notify_core::NotifyState;
    use std::os::fd::{AsFd, AsRawFd};
    let address = sd_notify_core::NotifyAddress::from_env()
        .map_err(|e| e.to_string())?
        .ok_or("NOTIFY_SOCKET is not set: run bench-all, not this mode")?;
    let receiver = sd_notify_core::Receiver::bind(address.clone()).map_err(|e| format!("bind: {e}"))?;
    let fd = receiver.as_fd().as_raw_fd();
    let mut buf = [0u8; 4097];
    let mut drain = || loop {
        // SAFETY: `buf` is valid for writes of its length; `fd` lives as long as `receiver`.
        if unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) } < 0 {
            break;
        }
    };
    let state = match payload {
        Payload::Ready => NotifyState::Ready,
        Payload::Status60 => NotifyState::Status(crate::senders::STATUS_VALUE),
    };
    let mut work = match what {
        Counted::Send(imp) => match Sender::new(imp, payload, &address) {
            Ok(s) => Work::Send(s),
            Err(e) => {
                println!("UNSUPPORTED {e}");
                return Ok(());
            }
        },
        Counted::Validate => Work::Validate(state),
        Counted::Encode => Work::Encode(state),
        Counted::Empty => Work::Empty,
    };
    for i in 0..WARMUP {
        if let Err(e) = work.run() {
            println!("UNSUPPORTED {e}");
            return Ok(());
        }
        if i % 8 == 7 {
            drain();
        }
    }
    drain();
    for (count, f) in [
        (CALLGRIND_N, callgrind_counted_first as fn(&mut Work) -> Result<(), String>),
        (CALLGRIND_N + CALLGRIND_M, callgrind_counted_second),
    ] {
        for i in 0..count {
            f(&mut work)?;
            if i % 8 == 7 {
                drain();
            }
        }
        drain();
    }
    println!("DONE");
    Ok(())
}

/// Inclusive instruction counts and call counts of every called function, from a raw
/// callgrind output file (summed over its call sites).
pub fn callgrind_inclusive(text: &str) -> BTreeMap<String, (u64, u64)> {
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut out: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut callee: Option<String> = None;
    let mut pending_calls: Option<u64> = None;
    // "fn=(12) name" defines id 12; "cfn=(12)" refers to it.
    let mut resolve = |spec: &str| -> String {
        let spec = spec.trim();
        if let Some(rest) = spec.strip_prefix('(') {
            if let Some((id, name)) = rest.split_once(')') {
                let name = name.trim();
                if !name.is_empty() {
                    names.insert(id.to_owned(), name.to_owned());
                    return name.to_owned();
                }
                return names.get(id).cloned().unwrap_or_default();
            }
        }
        spec.to_owned()
    };
    for line in text.lines() {
        if let Some(spec) = line.strip_prefix("cfn=") {
            callee = Some(resolve(spec));
        } else if let Some(spec) = line.strip_prefix("fn=") {
            resolve(spec);
        } else if let Some(c) = line.strip_prefix("calls=") {
            pending_calls = c.split_whitespace().next().and_then(|n| n.parse().ok());
        } else if let Some(calls) = pending_calls.take() {
            let ir = line.split_whitespace().nth(1).and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
            if let Some(name) = &callee {
                let e = out.entry(name.clone()).or_default();
                e.0 += ir;
                e.1 += calls;
            }
        }
    }
    out
}

/// One row of the callgrind table.
#[derive(Debug, Clone)]
pub struct CallgrindRow {
    /// What was counted.
    pub what: Counted,
    /// The payload.
    pub payload: Payload,
    /// `abstract` or `path`.
    pub address_kind: &'static str,
    /// User-space instructions per call: (second − first) / M.
    pub per_call: Option<f64>,
    /// The same from each phase alone (first / N, second / (N + M)): a check of determinism.
    pub per_call_phases: Option<(f64, f64)>,
    /// Why it was not measured.
    pub note: Option<String>,
}

/// Runs the callgrind child under `valgrind --tool=callgrind` for every row and payload.
///
/// # Errors
/// When valgrind is not installed.
pub fn callgrind_measure(exe: &Path) -> Result<Vec<CallgrindRow>, String> {
    let ok = Command::new("valgrind").arg("--version").output().is_ok_and(|o| o.status.success());
    if !ok {
        return Err("valgrind not found (apt-get install valgrind)".into());
    }
    let tmp = std::env::temp_dir().join(format!("sd-notify-bench-callgrind-{}", std::process::id()));
    let mut rows = Vec::new();
    for payload in Payload::ALL {
        for what in callgrind_rows() {
            let kind = if what == Counted::Send(Impl::SdNotify) { "path" } else { "abstract" };
            let mut row = CallgrindRow {
                what,
                payload,
                address_kind: kind,
                per_call: None,
                per_call_phases: None,
                note: None,
            };
            let out = tmp.with_extension(format!("{}-{}", what.key(), payload.key()));
            let address = crate::notify_cost::fresh_address(kind);
            let res = Command::new("valgrind")
                .arg("--tool=callgrind")
                .arg(format!("--callgrind-out-file={}", out.display()))
                .arg("--")
                .arg(exe)
                .args([CALLGRIND_ARG, what.key(), payload.key()])
                .env("NOTIFY_SOCKET", &address)
                .output();
            match res {
                Err(e) => row.note = Some(format!("running valgrind: {e}")),
                Ok(o) if !o.status.success() => {
                    row.note = Some(format!("child failed: {}", String::from_utf8_lossy(&o.stderr).trim()))
                }
                Ok(o) => {
                    let stdout = String::from_utf8_lossy(&o.stdout);
                    if let Some(r) = stdout.lines().find_map(|l| l.strip_prefix("UNSUPPORTED ")) {
                        row.note = Some(r.to_owned());
                    } else {
                        let text = std::fs::read_to_string(&out).unwrap_or_default();
                        let inc = callgrind_inclusive(&text);
                        let find = |needle: &str| {
                            inc.iter().find(|(name, _)| name.contains(needle)).map(|(_, v)| *v)
                        };
                        match (find("callgrind_counted_first"), find("callgrind_counted_second")) {
                            (Some((a, na)), Some((b, nb)))
                                if na == CALLGRIND_N && nb == CALLGRIND_N + CALLGRIND_M =>
                            {
                                row.per_call = Some((b as f64 - a as f64) / CALLGRIND_M as f64);
                                row.per_call_phases = Some((a as f64 / na as f64, b as f64 / nb as f64));
                            }
                            other => {
                                row.note =
                                    Some(format!("counted functions not found in the output: {other:?}"))
                            }
                        }
                    }
                }
            }
            let _ = std::fs::remove_file(&out);
            println!(
                "  {:<14} {:<8} {}",
                what.key(),
                payload.key(),
                row.per_call
                    .map_or_else(|| row.note.clone().unwrap_or_default(), |p| format!("{p:.1} Ir/call"))
            );
            rows.push(row);
        }
    }
    Ok(rows)
}

/// Self cost per function inside the counted calls of one row (`--toggle-collect` on the
/// second counted function, then `callgrind_annotate`): where the instructions go.
pub fn callgrind_breakdown(
    exe: &Path,
    what: Counted,
    payload: Payload,
) -> Result<Vec<(String, f64)>, String> {
    let out = std::env::temp_dir().join(format!(
        "sd-notify-bench-callgrind-{}-breakdown-{}",
        std::process::id(),
        payload.key()
    ));
    let o = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg("--toggle-collect=*callgrind_counted_second*")
        .arg("--")
        .arg(exe)
        .args([CALLGRIND_ARG, what.key(), payload.key()])
        .env("NOTIFY_SOCKET", crate::notify_cost::fresh_address("abstract"))
        .output()
        .map_err(|e| format!("running valgrind: {e}"))?;
    if !o.status.success() {
        return Err(format!("child failed: {}", String::from_utf8_lossy(&o.stderr).trim()));
    }
    let a = Command::new("callgrind_annotate")
        .args(["--threshold=100", "--inclusive=no"])
        .arg(&out)
        .output()
        .map_err(|e| format!("callgrind_annotate: {e}"))?;
    let _ = std::fs::remove_file(&out);
    let calls = (CALLGRIND_N + CALLGRIND_M) as f64;
    let mut rows = Vec::new();
    for line in String::from_utf8_lossy(&a.stdout).lines() {
        let t = line.trim_start();
        let Some((num, rest)) = t.split_once(' ') else { continue };
        let Ok(ir) = num.replace(',', "").parse::<u64>() else { continue };
        let rest = rest.trim_start();
        let rest = if rest.starts_with('(') {
            rest.split_once(')').map_or(rest, |(_, r)| r.trim_start())
        } else {
            rest
        };
        if rest.is_empty() || rest.starts_with("PROGRAM TOTALS") || rest.starts_with("Ir") {
            continue;
        }
        let func = rest.split_once(':').map_or(rest, |(_, f)| f);
        let func = func.split(" [").next().unwrap_or(func).trim();
        rows.push((func.to_owned(), ir as f64 / calls));
    }
    Ok(rows)
}
