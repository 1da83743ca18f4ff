//! Parts 3 and 5, which need a service written with `#[sd_service]`.
//!
//! TODO(part 3): SIGTERM → `STOPPING=1` latency — build a tiny `#[sd_service]` service, run
//! it under a [`crate::drain::Drain`]-like receiver that timestamps each datagram, send
//! SIGTERM from the parent and report the median delay until `STOPPING=1` arrives (and, for
//! comparison, a hand-written `signal-hook` + `sd_notify_core::notify` service).
//!
//! TODO(part 5): binary size (stripped release) and idle wake-ups (`perf stat -e
//! context-switches` / `/proc/<pid>/status` voluntary switches over N seconds of idling) of
//! the same service vs a plain `fn main` that only notifies.

/// The message printed (and written) while the attribute is missing.
pub const NOT_YET: &str = "not measured yet: needs #[sd_service]";

/// Part 3: SIGTERM → `STOPPING=1` latency. Not implemented until `#[sd_service]` exists.
pub fn sigterm_to_stopping() -> String {
    println!("part 3 (SIGTERM → STOPPING=1 latency): {NOT_YET}");
    format!("{NOT_YET}.\n")
}

/// Part 5: binary size and idle wake-ups. Not implemented until `#[sd_service]` exists.
pub fn size_and_idle_wakeups() -> String {
    println!("part 5 (binary size, idle wake-ups): {NOT_YET}");
    format!("{NOT_YET}.\n")
}
