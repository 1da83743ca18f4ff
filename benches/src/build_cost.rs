//! Part 4: build cost.
//!
//! **4a, the macro crate alone** ([`measure`]): `sd-notify-macros` vs `tokio-macros`. A
//! throwaway workspace outside the repository holds two one-line crates, one depending on
//! `sd-notify-macros` (by path) and one on `tokio-macros`; one `Cargo.lock` serves both, so
//! shared dependencies (`syn`, `quote`, `proc-macro2`) are the same versions. Each is built
//! from an empty target directory, debug and release, `--offline` after one `cargo fetch`,
//! with `CARGO_INCREMENTAL=0` (a user gets the macro crate from a registry, never
//! incrementally), alternating which goes first, repeated; medians are reported. This compares
//! the two macro crates; it is not what a user pays for adding ours.
//!
//! **4b, what a tokio service pays** ([`measure_tokio_service`]): a throwaway workspace with two
//! binary crates that are the same tokio TCP echo service (`#[tokio::main]`, tokio features
//! `rt-multi-thread`, `macros`, `net`, `signal`, `io-util`), one of them also depending on
//! `sd-notify-core` (by path, default features) with `#[sd_service]` + `#[ready]` on its
//! `main`. One `Cargo.lock`; each build from an empty target directory with DEFAULT cargo
//! settings (no `CARGO_INCREMENTAL`, no profile or wrapper variables: cargo builds the local
//! path crates incrementally in debug as it does for a user), `--offline` after one
//! `cargo fetch`, debug and release, in pairs alternating which goes first; debug once more
//! with `CARGO_INCREMENTAL=0`; in debug, after each cold build, one rebuild after touching
//! `src/main.rs` (what an edit costs). Reported per profile:
//! medians, the median of the per-pair ratios (with ÷ without) and their min–max, and the
//! crates the with-build compiled that the without-build did not.
//! The `sd-notify-core` built is this repository's `HEAD` (see `core_source`; `BENCH_CORE=worktree`
//! takes the working tree). Run only this part: `BENCH_ONLY=build-tokio cargo run --release -p
//! sd-notify-benches --bin bench-all` (`BENCH_PAIRS=N` for N pairs per profile, default 6).

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
    /// The rebuild after touching `src/main.rs`, when asked for: (wall s, CPU s).
    pub rebuild: Option<(f64, f64)>,
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
    build_with(|| cargo_cmd(dir), dir, member, release, false)
}

/// Runs `cargo build --offline -p member` (made by `cmd`) into `target`: (wall s, CPU s,
/// cargo's stderr).
fn timed_build(
    mut cmd: Command,
    target: &Path,
    member: &str,
    release: bool,
) -> Result<(f64, f64, String), String> {
    cmd.args(["build", "--offline", "-p", member]).env("CARGO_TARGET_DIR", target);
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
    Ok((wall, cpu, String::from_utf8_lossy(&out.stderr).into_owned()))
}

/// One cold build of `member` by a command of `cmd` (a `cargo` command in `dir`), from an
/// empty target directory that is removed afterwards; with `rebuild`, then one more build
/// after `member/src/main.rs` got a new modification time (what an edit of `main.rs` costs).
fn build_with(
    cmd: impl Fn() -> Command,
    dir: &Path,
    member: &str,
    release: bool,
    rebuild: bool,
) -> Result<Build, String> {
    let target = dir.join(format!("target-{member}"));
    let _ = std::fs::remove_dir_all(&target);
    let (wall, cpu, stderr) = timed_build(cmd(), &target, member, release)?;
    let compiled = stderr
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Compiling "))
        .map(|l| l.split(" (").next().unwrap_or(l).to_owned())
        .collect();
    let rebuild = if rebuild {
        let main = dir.join(member).join("src/main.rs");
        // A second later than anything the build wrote, so that cargo sees it as newer.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        std::fs::File::options()
            .write(true)
            .open(&main)
            .and_then(|f| f.set_modified(std::time::SystemTime::now()))
            .map_err(|e| format!("touching {}: {e}", main.display()))?;
        let (w, c, _) = timed_build(cmd(), &target, member, release)?;
        Some((w, c))
    } else {
        None
    };
    let _ = std::fs::remove_dir_all(&target);
    Ok(Build { wall, cpu, compiled, rebuild })
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
    let mut s = String::from(
        "### 4a. The macro crate alone vs `tokio-macros` (`CARGO_INCREMENTAL=0`)\n\nThis compares the two macro crates with their dependencies, incremental compilation off. It is **not** what a user pays for adding `sd-notify-core` to a service: that is 4b.\n\n",
    );
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

// ---------------------------------------------------------------------------------------------
// 4b. What a tokio service pays for adding `sd-notify-core`.
// ---------------------------------------------------------------------------------------------

/// The environment variable that runs one part of `bench-all` alone.
pub const ONLY_ENV: &str = "BENCH_ONLY";
/// Its value for 4b.
pub const ONLY_TOKIO: &str = "build-tokio";
/// Pairs per profile for 4b (`BENCH_PAIRS` overrides it in [`ONLY_TOKIO`] mode): even, so that
/// each order (with first, without first) runs as often; the second build of a pair ran slower.
pub const TOKIO_PAIRS: usize = 6;
/// The target: adding `sd-notify-core` costs at most this factor of cold build wall time.
pub const TOKIO_TARGET: f64 = 1.08;
/// The command that runs 4b alone.
pub const TOKIO_COMMAND: &str =
    "BENCH_ONLY=build-tokio cargo run --release -p sd-notify-benches --bin bench-all";

/// The builds of 4b: (label, `--release`, `CARGO_INCREMENTAL=0`). Debug with cargo's defaults
/// (incremental on) is what a user gets; with `CARGO_INCREMENTAL=0` is what CI and the
/// macro-crate comparison (4a) use.
const PROFILES: [(&str, bool, bool); 3] =
    [("debug", false, false), ("debug, `CARGO_INCREMENTAL=0`", false, true), ("release", true, false)];

/// The tokio features of both services: what a real network service uses.
const TOKIO_FEATURES: &str = r#"["rt-multi-thread", "macros", "net", "signal", "io-util"]"#;
const WITHOUT: &str = "svc-without";
const WITH: &str = "svc-with";

/// One pair of cold builds of the same service, without and with `sd-notify-core`.
#[derive(Debug, Clone)]
pub struct Pair {
    /// The service without `sd-notify-core`.
    pub without: Build,
    /// The service with `sd-notify-core` and `#[sd_service]`.
    pub with: Build,
    /// `true` when the with-build went first.
    pub with_first: bool,
}

impl Pair {
    /// Wall time, with ÷ without.
    pub fn wall_ratio(&self) -> f64 {
        self.with.wall / self.without.wall
    }
    /// CPU time, with ÷ without.
    pub fn cpu_ratio(&self) -> f64 {
        self.with.cpu / self.without.cpu
    }
}

/// All pairs of one profile.
#[derive(Debug, Clone)]
pub struct ServiceProfile {
    /// `debug`, `debug, CARGO_INCREMENTAL=0` or `release`.
    pub profile: &'static str,
    /// Built with `CARGO_INCREMENTAL=0` (otherwise cargo's defaults: incremental in debug).
    pub incremental_off: bool,
    /// Every pair, in run order.
    pub pairs: Vec<Pair>,
}

impl ServiceProfile {
    fn col(&self, f: impl Fn(&Pair) -> f64) -> Vec<f64> {
        self.pairs.iter().map(f).collect()
    }
    /// Median of the per-pair wall ratios.
    pub fn wall_ratio(&self) -> f64 {
        median(&self.col(Pair::wall_ratio))
    }
    /// `true` when the median pair wall ratio is within [`TOKIO_TARGET`].
    pub fn met(&self) -> bool {
        self.wall_ratio() <= TOKIO_TARGET
    }
    /// The verdict: met or missed on the median, and inconclusive when single pairs fall on
    /// both sides of the target (the machine's noise is larger than the effect).
    pub fn verdict(&self) -> String {
        let r = self.col(Pair::wall_ratio);
        let (lo, hi) = (quantile(&r, 0.0), quantile(&r, 1.0));
        match (self.met(), lo <= TOKIO_TARGET && hi > TOKIO_TARGET) {
            (true, false) => "met".into(),
            (false, false) => "**missed**".into(),
            (m, true) => format!(
                "{} on the median, **inconclusive**: pairs {lo:.2}–{hi:.2}× on both sides of {TOKIO_TARGET:.2}×",
                if m { "met" } else { "missed" }
            ),
        }
    }
    /// Crates the with-build compiled that the without-build did not (over every pair).
    pub fn extra_crates(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for p in &self.pairs {
            for c in &p.with.compiled {
                if !p.without.compiled.contains(c) && !c.starts_with(WITH) && !out.contains(c) {
                    out.push(c.clone());
                }
            }
        }
        out.sort();
        out
    }
}

/// What 4b found.
#[derive(Debug, Clone)]
pub struct ServiceReport {
    /// Debug, then release.
    pub profiles: Vec<ServiceProfile>,
    /// Versions the lock file picked for the crates that matter (syn, tokio, tokio-macros, …).
    pub versions: Vec<String>,
    /// The `syn` versions in the lock file.
    pub syn_versions: Vec<String>,
    /// `cargo tree -p svc-with -i syn -e normal,build` (or its error), verbatim.
    pub syn_tree: String,
    /// Where the `sd-notify-core` built came from (a commit, or the working tree).
    pub source: String,
    /// `rustc -V` as the builds saw it.
    pub rustc: String,
    /// Load average before and after, as `/proc/loadavg` gives it (1, 5, 15 min).
    pub load: (String, String),
}

/// A `cargo` command in `dir` with DEFAULT settings: no variable of the caller's environment
/// that changes what or how cargo builds (incremental, profiles, flags, wrappers, jobs, the
/// jobserver of the `cargo run` that started us).
fn default_cargo_cmd(dir: &Path) -> Command {
    let mut c = Command::new(cargo());
    c.current_dir(dir);
    for (k, _) in std::env::vars_os() {
        let Some(k) = k.to_str() else { continue };
        if k.starts_with("CARGO_PROFILE_")
            || k.starts_with("CARGO_BUILD_")
            || k.starts_with("CARGO_TARGET_")
            || k.starts_with("CARGO_ENCODED_")
            || k.starts_with("CARGO_PKG_")
            || matches!(
                k,
                "CARGO_INCREMENTAL"
                    | "CARGO_MAKEFLAGS"
                    | "MAKEFLAGS"
                    | "MFLAGS"
                    | "RUSTFLAGS"
                    | "RUSTDOCFLAGS"
                    | "RUSTC_WRAPPER"
                    | "RUSTC_WORKSPACE_WRAPPER"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
            )
        {
            c.env_remove(k);
        }
    }
    c
}

const SERVICE_WITHOUT: &str = r#"//! A tokio TCP echo service: the build-cost benchmark's baseline.
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, SignalKind};

async fn echo(mut stream: TcpStream) -> std::io::Result<()> {
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let listener = TcpListener::bind("127.0.0.1:7878").await?;
    loop {
        tokio::select! {
            _ = term.recv() => break,
            accepted = listener.accept() => {
                let (stream, _) = accepted?;
                tokio::spawn(echo(stream));
            }
        }
    }
    Ok(())
}
"#;

const SERVICE_WITH: &str = r#"//! The same tokio TCP echo service as an `#[sd_service]`: READY=1 once bound, STOPPING=1 on
//! SIGTERM (the attribute's handler), then the loop ends.
use sd_notify_core::{sd_service, ServiceHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn echo(mut stream: TcpStream) -> std::io::Result<()> {
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
    }
}

#[sd_service]
#[tokio::main]
async fn main(service: ServiceHandle) -> std::io::Result<()> {
    #[ready]
    let listener = TcpListener::bind("127.0.0.1:7878").await?;
    loop {
        tokio::select! {
            () = service.shutdown() => break,
            accepted = listener.accept() => {
                let (stream, _) = accepted?;
                tokio::spawn(echo(stream));
            }
        }
    }
    Ok(())
}
"#;

fn run_ok(mut cmd: Command, what: &str) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{what} failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn setup_services(dir: &Path, core_path: &Path) -> Result<(), String> {
    let w = |p: PathBuf, s: &str| std::fs::write(&p, s).map_err(|e| format!("writing {}: {e}", p.display()));
    for (member, src) in [(WITHOUT, SERVICE_WITHOUT), (WITH, SERVICE_WITH)] {
        std::fs::create_dir_all(dir.join(member).join("src")).map_err(|e| e.to_string())?;
        w(dir.join(member).join("src/main.rs"), src)?;
        let mut deps = format!("tokio = {{ version = \"1\", features = {TOKIO_FEATURES} }}\n");
        if member == WITH {
            deps += &format!("sd-notify-core = {{ path = {:?} }}\n", core_path.display().to_string());
        }
        w(
            dir.join(member).join("Cargo.toml"),
            &format!(
                "[package]\nname = \"{member}\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n[dependencies]\n{deps}"
            ),
        )?;
    }
    w(
        dir.join("Cargo.toml"),
        &format!("[workspace]\nresolver = \"2\"\nmembers = [\"{WITHOUT}\", \"{WITH}\"]\n"),
    )?;
    let mut fetch = default_cargo_cmd(dir);
    fetch.args(["fetch", "--quiet"]);
    run_ok(fetch, "cargo fetch")?;
    Ok(())
}

/// The `sd-notify-core` the with-service depends on, by path: by default the crates of this
/// repository's `HEAD` (`git archive` of `sd-notify-core`, `sd-notify-macros` and the workspace
/// manifest, members cut to those two), so that the figures belong to one commit and other
/// people's uncommitted edits cannot break or change the builds; `BENCH_CORE=worktree` takes
/// the working tree as it is. Returns the path and a description of the source.
fn core_source(dir: &Path) -> Result<(PathBuf, String), String> {
    let root = crate::workspace_root();
    if std::env::var("BENCH_CORE").is_ok_and(|v| v == "worktree") {
        return Ok((root.join("sd-notify-core"), format!("the working tree at {}", root.display())));
    }
    let git = |args: &[&str]| {
        let mut c = Command::new("git");
        c.arg("-C").arg(&root).args(args);
        run_ok(c, &format!("git {}", args.join(" ")))
    };
    let commit = git(&["rev-parse", "--short=12", "HEAD"])?.trim().to_owned();
    let tar = dir.join("sd-notify.tar");
    let tar_s = tar.display().to_string();
    git(&[
        "archive",
        "--format=tar",
        "-o",
        &tar_s,
        "HEAD",
        "Cargo.toml",
        "sd-notify-core",
        "sd-notify-macros",
    ])?;
    let out = dir.join("sd-notify");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let mut untar = Command::new("tar");
    untar.arg("-xf").arg(&tar).arg("-C").arg(&out);
    run_ok(untar, "tar -x")?;
    let manifest = out.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).map_err(|e| e.to_string())?;
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("default-members"))
        .map(|l| {
            if l.starts_with("members") {
                "members = [\"sd-notify-core\", \"sd-notify-macros\"]\n".to_owned()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&manifest, text).map_err(|e| e.to_string())?;
    Ok((
        out.join("sd-notify-core"),
        format!("commit {commit} of this repository (`git archive`, not the working tree)"),
    ))
}

/// `name version` of every locked package named `name`.
fn locked(versions: &[String], name: &str) -> Vec<String> {
    versions
        .iter()
        .filter_map(|v| v.strip_prefix(name).and_then(|r| r.strip_prefix(' ')))
        .map(str::to_owned)
        .collect()
}

/// Runs 4b: `pairs` pairs of cold builds per profile.
///
/// # Errors
/// When the throwaway workspace cannot be made, the lock does not put `tokio-macros` on 2.7.x,
/// or a build fails.
pub fn measure_tokio_service(pairs: usize) -> Result<ServiceReport, String> {
    // `top/ws` is the throwaway workspace, `top/sd-notify` the snapshot: beside it, not in it
    // (a path dependency under a workspace's directory would become one of its members).
    let top = std::env::temp_dir().join(format!("sd-notify-buildcost-tokio-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&top);
    let dir = top.join("ws");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let result = (|| {
        let (core_path, source) = core_source(&top)?;
        eprintln!("  4b sd-notify-core from {source}");
        setup_services(&dir, &core_path)?;
        let versions: Vec<String> = lock_versions(&dir)
            .into_iter()
            .filter(|v| {
                ["syn ", "tokio ", "tokio-macros ", "proc-macro2 ", "quote ", "sd-notify"]
                    .iter()
                    .any(|p| v.starts_with(p))
            })
            .collect();
        let tm = locked(&versions, "tokio-macros");
        if tm.is_empty() || !tm.iter().all(|v| v.starts_with("2.7.")) {
            return Err(format!("the lock put tokio-macros on {tm:?}, not 2.7.x (the syn 3 one)"));
        }
        let syn_versions = locked(&versions, "syn");
        let mut tree = default_cargo_cmd(&dir);
        tree.args(["tree", "--offline", "-p", WITH, "-i", "syn", "-e", "normal,build"]);
        let syn_tree = match tree.output() {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim_end().to_owned(),
            Ok(o) => format!("(cargo tree failed) {}", String::from_utf8_lossy(&o.stderr).trim()),
            Err(e) => format!("(cargo tree: {e})"),
        };
        let rustc = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
            .current_dir(&dir)
            .arg("-V")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        eprintln!("  4b lock: {}", versions.join(", "));
        eprintln!("  4b cargo tree -p {WITH} -i syn -e normal,build:\n{syn_tree}");
        let load0 = crate::machine::loadavg();
        let mut profiles = Vec::new();
        for (profile, release, incremental_off) in PROFILES {
            let mut sp = ServiceProfile { profile, incremental_off, pairs: Vec::new() };
            for i in 0..pairs {
                let with_first = i % 2 == 1;
                let one = |member: &str| -> Result<Build, String> {
                    let cmd = || {
                        let mut c = default_cargo_cmd(&dir);
                        if incremental_off {
                            c.env("CARGO_INCREMENTAL", "0");
                        }
                        c
                    };
                    // The rebuild after an edit of main.rs: in debug, where people edit.
                    let b = build_with(cmd, &dir, member, release, !release)?;
                    eprintln!(
                        "  4b {profile} pair {} {member}: {:.2} s wall, {:.2} s CPU{}",
                        i + 1,
                        b.wall,
                        b.cpu,
                        b.rebuild.map_or(String::new(), |(w, c)| format!(
                            "; rebuild after touching main.rs {w:.2} s wall, {c:.2} s CPU"
                        ))
                    );
                    Ok(b)
                };
                let (without, with) = if with_first {
                    let w = one(WITH)?;
                    (one(WITHOUT)?, w)
                } else {
                    let wo = one(WITHOUT)?;
                    (wo, one(WITH)?)
                };
                let p = Pair { without, with, with_first };
                eprintln!(
                    "  4b {profile} pair {}: wall {:.3}×, CPU {:.3}×",
                    i + 1,
                    p.wall_ratio(),
                    p.cpu_ratio()
                );
                sp.pairs.push(p);
            }
            profiles.push(sp);
        }
        Ok(ServiceReport {
            profiles,
            versions,
            syn_versions,
            syn_tree,
            source,
            rustc,
            load: (load0, crate::machine::loadavg()),
        })
    })();
    let _ = std::fs::remove_dir_all(&top);
    result
}

/// Lines for the targets table of `BENCHMARKS.md`.
pub fn tokio_service_summary(r: &ServiceReport) -> Vec<String> {
    r.profiles
        .iter()
        .map(|p| {
            let ratios = p.col(Pair::wall_ratio);
            format!(
                "| adding `sd-notify-core` to a tokio service | — | cold build wall, {}, {} pairs | ≤ {TOKIO_TARGET:.2}× | {:.3}× (pairs {:.3}–{:.3}×), CPU {:.3}× | {} |",
                p.profile,
                p.pairs.len(),
                p.wall_ratio(),
                quantile(&ratios, 0.0),
                quantile(&ratios, 1.0),
                median(&p.col(Pair::cpu_ratio)),
                p.verdict()
            )
        })
        .collect()
}

/// The 4b section.
pub fn tokio_service_markdown(r: &ServiceReport) -> String {
    let mut s = String::from("### 4b. What a tokio service pays for adding `sd-notify-core`\n\n");
    s += &format!(
        "The same tokio TCP echo service (`#[tokio::main]`, tokio features {}) built twice, once without and once with `sd-notify-core` (default features) and `#[sd_service]` + `#[ready]` on its `main`. Cold builds with cargo's default settings (incremental compilation on in debug: cargo builds the local path crates, the service and `sd-notify-core`, incrementally, as for a user), and the same debug builds with `CARGO_INCREMENTAL=0` (as CI and 4a build); in debug, after each cold build, one rebuild after touching `src/main.rs`. Target: with ÷ without ≤ {TOKIO_TARGET:.2}× wall, judged on the median of the per-pair ratios.\n\n",
        TOKIO_FEATURES.trim_matches(|c| c == '[' || c == ']')
    );
    s += "| profile | pairs | without: wall s / CPU s, median | with: wall s / CPU s, median | wall ratio, median of pairs (min–max) | CPU ratio, median of pairs (min–max) | target ≤ 1.08× wall |\n|---|---:|---:|---:|---:|---:|---|\n";
    for p in &r.profiles {
        let wr = p.col(Pair::wall_ratio);
        let cr = p.col(Pair::cpu_ratio);
        s += &format!(
            "| {} | {} | {:.2} / {:.2} | {:.2} / {:.2} | {:.3}× ({:.3}–{:.3}) | {:.3}× ({:.3}–{:.3}) | {} |\n",
            p.profile,
            p.pairs.len(),
            median(&p.col(|x| x.without.wall)),
            median(&p.col(|x| x.without.cpu)),
            median(&p.col(|x| x.with.wall)),
            median(&p.col(|x| x.with.cpu)),
            p.wall_ratio(),
            quantile(&wr, 0.0),
            quantile(&wr, 1.0),
            median(&cr),
            quantile(&cr, 0.0),
            quantile(&cr, 1.0),
            p.verdict()
        );
    }
    s += "\nRebuild after an edit of `main.rs` (the file's modification time moved, the build run again into the same target directory; debug only):\n\n| profile | without: wall s / CPU s, median | with: wall s / CPU s, median | wall ratio, median of pairs (min–max) | with − without, wall s, median |\n|---|---:|---:|---:|---:|\n";
    for p in r
        .profiles
        .iter()
        .filter(|p| p.pairs.iter().all(|x| x.with.rebuild.is_some() && x.without.rebuild.is_some()))
    {
        let rb = |b: &Build| b.rebuild.unwrap_or((f64::NAN, f64::NAN));
        let wr = p.col(|x| rb(&x.with).0 / rb(&x.without).0);
        s += &format!(
            "| {} | {:.2} / {:.2} | {:.2} / {:.2} | {:.3}× ({:.3}–{:.3}) | {:+.2} |\n",
            p.profile,
            median(&p.col(|x| rb(&x.without).0)),
            median(&p.col(|x| rb(&x.without).1)),
            median(&p.col(|x| rb(&x.with).0)),
            median(&p.col(|x| rb(&x.with).1)),
            median(&wr),
            quantile(&wr, 0.0),
            quantile(&wr, 1.0),
            median(&p.col(|x| rb(&x.with).0 - rb(&x.without).0)),
        );
    }
    s += "\nWall time of a cold build on a shared machine moves with the other load, often by more than the effect measured (see the pair spread); the CPU ratio (user + system time of cargo and every rustc it ran) is the steadier figure: it is the compute that adding `sd-notify-core` costs, and it becomes wall time wherever the build has fewer free cores than parallel work.\n\n";
    for p in &r.profiles {
        s += &format!(
            "- {}: compiled with `sd-notify-core` and not without: {}\n",
            p.profile,
            p.extra_crates().iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")
        );
    }
    let majors: Vec<&str> = {
        let mut m: Vec<&str> = r.syn_versions.iter().filter_map(|v| v.split('.').next()).collect();
        m.sort_unstable();
        m.dedup();
        m
    };
    s += &format!(
        "- syn in the lock: {} ({} major{}); lock: {}; {}\n",
        r.syn_versions.join(", "),
        majors.len(),
        if majors.len() == 1 { "" } else { "s" },
        r.versions.join(", "),
        r.rustc
    );
    s += &format!(
        "- each build: `cargo build --offline -p <crate>` (and `--release`) from an empty target directory after one `cargo fetch`, one `Cargo.lock` for both; pairs alternate which goes first; load average {} before, {} after.\n",
        r.load.0, r.load.1
    );
    s += &format!("- `sd-notify-core` (by path) from {}\n", r.source);
    s += &format!("- reproduce this part alone: `{TOKIO_COMMAND}`\n\n");
    s += &format!("`cargo tree -p {WITH} -i syn -e normal,build`:\n\n```text\n{}\n```\n", r.syn_tree);
    s
}

/// `BENCH_ONLY=build-tokio`: runs 4b alone and prints its section (`BENCH_PAIRS=N` pairs per
/// profile, default [`TOKIO_PAIRS`]).
///
/// # Errors
/// As [`measure_tokio_service`].
pub fn run_only_tokio_service() -> Result<(), String> {
    let pairs = std::env::var("BENCH_PAIRS").ok().and_then(|v| v.parse().ok()).unwrap_or(TOKIO_PAIRS).max(1);
    println!("4b: cold builds of a tokio service without and with sd-notify-core, {pairs} pairs per profile");
    let r = measure_tokio_service(pairs)?;
    println!("\n{}", tokio_service_markdown(&r));
    for l in tokio_service_summary(&r) {
        println!("{l}");
    }
    Ok(())
}
