//! `cargo run --release -p sd-notify-benches --bin bench-all` — runs every benchmark part and
//! writes `BENCHMARKS.md` at the workspace root.
//!
//! Options: `--quick` (fewer rounds, for trying the harness), `--parts 1,2,4` (a subset; then
//! nothing is written unless `--out` is given), `--out PATH`, `--no-write`.
//! The `__notify-cost` and `__count` modes are the child processes it spawns.

use std::fmt::Write as _;
use std::path::PathBuf;

use sd_notify_benches::senders::{Impl, Payload};
use sd_notify_benches::{
    COMMAND, build_cost, drain, footprint, machine, notify_cost, per_op, service, stats, waiters,
};

#[global_allocator]
static ALLOC: sd_notify_benches::alloc_count::CountingAlloc = sd_notify_benches::alloc_count::CountingAlloc;

/// Target: ours within this factor of the floor.
const TARGET_RATIO: f64 = 1.25;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some(notify_cost::CHILD_ARG) => child_notify_cost(&args[1..]),
        Some(per_op::CHILD_ARG) => child_count(&args[1..]),
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
    let mut o = Options { quick: false, parts: vec![1, 2, 3, 4, 5, 6], out: None };
    let mut explicit_parts = false;
    let mut no_write = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => o.quick = true,
            "--no-write" => no_write = true,
            "--parts" => {
                let v = it.next().ok_or("--parts needs a list like 1,2,4")?;
                o.parts = v.split(',').filter_map(|p| p.trim().parse().ok()).collect();
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
        notify_cost::Config { rounds: 21, n: 10_000 }
    };
    let build_reps = if opts.quick { 1 } else { 3 };
    let wants = |p: u8| opts.parts.contains(&p);
    let mut summary: Vec<String> = Vec::new();
    let mut body = String::new();

    // Part 1.
    let _ = writeln!(body, "## 1. Cost of one notification\n");
    if wants(1) {
        let _ = writeln!(
            body,
            "Each implementation sends to a live receiver (bound with `SO_PASSCRED` like the manager's, drained by a thread of the parent process that polls and reads until empty, as systemd's event loop does). Each notification is a separate call of the implementation's public API with the same payload; the floor sends the same bytes with one `send(2)` on a socket connected once. Targets are judged on the wall-time ratio as asked; the CPU-time ratio is shown beside it because on this shared machine it is the steadier of the two.\n"
        );
        for kind in ["abstract", "path"] {
            println!("part 1: notification cost, {kind} address ({} rounds × {})", cfg.rounds, cfg.n);
            match notify_cost::measure(&exe, cfg, kind) {
                Ok(t) => {
                    body += &notify_cost::markdown(&t, cfg);
                    body += "\n";
                    print_table_console(&t);
                    for imp in Impl::ALL.into_iter().filter(|i| i.is_ours()) {
                        for p in Payload::ALL {
                            if let Some(c) = t.cell(imp, p).filter(|c| !c.ratio.is_empty()) {
                                let r = stats::median(&c.ratio);
                                let rc = stats::median(&c.cpu_ratio);
                                summary.push(format!(
                                    "| {} | {} | ns/op, {} address | ≤ {TARGET_RATIO:.2}× floor | wall {r:.2}× ({:.0} vs {:.0} ns; p25–p75 {:.2}–{:.2}×), CPU {rc:.2}× | {} |",
                                    imp.label(),
                                    p.label(),
                                    kind,
                                    stats::median(&c.ns),
                                    t.cell(Impl::Floor, p).map_or(f64::NAN, |f| stats::median(&f.ns)),
                                    stats::quantile(&c.ratio, 0.25),
                                    stats::quantile(&c.ratio, 0.75),
                                    match (r <= TARGET_RATIO, rc <= TARGET_RATIO) {
                                        (true, true) => "met",
                                        (false, false) => "**missed**",
                                        (true, false) => "met on wall time, **missed** on CPU time",
                                        (false, true) => "**missed** on wall time, met on CPU time",
                                    }
                                ));
                            }
                        }
                    }
                }
                Err(e) => {
                    eprintln!("part 1 ({kind}): {e}");
                    let _ = writeln!(body, "### {kind} address\n\nnot measured: {e}\n");
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
    let _ = writeln!(body, "## 3. SIGTERM → `STOPPING=1` latency of an `#[sd_service]` service\n");
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
