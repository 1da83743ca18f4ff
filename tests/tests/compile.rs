//! Compile tests of `#[sd_service]`.
//!
//! - `ui/fail/*.rs`: each must fail to compile with exactly the `.stderr` beside it.
//! - `ui/pass/*.rs`: each must compile under `#![deny(warnings)]` and run successfully.
//! - `ui/edition-2021/`: a crate of its own, Rust 2021 with sd-notify-core renamed.
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
