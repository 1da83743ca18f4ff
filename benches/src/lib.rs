//! The benchmark suite of the workspace: `cargo run --release -p sd-notify-benches --bin
//! bench-all` measures every part below and writes `BENCHMARKS.md` at the workspace root.
//!
//! Parts (one module each, one section of `BENCHMARKS.md` each):
//! 1. [`notify_cost`]: ns per notification, ours vs other crates, the C library and two floors
//!    (`send(2)` on a connected socket, `sendto(2)` on an unbound one), in two regimes: sender
//!    cost (the same thread drains the receiver between batches) and live receiver (a receiver
//!    thread drains as datagrams arrive).
//! 7. (`--parts callgrind`, written into section 1) [`per_op::callgrind_measure`]: user-space
//!    instructions per notification under callgrind, with a per-function breakdown.
//! 2. [`per_op`]: system calls (`strace -f -c`) and heap allocations (counting allocator) per
//!    notification.
//! 3. [`service`]: start-up (spawn → `READY=1`, and the system calls before it) and SIGTERM →
//!    `STOPPING=1` latency of `#[sd_service]` services (tokio `current_thread`, `multi_thread`,
//!    sync) beside hand-rolled ones on the same runtimes, without load and with two CPU hogs;
//!    the service binaries are in `src/bin/`.
//! 4. [`build_cost`]: cold build of `sd-notify-macros` vs `tokio-macros` (4a), and what a
//!    tokio service pays for adding `sd-notify-core` (4b): cold builds with cargo's defaults
//!    (incremental in debug) and with `CARGO_INCREMENTAL=0`, and a rebuild after an edit of
//!    `main.rs`.
//! 5. [`footprint`]: binary size (stripped release, with where the extra bytes go by section
//!    and module) and threads and idle wake-ups of
//!    `#[sd_service]` services, with and without a watchdog, beside the same programs
//!    without the attribute.
//! 6. [`waiters`]: poll cost of a `shutdown()` future with up to 100 000 others waiting, and
//!    the wakers dropped futures leave, ours beside the algorithm before issue 13 (item 1).
//!
//! Nothing here asserts on time: this is a measurement tool, not a test.

#![cfg(target_os = "linux")]

pub mod alloc_count;
pub mod build_cost;
pub mod drain;
pub mod footprint;
pub mod machine;
pub mod notify_cost;
pub mod per_op;
pub mod senders;
pub mod service;
pub mod stats;
pub mod waiters;

/// The workspace root (where `BENCHMARKS.md` lives).
pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(|p| p.to_path_buf()).unwrap_or_default()
}

/// The one command that reproduces every figure.
pub const COMMAND: &str = "cargo run --release -p sd-notify-benches --bin bench-all";
