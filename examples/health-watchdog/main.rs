//! A health-gated watchdog: the service's watchdog covers a background worker, not only
//! `main` (see `health-watchdog.service` beside this file, `WatchdogSec=`).
//!
//! An async `main` under `#[sd_service]` pings the watchdog whenever its future is polled,
//! so a worker thread that hangs while `main` runs on would go unnoticed. Here `main`
//! watches the worker and folds its health into the pings:
//! - the worker records its progress after each unit of work;
//! - `main` checks it a few times per stall limit (half the watchdog interval): silent for
//!   longer, the worker counts as hung, and `main` calls [`ServiceHandle::mark_unhealthy`] (no
//!   ping goes out any more, so systemd's watchdog fires after `WatchdogSec=`:
//!   "Watchdog timeout", `Result=watchdog`, a restart under `Restart=`), with a `STATUS=`
//!   that says why; when the worker makes progress again in time, [`ServiceHandle::mark_healthy`];
//! - a fault the worker cannot recover from calls [`ServiceHandle::trigger_watchdog`]
//!   (`WATCHDOG=trigger`): the manager takes its watchdog action at once, without waiting
//!   out `WatchdogSec=`.
//!
//! Demo knobs (environment), to see each path under a real manager:
//! - `HEALTH_DEMO_FAULT`: unset = healthy; `hang` = the worker hangs; `fatal` = the worker
//!   hits a fatal fault;
//! - `HEALTH_DEMO_FAULT_AFTER_MS` (default 1000): when, after READY;
//! - `HEALTH_DEMO_HANG_MS` (default: for good): how long a hang lasts, to see recovery.

use std::error::Error;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sd_notify_core::{ServiceHandle, sd_service, status};

type BoxError = Box<dyn Error + Send + Sync>;

/// The stall limit when no watchdog is configured (`WATCHDOG_USEC` unset).
const DEFAULT_STALL_LIMIT: Duration = Duration::from_secs(5);
/// One unit of the worker's (simulated) work.
const WORK: Duration = Duration::from_millis(100);

#[sd_service(starting = "Starting the worker", running = "Healthy")]
#[tokio::main(flavor = "current_thread")]
async fn main(service: ServiceHandle) -> Result<(), BoxError> {
    let fault = Fault::from_env()?;
    let progress = Progress::new();
    #[ready]
    spawn_worker(service, progress.clone(), fault)?;

    // The worker counts as hung when silent for half the watchdog interval (but never less
    // than two units of its work): marked unhealthy then, the manager's watchdog fires
    // within 1.5 intervals of the hang.
    let stall_limit = service.watchdog().map_or(DEFAULT_STALL_LIMIT, |interval| interval / 2).max(2 * WORK);
    let mut check = tokio::time::interval(stall_limit / 4);
    loop {
        tokio::select! {
            () = service.shutdown() => break,
            _ = check.tick() => {
                let silent = progress.silent_for();
                if silent > stall_limit && service.is_healthy() {
                    service.mark_unhealthy();
                    eprintln!("health-watchdog: worker silent for {silent:?}: unhealthy, watchdog pings paused");
                    status!("Unhealthy: worker silent for {} ms", silent.as_millis())?;
                } else if silent <= stall_limit && !service.is_healthy() {
                    service.mark_healthy();
                    eprintln!("health-watchdog: worker made progress again: healthy, watchdog pings resumed");
                    status!("Healthy")?;
                }
            }
        }
    }
    // A hung worker cannot be joined; it ends with the process.
    Ok(())
}

/// When the worker last finished a unit of work.
#[derive(Clone)]
struct Progress(Arc<Mutex<Instant>>);

impl Progress {
    fn new() -> Self {
        Progress(Arc::new(Mutex::new(Instant::now())))
    }

    fn record(&self) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
    }

    fn silent_for(&self) -> Duration {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).elapsed()
    }
}

/// The worker's scripted misfortune (`HEALTH_DEMO_*`).
#[derive(Clone, Copy)]
enum Fault {
    None,
    /// Hangs at `after`, for `duration` (`None`: for good).
    Hang {
        after: Duration,
        duration: Option<Duration>,
    },
    /// A fault it cannot recover from at `after`.
    Fatal {
        after: Duration,
    },
}

impl Fault {
    fn from_env() -> Result<Fault, BoxError> {
        let after = Duration::from_millis(ms_var("HEALTH_DEMO_FAULT_AFTER_MS")?.unwrap_or(1000));
        match std::env::var("HEALTH_DEMO_FAULT").as_deref() {
            Err(_) | Ok("") => Ok(Fault::None),
            Ok("hang") => {
                Ok(Fault::Hang { after, duration: ms_var("HEALTH_DEMO_HANG_MS")?.map(Duration::from_millis) })
            }
            Ok("fatal") => Ok(Fault::Fatal { after }),
            Ok(other) => Err(format!("HEALTH_DEMO_FAULT={other:?}: expected hang or fatal").into()),
        }
    }
}

fn ms_var(name: &str) -> Result<Option<u64>, BoxError> {
    match std::env::var(name) {
        Err(_) => Ok(None),
        Ok(v) => Ok(Some(v.parse().map_err(|e| format!("{name}={v:?}: {e}"))?)),
    }
}

/// The background worker: a thread doing units of work (a real one would consume a queue,
/// keep a connection pool, refresh a cache), recording its progress after each.
fn spawn_worker(service: ServiceHandle, progress: Progress, mut fault: Fault) -> std::io::Result<()> {
    let started = Instant::now();
    std::thread::Builder::new().name("worker".into()).spawn(move || {
        loop {
            std::thread::sleep(WORK);
            match fault {
                Fault::Hang { after, duration } if started.elapsed() >= after => {
                    eprintln!("worker: hanging (simulated deadlock)");
                    match duration {
                        Some(duration) => std::thread::sleep(duration),
                        None => loop {
                            std::thread::park();
                        },
                    }
                    eprintln!("worker: running again");
                    fault = Fault::None;
                }
                Fault::Fatal { after } if started.elapsed() >= after => {
                    eprintln!("worker: fatal fault (simulated): firing the watchdog");
                    service.trigger_watchdog();
                    return;
                }
                _ => {}
            }
            progress.record();
        }
    })?;
    Ok(())
}
