//! Part 4: build cost of the attribute macro crate vs `tokio-macros`.
//!
//! A throwaway workspace outside the repository holds two one-line crates, one depending on
//! `sd-notify-macros` (by path) and one on `tokio-macros`; one `Cargo.lock` serves both, so
//! shared dependencies (`syn`, `quote`, `proc-macro2`) are the same versions. Each is built
//! from an empty target directory, debug and release, `--offline` after one `cargo fetch`,
//! with `CARGO_INCREMENTAL=0` (a user gets the macro crate from a registry, never
//! incrementally), alternating which goes first, repeated; medians are reported.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::stats::{median, quantile};

/// One build.
#[derive(Debug, Clone)]
pub struct Build {
    /// Wall seconds.
    pub wall: f64,
    /// User + system CPU seconds of cargo and every rustc it ran.
    pub cpu: f64,
    /// Crates compiled, as cargo named them.
    pub compiled: Vec<String>,
}

/// All builds of one crate in one profile.
#[derive(Debug, Clone)]
pub struct Series {
    /// `sd-notify-macros` or `tokio-macros`.
    pub subject: &'static str,
    /// `debug` or `release`.
    pub profile: &'static str,
    /// Every repetition.
    pub builds: Vec<Build>,
}

/// What the run found.
#[derive(Debug, Clone)]
pub struct Report {
    /// Every series.
    pub series: Vec<Series>,
    /// The versions the lock file picked, for the crates that matter.
    pub versions: Vec<String>,
    /// Lines of Rust in `sd-notify-macros/src`, and whether it defines the attribute.
    pub macro_lines: usize,
    /// `true` when `sd-notify-macros` defines a `#[proc_macro_attribute]`.
    pub macro_complete: bool,
    /// Repetitions.
    pub reps: usize,
}

const SUBJECTS: [(&str, &str); 2] =
    [("sd-notify-macros", "uses-sd-notify-macros"), ("tokio-macros", "uses-tokio-macros")];

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn cargo_cmd(dir: &Path) -> Command {
    let mut c = Command::new(cargo());
    c.current_dir(dir);
    for var in [
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET_DIR",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_MANIFEST_DIR",
    ] {
        c.env_remove(var);
    }
    c.env("CARGO_INCREMENTAL", "0");
    c
}

fn children_cpu() -> f64 {
    // SAFETY: all-zero is a valid rusage; getrusage fills it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a rusage.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

/// Lines of Rust under `dir`, and whether one of them is `#[proc_macro_attribute]`.
fn macro_source(dir: &Path) -> (usize, bool) {
    let mut lines = 0;
    let mut attr = false;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                lines += text.lines().count();
                attr |= text.contains("proc_macro_attribute");
            }
        }
    }
    (lines, attr)
}

fn setup(dir: &Path, macros_path: &Path) -> Result<(), String> {
    let w =
        |p: PathBuf, s: String| std::fs::write(&p, s).map_err(|e| format!("writing {}: {e}", p.display()));
    for (_, member) in SUBJECTS {
        std::fs::create_dir_all(dir.join(member).join("src")).map_err(|e| e.to_string())?;
        w(dir.join(member).join("src/lib.rs"), "//! Throwaway crate for the build-cost benchmark.\n".into())?;
    }
    w(
        dir.join("Cargo.toml"),
        "[workspace]\nresolver = \"2\"\nmembers = [\"uses-sd-notify-macros\", \"uses-tokio-macros\"]\n"
            .into(),
    )?;
    let manifest = |name: &str, dep: String| {
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n[dependencies]\n{dep}\n"
        )
    };
    w(
        dir.join("uses-sd-notify-macros/Cargo.toml"),
        manifest(
            "uses-sd-notify-macros",
            format!("sd-notify-macros = {{ path = {:?} }}", macros_path.display().to_string()),
        ),
    )?;
    w(
        dir.join("uses-tokio-macros/Cargo.toml"),
        manifest("uses-tokio-macros", "tokio-macros = \"2\"".into()),
    )?;
    let out = cargo_cmd(dir).args(["fetch", "--quiet"]).output().map_err(|e| format!("cargo fetch: {e}"))?;
    if !out.status.success() {
        return Err(format!("cargo fetch failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(())
}

fn build(dir: &Path, member: &str, release: bool) -> Result<Build, String> {
    let target = dir.join(format!("target-{member}"));
    let _ = std::fs::remove_dir_all(&target);
    let mut cmd = cargo_cmd(dir);
    cmd.args(["build", "--offline", "-p", member]).env("CARGO_TARGET_DIR", &target);
    if release {
        cmd.arg("--release");
    }
    let cpu0 = children_cpu();
    let start = Instant::now();
    let out = cmd.output().map_err(|e| format!("cargo build: {e}"))?;
    let wall = start.elapsed().as_secs_f64();
    let cpu = children_cpu() - cpu0;
    if !out.status.success() {
        return Err(format!(
            "cargo build -p {member} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let compiled = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Compiling "))
        .map(|l| l.split(" (").next().unwrap_or(l).to_owned())
        .collect();
    let _ = std::fs::remove_dir_all(&target);
    Ok(Build { wall, cpu, compiled })
}

fn lock_versions(dir: &Path) -> Vec<String> {
    let lock = std::fs::read_to_string(dir.join("Cargo.lock")).unwrap_or_default();
    let mut out = Vec::new();
    let mut name = None;
    for line in lock.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = Some(n.trim_matches('"').to_owned());
        } else if let (Some(v), Some(n)) = (line.strip_prefix("version = "), name.take()) {
            if !n.starts_with("uses-") {
                out.push(format!("{n} {}", v.trim_matches('"')));
            }
        }
    }
    out
}

/// Runs the whole comparison.
///
/// # Errors
/// When the throwaway workspace cannot be made or a build fails.
pub fn measure(reps: usize) -> Result<Report, String> {
    let macros_path = crate::workspace_root().join("sd-notify-macros");
    let (macro_lines, macro_complete) = macro_source(&macros_path.join("src"));
    let dir = std::env::temp_dir().join(format!("sd-notify-buildcost-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let result = (|| {
        setup(&dir, &macros_path)?;
        let mut series: Vec<Series> = Vec::new();
        for (profile, release) in [("debug", false), ("release", true)] {
            for (subject, _) in SUBJECTS {
                series.push(Series { subject, profile, builds: Vec::new() });
            }
            for rep in 0..reps {
                let mut order: Vec<usize> = (0..SUBJECTS.len()).collect();
                if rep % 2 == 1 {
                    order.reverse();
                }
                for i in order {
                    let (subject, member) = SUBJECTS[i];
                    let b = build(&dir, member, release)?;
                    eprintln!(
                        "  build {subject} {profile} #{}: {:.2} s wall, {:.2} s CPU",
                        rep + 1,
                        b.wall,
                        b.cpu
                    );
                    if let Some(s) = series.iter_mut().find(|s| s.subject == subject && s.profile == profile)
                    {
                        s.builds.push(b);
                    }
                }
            }
        }
        Ok(Report { series, versions: lock_versions(&dir), macro_lines, macro_complete, reps })
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// The report section.
pub fn markdown(r: &Report) -> String {
    let mut s = String::new();
    if !r.macro_complete {
        s += &format!(
            "**`sd-notify-macros` was not complete when this ran** ({} lines of Rust, no `#[proc_macro_attribute]`): the figures measure its dependencies, not the attribute.\n\n",
            r.macro_lines
        );
    } else {
        s += &format!("`sd-notify-macros` at this run: {} lines of Rust in `src/`.\n\n", r.macro_lines);
    }
    s += "| crate (with its dependencies) | profile | crates compiled | wall s, median (min–max) | CPU s (user+sys), median | wall ÷ tokio-macros | CPU ÷ tokio-macros |\n|---|---|---:|---:|---:|---:|---:|\n";
    let walls = |x: &Series| x.builds.iter().map(|b| b.wall).collect::<Vec<_>>();
    let cpus = |x: &Series| x.builds.iter().map(|b| b.cpu).collect::<Vec<_>>();
    for ser in &r.series {
        let tokio = r.series.iter().find(|t| t.subject == "tokio-macros" && t.profile == ser.profile);
        let (rw, rc) = match tokio {
            Some(t) => (median(&walls(ser)) / median(&walls(t)), median(&cpus(ser)) / median(&cpus(t))),
            None => (f64::NAN, f64::NAN),
        };
        let w = walls(ser);
        s += &format!(
            "| `{}` | {} | {} | {:.2} ({:.2}–{:.2}) | {:.2} | {:.2}× | {:.2}× |\n",
            ser.subject,
            ser.profile,
            ser.builds.first().map_or(0, |b| b.compiled.len()),
            median(&w),
            quantile(&w, 0.0),
            quantile(&w, 1.0),
            median(&cpus(ser)),
            rw,
            rc
        );
    }
    s += "\n";
    for ser in r.series.iter().filter(|s| s.profile == "debug") {
        if let Some(b) = ser.builds.first() {
            s += &format!("- `{}` compiles: {}\n", ser.subject, b.compiled.join(", "));
        }
    }
    s += &format!(
        "- one lock file for both: {}\n- each build from an empty target directory, `cargo build --offline -p <crate>` (and `--release`), `CARGO_INCREMENTAL=0`, default jobs; {} repetitions, alternating which crate goes first.\n- a proc-macro crate and its dependencies are built for the host as build units, which cargo does not optimise even with `--release` (`build-override` defaults to `opt-level = 0`): that is why release costs about what debug does.\n",
        r.versions.join(", "),
        r.reps
    );
    s
}
