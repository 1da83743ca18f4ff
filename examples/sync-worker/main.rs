//! A sync worker loop: takes jobs (files) from a spool directory and processes them, as a
//! `Type=notify` service with a watchdog (see `sync-worker.service` beside this file).
//!
//! The loop checks [`ServiceHandle::is_stopping`] between jobs (the shutdown check) and calls
//! [`ServiceHandle::heartbeat`] (the watchdog's heartbeat: a due ping goes out only after
//! it), so a job that hangs stops the pings and systemd restarts the worker.
//!
//! Environment: `SPOOL_DIR` (default: `$TMPDIR/sd-notify-spool`).

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sd_notify_core::{ServiceHandle, sd_service, status};

#[sd_service(starting = "Opening spool", running = "Idle")]
fn main(service: ServiceHandle) -> io::Result<()> {
    #[ready]
    let spool = open_spool()?;
    let mut done = 0u64;
    while !service.is_stopping() {
        // Ties the watchdog pings (WatchdogSec= in the unit) to this loop: if a job hangs,
        // the pings stop and systemd restarts the worker.
        service.heartbeat();
        match next_job(&spool)? {
            Some(job) => {
                process(&job)?;
                done += 1;
                status!("jobs done: {done}")?;
            }
            None => std::thread::sleep(Duration::from_millis(200)),
        }
    }
    Ok(())
}

fn open_spool() -> io::Result<PathBuf> {
    let dir = std::env::var_os("SPOOL_DIR")
        .map_or_else(|| std::env::temp_dir().join("sd-notify-spool"), PathBuf::from);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn next_job(spool: &Path) -> io::Result<Option<PathBuf>> {
    let mut jobs: Vec<PathBuf> = std::fs::read_dir(spool)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "job"))
        .collect();
    jobs.sort();
    Ok(jobs.into_iter().next())
}

/// "Processing" a job: count its bytes, then remove it.
fn process(job: &Path) -> io::Result<()> {
    let len = std::fs::metadata(job)?.len();
    println!("processed {} ({len} bytes)", job.display());
    std::fs::remove_file(job)
}
