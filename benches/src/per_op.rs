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
