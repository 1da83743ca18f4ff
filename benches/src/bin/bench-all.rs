//! `cargo run --release -p sd-notify-benches --bin bench-all` — runs every benchmark part and
//! writes `BENCHMARKS.md` at the workspace root.
//!
//! Options: `--quick` (fewer rounds, for trying the harness), `--parts 1,2,4` (a subset; then
//! nothing is written unless `--out` is given; `callgrind` is part 7), `--out PATH`,
//! `--no-write`. The `__notify-cost`, `__sender-cost`, `__callgrind` and `__count` modes are
//! the child processes it spawns.

use std::fmt::Write as _;
use std::path::PathBuf;

use sd_notify_benches::senders::{Impl, Payload};
use sd_notify_benches::{
    COMMAND, build_cost, drain, footprint, machine, notify_cost, per_op, service, stats, waiters,
};

#[global_allocator]
static ALLOC: sd_notify_benches::alloc_count::CountingAlloc = sd_notify_benches::alloc_count::CountingAlloc;

/// Target: every send API of ours within this factor of the connected-`send` floor, in the
/// sender-cost regime; and, in instructions, of the floor's plus what validation needs.
const TARGET_RATIO: f64 = 1.05;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some(notify_cost::CHILD_ARG) => child_notify_cost(&args[1..]),
        Some(per_op::CHILD_ARG) => child_count(&args[1..]),
        Some(notify_cost::SENDER_COST_ARG) => child_sender_cost(&args[1..]),
        Some(per_op::CALLGRIND_ARG) => child_callgrind(&args[1..]),
        Some(waiters::CHILD_ARG) => waiters::child(args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1)),
        _ => run(&args),
    };
    if let Err(e) = result {
        eprintln!("bench-all: {e}");
        std::process::exit(1);
    }
}

fn child_notify_cost(args: &[String]) -> Result<(), String> {
    let rounds = args.first().and_then(|a| a.parse().ok()).ok_or("usage: __notify-cost ROUNDS N")?;
    let n = args.get(1).and_then(|a| a.parse().ok()).ok_or("usage: __notify-cost ROUNDS N")?;
    notify_cost::child(rounds, n)
}

fn child_sender_cost(args: &[String]) -> Result<(), String> {
    let rounds = args.first().and_then(|a| a.parse().ok()).ok_or("usage: __sender-cost ROUNDS N")?;
    let n = args.get(1).and_then(|a| a.parse().ok()).ok_or("usage: __sender-cost ROUNDS N")?;
    notify_cost::sender_cost_child(rounds, n)
}

fn child_callgrind(args: &[String]) -> Result<(), String> {
    let usage = "usage: __callgrind WHAT PAYLOAD";
    let what = args.first().and_then(|a| per_op::Counted::from_key(a)).ok_or(usage)?;
    let payload = args.get(1).and_then(|a| Payload::from_key(a)).ok_or(usage)?;
    per_op::callgrind_child(what, payload)
}

fn child_count(args: &[String]) -> Result<(), String> {
    let usage = "usage: __count IMPL PAYLOAD K WARMUP";
    let imp = args.first().and_then(|a| Impl::from_key(a)).ok_or(usage)?;
    let payload = args.get(1).and_then(|a| Payload::from_key(a)).ok_or(usage)?;
    let k = args.get(2).and_then(|a| a.parse().ok()).ok_or(usage)?;
    let warmup = args.get(3).and_then(|a| a.parse().ok()).ok_or(usage)?;
    per_op::child(imp, payload, k, warmup)
}

struct Options {
    quick: bool,
    parts: Vec<u8>,
    out: Option<PathBuf>,
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut o = Options { quick: false, parts: vec![1, 7, 2, 3, 4, 5, 6], out: None };
    let mut explicit_parts = false;
    let mut no_write = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => o.quick = true,
            "--no-write" => no_write = true,
            "--parts" => {
                let v = it.next().ok_or("--parts needs a list like 1,2,4")?;
                o.parts = v
                    .split(',')
                    .filter_map(|p| match p.trim() {
                        "callgrind" => Some(7),
                        p => p.parse().ok(),
                    })
                    .collect();
                explicit_parts = true;
            }
            "--out" => o.out = Some(PathBuf::from(it.next().ok_or("--out needs a path")?)),
            "-h" | "--help" => {
                println!("{COMMAND} [-- --quick] [--parts 1,2,4] [--out PATH] [--no-write]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    if o.out.is_none() && !no_write && !explicit_parts && !o.quick {
        o.out = Some(sd_notify_benches::workspace_root().join("BENCHMARKS.md"));
    }
    if no_write {
        o.out = None;
    }
    Ok(o)
}

fn run(args: &[String]) -> Result<(), String> {
    if std::env::var(build_cost::ONLY_ENV).is_ok_and(|v| v == build_cost::ONLY_TOKIO) {
        return build_cost::run_only_tokio_service();
    }
    let opts = parse_options(args)?;
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let m = machine::Machine::detect();
    println!("bench-all on {} CPUs ({}), kernel {}, {}", m.nproc, m.cpu, m.kernel, m.date);
    let cfg = if opts.quick {
        notify_cost::Config { rounds: 5, n: 2_000 }
    } else {
        notify_cost::Config { rounds: 11, n: 10_000 }
    };
    let sender_cfg = if opts.quick {
        notify_cost::Config { rounds: 5, n: 4_000 }
    } else {
        notify_cost::Config { rounds: 11, n: 20_000 }
    };
    let build_reps = if opts.quick { 1 } else { 3 };
    let wants = |p: u8| opts.parts.contains(&p);
    let mut summary: Vec<String> = Vec::new();
    let mut body = String::new();

    // Part 1 (timed, two regimes) and part 7 (callgrind), one section.
    let _ = writeln!(body, "## 1. Cost of one notification\n");
    if wants(1) {
        let _ = writeln!(
            body,
            "Each notification is a separate call of the implementation's public API with the same payload, to a receiver bound with `SO_PASSCRED` like the manager's. Two floors: `send(2)` of the same bytes on a socket connected once (what ours does), and `sendto(2)` on an unbound socket naming the address every time (what libsystemd does, without its socket per call). A third raw row, `sendmsg(2)` with an iovec of the pieces, answers whether sending the pieces without copying them would beat copying them into one buffer. Two regimes, each with both floors, measured in the same run.\n"
        );
        for (regime, title, what) in [
            (
                notify_cost::Regime::SenderCost,
                "### 1a. Sender cost (the target's regime)",
                "What the sending thread pays per notification, and nothing else: the receiver is drained by the same thread between batches of 8 (untimed), so no send wakes another thread and no send waits for one. This is the regime of the target and the one stable enough to compare implementations.",
            ),
            (
                notify_cost::Regime::LiveReceiver,
                "### 1c. Live receiver",
                "What a send costs while a receiver thread (in the parent process) polls and reads as datagrams arrive, as systemd's event loop does: every send may wake that thread, so the figures include the wake-up, the scheduler and the receiver's pace on a 2-CPU machine. Ratios here move with scheduling: see the min–max of rounds before comparing.",
            ),
        ] {
            if regime == notify_cost::Regime::LiveReceiver && wants(7) {
                callgrind_section(&exe, &mut body, &mut summary);
            }
            let _ = writeln!(body, "{title}\n\n{what}\n");
            let cfg = match regime {
                notify_cost::Regime::SenderCost => sender_cfg,
                notify_cost::Regime::LiveReceiver => cfg,
            };
            for kind in ["abstract", "path"] {
                println!("part 1: {regime:?}, {kind} address ({} rounds × {})", cfg.rounds, cfg.n);
                match notify_cost::measure(&exe, cfg, kind, regime) {
                    Ok(t) => {
                        body += &notify_cost::markdown(&t, cfg);
                        body += "\n";
                        print_table_console(&t);
                        if regime != notify_cost::Regime::SenderCost {
                            continue;
                        }
                        for imp in Impl::ALL.into_iter().filter(|i| i.is_ours()) {
                            for p in Payload::ALL {
                                if let Some(c) = t.cell(imp, p).filter(|c| !c.ratio.is_empty()) {
                                    let r = stats::median(&c.ratio);
                                    let max = c.ratio.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                                    summary.push(format!(
                                        "| {} | {} | ns/op, sender cost, {kind} address | ≤ {TARGET_RATIO:.2}× `send` floor | {r:.3}× ({:.0} vs {:.0} ns; rounds {}; × `sendto` floor {:.2}×) | {} |",
                                        imp.label(),
                                        p.label(),
                                        stats::median(&c.ns),
                                        t.cell(Impl::Floor, p).map_or(f64::NAN, |f| stats::median(&f.ns)),
                                        notify_cost::fmt_range(&c.ratio, 2, "×").split_once(' ').map_or("", |(_, r)| r),
                                        stats::median(&c.ratio_sendto),
                                        if r > TARGET_RATIO {
                                            "**missed**"
                                        } else if max > TARGET_RATIO {
                                            "met on the median (some rounds above)"
                                        } else {
                                            "met"
                                        }
                                    ));
                                }
                            }
                        }
                    }
                    Err(e) => {
                        eprintln!("part 1 ({regime:?}, {kind}): {e}");
                        let _ = writeln!(body, "#### {kind} address\n\nnot measured: {e}\n");
                    }
                }
            }
        }
        println!("part 1: encoding cost of ours without sending");
        let enc = notify_cost::encode_cost(cfg.rounds, cfg.n * 5);
        body += &notify_cost::encode_markdown(&enc, cfg.rounds);
        body += "\n";
        for (what, p, ns) in &enc.rows {
            println!("  {what} {}: {:.0} ns", p.map_or("", |p| p.key()), stats::median(ns));
        }
    } else if wants(7) {
        callgrind_section(&exe, &mut body, &mut summary);
    } else {
        body += "not run in this invocation.\n\n";
    }

    // Part 2.
    let _ = writeln!(body, "## 2. System calls and allocations per notification\n");
    if wants(2) {
        println!("part 2: syscalls and allocations per notification");
        match (drain::Drain::abstract_socket(), drain::Drain::path_socket()) {
            (Ok(a), Ok(p)) => {
                let rows = per_op::measure(&exe, &a, &p);
                body += &per_op::markdown(&rows);
                body += "\n";
                for r in &rows {
                    let (Some(imp), Some(pl)) = (r.imp, r.payload) else { continue };
                    let sys = r.syscalls.as_ref().map(|m| m.values().sum::<f64>());
                    println!(
                        "  {:<12} {:<8} syscalls/op {:>5} allocs/op {:>5} {}",
                        imp.key(),
                        pl.key(),
                        sys.map_or("—".into(), |s| format!("{s:.2}")),
                        r.allocs.map_or("—".into(), |a| format!("{a:.2}")),
                        r.note.as_deref().unwrap_or("")
                    );
                    if imp.is_ours() {
                        if let Some(s) = sys {
                            summary.push(format!(
                                "| {} | {} | syscalls | 1 per notification | {s:.2} | {} |",
                                imp.label(),
                                pl.label(),
                                if (s - 1.0).abs() < 0.005 { "met" } else { "**missed**" }
                            ));
                        }
                        if let Some(a) = r.allocs {
                            summary.push(format!(
                                "| {} | {} | allocations | 0 per notification | {a:.2} | {} |",
                                imp.label(),
                                pl.label(),
                                if a == 0.0 { "met" } else { "**missed**" }
                            ));
                        }
                    }
                }
            }
            (Err(e), _) | (_, Err(e)) => {
                let _ = writeln!(body, "not measured: binding receivers: {e}\n");
            }
        }
    } else {
        body += "not run in this invocation.\n\n";
    }

    // Parts 3 and 5 run this package's service binaries: build them first.
    let bins = if wants(3) || wants(5) {
        println!("parts 3 and 5: building the service binaries");
        service::build_bins(&exe).inspect_err(|e| eprintln!("parts 3 and 5: {e}"))
    } else {
        Err("not needed".into())
    };

    // Part 3.
    let _ = writeln!(body, "## 3. Start-up and SIGTERM → `STOPPING=1` of `#[sd_service]` services\n");
    if wants(3) {
        match &bins {
            Ok(dir) => {
                let section = service::sigterm_to_stopping(dir, opts.quick);
                body += &section.markdown;
                summary.extend(section.summary);
            }
            Err(e) => {
                let _ = writeln!(body, "not measured: {e}");
            }
        }
    } else {
        body += "not run in this invocation.\n";
    }
    body += "\n";

    // Part 4.
    let _ = writeln!(body, "## 4. Build cost: `sd-notify-macros` vs `tokio-macros`\n");
    if wants(4) {
        println!("part 4: cold builds, {build_reps} repetitions (this takes minutes)");
        match build_cost::measure(build_reps) {
            Ok(r) => {
                body += &build_cost::markdown(&r);
                if !r.macro_complete {
                    println!("  note: sd-notify-macros is still a placeholder ({} lines)", r.macro_lines);
                }
            }
            Err(e) => {
                eprintln!("part 4: {e}");
                let _ = writeln!(body, "not measured: {e}");
            }
        }
        body += "\n";
        let pairs = if opts.quick { 1 } else { build_cost::TOKIO_PAIRS };
        println!("part 4b: a tokio service without and with sd-notify-core, {pairs} pairs per profile");
        match build_cost::measure_tokio_service(pairs) {
            Ok(r) => {
                body += &build_cost::tokio_service_markdown(&r);
                summary.extend(build_cost::tokio_service_summary(&r));
            }
            Err(e) => {
                eprintln!("part 4b: {e}");
                let _ = writeln!(body, "### 4b\n\nnot measured: {e}");
            }
        }
        body += "\n";
    } else {
        body += "not run in this invocation.\n\n";
    }

    // Part 5.
    let _ = writeln!(body, "## 5. Binary size and idle wake-ups of an `#[sd_service]` service\n");
    if wants(5) {
        match &bins {
            Ok(dir) => {
                let section = footprint::size_and_idle_wakeups(dir, opts.quick);
                body += &section.markdown;
                summary.extend(section.summary);
            }
            Err(e) => {
                let _ = writeln!(body, "not measured: {e}");
            }
        }
    } else {
        body += "not run in this invocation.\n";
    }
    body += "\n";

    // Part 6.
    let _ = writeln!(body, "## 6. Poll cost of `shutdown()` with many futures waiting\n");
    if wants(6) {
        let rounds = if opts.quick { 3 } else { 11 };
        println!("part 6: shutdown() poll cost, {rounds} rounds");
        match waiters::measure(&exe, rounds) {
            Ok(r) => {
                let section = waiters::section(&r);
                body += &section.markdown;
                summary.extend(section.summary);
            }
            Err(e) => {
                eprintln!("part 6: {e}");
                let _ = writeln!(body, "not measured: {e}");
            }
        }
    } else {
        body += "not run in this invocation.\n";
    }
    body += "\n";

    let load_end = machine::loadavg();
    let mut doc = String::from("# Benchmarks\n\n");
    let _ = writeln!(
        doc,
        "Written by `{COMMAND}` (the whole file; edit the generator in `benches/`, not this file). Reproduce with that one command from the workspace root; it takes a few minutes, most of them the cold builds of part 4. No figure here is asserted anywhere: this is not part of the test suite.\n"
    );
    doc += &m.markdown(&load_end);
    doc += "\nThe machine is shared and noisy: absolute figures move between runs; ratios come from measurements interleaved in the same run and are the figures to compare.\n\n";
    doc +=
        "## Targets\n\n| what | payload | measured on | target | measured | |\n|---|---|---|---|---|---|\n";
    if summary.is_empty() {
        doc += "| (no part with a target ran) | | | | | |\n";
    }
    for l in &summary {
        doc += l;
        doc += "\n";
    }
    doc += "\n";
    doc += &body;

    println!("\n== targets ==");
    for l in &summary {
        println!("{l}");
    }
    if let Some(out) = &opts.out {
        std::fs::write(out, &doc).map_err(|e| format!("writing {}: {e}", out.display()))?;
        println!("wrote {}", out.display());
    } else {
        println!("(not written: pass --out PATH, or run without --quick/--parts)");
    }
    Ok(())
}

fn print_table_console(t: &notify_cost::Table) {
    for p in Payload::ALL {
        println!("  {} ({})", p.key(), t.kind);
        for imp in Impl::ALL {
            let c = t.cell(imp, p);
            println!(
                "    {:<12} {:>22} ns/op  {:>7}  cpu {:>6.0} ns/op {:>5.2}×  blocked/op {:.3}",
                imp.key(),
                notify_cost::fmt_ns(c),
                notify_cost::fmt_ratio(c),
                c.map_or(f64::NAN, |c| stats::median(&c.cpu)),
                c.map_or(f64::NAN, |c| stats::median(&c.cpu_ratio)),
                c.map_or(f64::NAN, |c| stats::median(&c.blocked))
            );
        }
    }
    if t.sent != t.received {
        println!("  WARNING: sent {} received {}", t.sent, t.received);
    }
}

/// Part 7: user-space instructions per notification (callgrind), with its target rows.
fn callgrind_section(exe: &std::path::Path, body: &mut String, summary: &mut Vec<String>) {
    use per_op::Counted;
    let _ = writeln!(body, "### 1b. Instructions per notification (callgrind)\n");
    let _ = writeln!(
        body,
        "User-space instructions (callgrind's `Ir`; the kernel's share of a system call is not counted by callgrind, and is the same for every implementation that makes the same call) per notification, deterministic whatever the machine's load. In one process under `valgrind --tool=callgrind`, after {} warm-up calls: {} counted calls through one function, then {} through another; per notification = (inclusive count of the second − of the first) ÷ {}, so fixed costs cancel. The receiver is bound in the same process and drained between calls, outside the counted functions. Every row includes the harness's own per-call cost (the last row), which the \"− harness\" column removes.\n",
        per_op::WARMUP,
        per_op::CALLGRIND_N,
        per_op::CALLGRIND_N + per_op::CALLGRIND_M,
        per_op::CALLGRIND_M
    );
    println!("part 7: callgrind instruction counts");
    let rows = match per_op::callgrind_measure(exe) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("part 7: {e}");
            let _ = writeln!(body, "not measured: {e}\n");
            return;
        }
    };
    let get = |what: Counted, p: Payload| {
        rows.iter().find(|r| r.what == what && r.payload == p).and_then(|r| r.per_call)
    };
    for p in Payload::ALL {
        let empty = get(Counted::Empty, p).unwrap_or(0.0);
        let floor = get(Counted::Send(Impl::Floor), p).map(|f| f - empty);
        let sendto = get(Counted::Send(Impl::FloorSendto), p).map(|f| f - empty);
        let validation = get(Counted::Validate, p).map(|v| v - empty).unwrap_or(0.0);
        let _ = writeln!(
            body,
            "{}:\n\n| implementation | address | Ir per notification | − harness | × `send` floor (− harness) | × `sendto` floor (− harness) | phases alone: first ÷ N, second ÷ (N+M) |\n|---|---|---:|---:|---:|---:|---|",
            p.label()
        );
        for r in rows.iter().filter(|r| r.payload == p) {
            let net = r.per_call.map(|c| c - empty);
            let ratio = |f: Option<f64>| match (net, f) {
                (Some(n), Some(f)) if r.what != Counted::Empty => format!("{:.2}×", n / f),
                _ => "—".into(),
            };
            let _ = writeln!(
                body,
                "| {} | {} | {} | {} | {} | {} | {} |",
                r.what.label(),
                r.address_kind,
                r.per_call.map_or("—".into(), |c| format!("{c:.0}")),
                net.map_or("—".into(), |c| format!("{c:.0}")),
                ratio(floor),
                ratio(sendto),
                r.per_call_phases.map_or_else(
                    || r.note.clone().unwrap_or_else(|| "—".into()),
                    |(a, b)| format!("{a:.1}, {b:.1}")
                ),
            );
        }
        body.push('\n');
        if let Some(floor) = floor {
            for imp in Impl::ALL.into_iter().filter(|i| i.is_ours()) {
                let Some(ours) = get(Counted::Send(imp), p).map(|c| c - empty) else { continue };
                // A prepared message was validated when it was built: nothing to add.
                let allowed_validation = if imp == Impl::OursSend { 0.0 } else { validation };
                let bound = TARGET_RATIO * floor + allowed_validation;
                summary.push(format!(
                    "| {} | {} | user-space instructions per notification (callgrind, − harness) | ≤ {TARGET_RATIO:.2} × floor ({floor:.0}) + validation ({allowed_validation:.0}) = {bound:.0} | {ours:.0} ({:+.0} over the floor; validation {allowed_validation:.0}) | {} |",
                    imp.label(),
                    p.label(),
                    ours - floor,
                    if ours <= bound { "met" } else { "**missed**" }
                ));
            }
        }
    }
    for p in Payload::ALL {
        for imp in [Impl::OursNotify, Impl::Floor] {
            match per_op::callgrind_breakdown(exe, Counted::Send(imp), p) {
                Ok(funcs) => {
                    let _ = writeln!(
                        body,
                        "Where the instructions of {} go, {} (self cost per notification by function inside the counted calls; `--toggle-collect` on the counted function, then `callgrind_annotate --inclusive=no`):\n\n| function | Ir per notification |\n|---|---:|",
                        imp.label(),
                        p.label()
                    );
                    for (f, ir) in funcs.iter().filter(|(_, ir)| *ir >= 0.5) {
                        let _ = writeln!(body, "| `{f}` | {ir:.1} |");
                    }
                    body.push('\n');
                }
                Err(e) => {
                    let _ = writeln!(body, "breakdown of {} not measured: {e}\n", imp.label());
                }
            }
        }
    }
    let _ = writeln!(
        body,
        "Reproduce this part alone: `cargo run --release -p sd-notify-benches --bin bench-all -- --parts callgrind --out /tmp/callgrind.md` (needs `valgrind`).\n"
    );
}
