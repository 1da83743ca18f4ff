//! The end-to-end suite: `tests/e2e/run --systemd all --jobs 2` starts private systemd 247,
//! 252, 254, 257 and the newest (Debian unstable's) managers, two at a time (as root, in
//! namespaces; see `tests/e2e/README.md`), and runs the fixture services of this package and
//! the example services as real units under them. The first run builds the managers' cache
//! (`~/.cache/sd-notify-e2e`: Debian packages and two debootstrapped roots, a few minutes).
//!
//! The fixtures are this package's binaries (built by `cargo test` for this test); the
//! examples belong to `sd-notify-examples`, so the test builds them with a nested
//! `cargo build -p sd-notify-examples --bins` into the same target directory and profile
//! (usually a no-op: `cargo test --workspace` has built them). This does not deadlock:
//! Cargo releases its build-directory lock before it runs the test binaries (checked with
//! cargo 1.95; a concurrent build by someone else only makes it wait).
//!
//! Skipped, with the reason on stderr, when not run as root or when the harness says it
//! cannot run here (exit status 2), unless `SD_NOTIFY_E2E_REQUIRED=1` (CI), which turns
//! both into failures. `SD_NOTIFY_E2E_ARGS` adds arguments to the harness, e.g.
//! `SD_NOTIFY_E2E_ARGS="--systemd 254 --case m5"` (later arguments win). The harness's
//! output is streamed as it runs, each version's when that version ends (with `-v`: each
//! case prints the properties and journal lines that prove it).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// A fixture of this package: its directory is the harness's `--bin-dir`.
const FIXTURE: &str = env!("CARGO_BIN_EXE_fixture-async");
/// The other fixtures the cases use (named so that Cargo builds them before this test).
const OTHER_FIXTURES: [&str; 8] = [
    env!("CARGO_BIN_EXE_fixture-sync"),
    env!("CARGO_BIN_EXE_fixture-sync-no-handle"),
    env!("CARGO_BIN_EXE_fixture-mainpid"),
    env!("CARGO_BIN_EXE_fixture-fdstore"),
    env!("CARGO_BIN_EXE_fixture-proto"),
    env!("CARGO_BIN_EXE_fixture-fork"),
    env!("CARGO_BIN_EXE_fixture-stress-reload"),
    env!("CARGO_BIN_EXE_fixture-stress-watchdog"),
];
/// The example services the matrix runs.
const EXAMPLES: [&str; 7] = [
    "lifecycle-demo",
    "tokio-server",
    "socket-activated",
    "sync-worker",
    "pollster-service",
    "health-watchdog",
    "zero-downtime",
];

/// A line on the real stderr: libtest captures `eprintln!` of a passing test, and a skip
/// reason must be seen.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn required() -> bool {
    std::env::var_os("SD_NOTIFY_E2E_REQUIRED").is_some_and(|v| v == "1")
}

/// Skips the test (or fails it when required) with `reason`.
fn skip(reason: &str) {
    assert!(!required(), "e2e: cannot run, and SD_NOTIFY_E2E_REQUIRED=1: {reason}");
    say(&format!("\nSKIPPED e2e under real systemd: {reason}\n"));
}

#[test]
fn e2e_under_real_systemd() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        skip(&format!(
            "needs root (namespaces, mounts, a cgroup), running as uid {euid}; \
             run `sudo -E cargo test -p sd-notify-tests --test e2e`"
        ));
        return;
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root");
    let bin_dir = Path::new(FIXTURE).parent().expect("fixture directory");
    for fixture in OTHER_FIXTURES {
        assert!(Path::new(fixture).is_file(), "fixture {fixture} missing");
    }

    let examples_dir = build_examples(workspace, bin_dir);

    let mut harness = Command::new(workspace.join("tests/e2e/run"));
    harness
        .args(["--systemd", "all", "--jobs", "2", "-v", "--bin-dir"])
        .arg(bin_dir)
        .arg("--examples-dir")
        .arg(&examples_dir);
    if let Some(extra) = std::env::var_os("SD_NOTIFY_E2E_ARGS") {
        harness.args(extra.to_string_lossy().split_whitespace());
    }
    say(&format!("e2e: running {harness:?}"));
    let started = Instant::now();
    // Inherited stdout/stderr: the output streams to the terminal as the cases run.
    let status = harness
        .current_dir(workspace)
        .stdin(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("cannot run tests/e2e/run: {e}"));
    say(&format!("e2e: harness finished in {:.1} s: {status}", started.elapsed().as_secs_f64()));
    match status.code() {
        Some(0) => {}
        Some(2) => skip("tests/e2e/run exited 2: it cannot run on this machine (its message above says why)"),
        _ => panic!("e2e suite failed ({status}); the failed cases and their journals are printed above"),
    }
}

/// Builds the example services next to the fixtures: `bin_dir` is `<target dir>/<profile
/// dir>` ("debug" for the dev and test profiles); returns the directory of their binaries.
fn build_examples(workspace: &Path, bin_dir: &Path) -> PathBuf {
    let target_dir = bin_dir.parent().expect("target directory");
    let profile = match bin_dir.file_name().and_then(|p| p.to_str()) {
        Some("debug") | None => "dev",
        Some(other) => other,
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(workspace)
        .args(["build", "-p", "sd-notify-examples", "--bins", "--profile", profile, "--target-dir"])
        .arg(target_dir)
        .stdin(Stdio::null());
    say(&format!("e2e: building the examples: {build:?}"));
    let status = build.status().unwrap_or_else(|e| panic!("cannot run cargo: {e}"));
    assert!(status.success(), "building the examples failed: {status}");
    for example in EXAMPLES {
        assert!(bin_dir.join(example).is_file(), "example {example} missing in {}", bin_dir.display());
    }
    bin_dir.to_owned()
}
