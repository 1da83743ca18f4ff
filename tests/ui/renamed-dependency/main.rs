//! Built by `tests/compile.rs` as a crate of its own, with sd-notify-core renamed to `sd` in
//! its manifest and no `crate = "sd"` below: the build must fail with the error that names
//! the option to write (not only rustc's "could not find `sd_notify_core`").

#[sd::sd_service]
fn main() {}
