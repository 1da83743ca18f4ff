//! Compile tests of `#[sd_service]`.
//!
//! - `ui/fail/*.rs`: each must fail to compile with exactly the `.stderr` beside it.
//! - `ui/pass/*.rs`: each must compile under `#![deny(warnings)]` and run successfully.
//! - `ui/edition-2021/`: a crate of its own, Rust 2021 with sd-notify-core renamed.
//! - `ui/renamed-dependency/`: a crate of its own with sd-notify-core renamed but no
//!   `crate = "…"`, which must fail with the error naming the option.
//!
//! The `.stderr` files depend on the compiler's wording: they are made with the toolchain
//! pinned in `rust-toolchain.toml` (1.95.0). After changing the macro, or moving the pin,
//! regenerate them and review the diff:
//!
//! ```text
//! TRYBUILD=overwrite cargo test -p sd-notify-tests --test compile
//! ```
//!
//! New `.stderr` files land in `tests/wip/` first when `TRYBUILD` is unset; with
//! `TRYBUILD=overwrite` they are written beside the cases directly.

use std::path::Path;
use std::process::Command;

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui/fail/*.rs");
    cases.pass("ui/pass/*.rs");
}

/// Rust 2021 and a renamed dependency: trybuild compiles every case with this package's
/// edition, and Cargo refuses a second name for a package this crate already depends on,
/// so this one is a crate of its own, generated in the target directory and run.
#[test]
fn edition_2021_with_renamed_dependency() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let workspace = here.parent().expect("tests/ is in the workspace");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("edition-2021");
    std::fs::create_dir_all(&dir).unwrap();
    let core = workspace.join("sd-notify-core");
    let manifest = format!(
        r#"[package]
name = "sd-notify-edition-2021"
version = "0.0.0"
edition = "2021"
publish = false

[[bin]]
name = "edition-2021"
path = {main:?}

[dependencies]
sd = {{ package = "sd-notify-core", path = {core:?} }}
tokio = {{ version = "1", features = ["rt", "macros"] }}

[workspace]
"#,
        main = here.join("ui/edition-2021/main.rs"),
        core = core,
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    // The workspace's versions of everything, so no new resolution is needed.
    std::fs::copy(workspace.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target = dir.join("target");
    let status = Command::new(cargo)
        .args(["build", "--quiet", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .current_dir(workspace)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "the Rust 2021 crate failed to build: {status}");
    for service in ["sync", "async"] {
        let output = Command::new(target.join("debug/edition-2021"))
            .arg(service)
            .env_remove("NOTIFY_SOCKET")
            .output()
            .expect("the Rust 2021 binary runs");
        assert!(output.status.success(), "{service} service: {output:?}");
        assert!(output.stderr.is_empty(), "{service} service: {}", String::from_utf8_lossy(&output.stderr));
    }
}

/// sd-notify-core renamed in Cargo.toml and no `crate = "…"`: the attribute reads the
/// manifest and says which option to write. A crate of its own (see above), checked with
/// the Rust 2021 crate's target directory, so the dependencies are built once.
#[test]
fn renamed_dependency_without_crate_option() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let workspace = here.parent().expect("tests/ is in the workspace");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("renamed-dependency");
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = format!(
        r#"[package]
name = "sd-notify-renamed-dependency"
version = "0.0.0"
edition = "2024"
publish = false

[[bin]]
name = "renamed-dependency"
path = {main:?}

[dependencies]
sd = {{ package = "sd-notify-core", path = {core:?} }}

[workspace]
"#,
        main = here.join("ui/renamed-dependency/main.rs"),
        core = workspace.join("sd-notify-core"),
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::copy(workspace.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["check", "--quiet", "--color=never", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(Path::new(env!("CARGO_TARGET_TMPDIR")).join("edition-2021/target"))
        .current_dir(workspace)
        .output()
        .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "a renamed dependency without `crate =` compiled:\n{stderr}");
    let expected = "error: sd-notify-core is renamed to `sd` in Cargo.toml, so `::sd_notify_core` does not \
                    exist here: write #[sd_service(crate = \"sd\")]";
    assert!(stderr.contains(expected), "expected {expected:?} in:\n{stderr}");
    let errors = stderr.lines().filter(|line| line.starts_with("error")).count();
    assert_eq!(errors, 2, "one error (and cargo's summary), no follow-up:\n{stderr}");
}
