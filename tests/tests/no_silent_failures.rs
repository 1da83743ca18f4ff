//! Issue 8, "no silent failures": each test proves one promise of `#[sd_service]` that held
//! only in the easy case before (a manager that appears late or never reads, fork() without
//! exec, tiny watchdog intervals, reloads and stop signals that overlap, two services in
//! one process, how a failure is told). Real sockets, exact datagrams, as in lifecycle.rs.
//! The `issue 8, item N` comment above each test names the item it proves.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use sd_notify_core::{EXIT_BARRIER_TIMEOUT, NotifyAddress, Receiver};
use sd_notify_tests::{Event, Launch, ServiceUnderTest, exit_code, fill_queue, monotonic_usec};

const TIMELINE: &str = env!("CARGO_BIN_EXE_fixture-timeline");
const FORK: &str = env!("CARGO_BIN_EXE_fixture-fork");
const RELOAD_ROUNDS: &str = env!("CARGO_BIN_EXE_fixture-reload-rounds");
const EARLY_ANSWER: &str = env!("CARGO_BIN_EXE_fixture-early-answer");
const HEARTBEAT: &str = env!("CARGO_BIN_EXE_fixture-heartbeat");
const HEALTH: &str = env!("CARGO_BIN_EXE_fixture-health");
const TWO_SERVICES: &str = env!("CARGO_BIN_EXE_fixture-two-services");
const HANDLE_LIFETIME: &str = env!("CARGO_BIN_EXE_fixture-handle-lifetime");
const ERRORS: &str = env!("CARGO_BIN_EXE_fixture-errors");
const TERMINATION: &str = env!("CARGO_BIN_EXE_fixture-termination");
const SYNC_NO_HANDLE: &str = env!("CARGO_BIN_EXE_fixture-sync-no-handle");

/// Generous bound for "at once" (as in lifecycle.rs): catches hangs, not scheduling noise.
const PROMPTLY: Duration = Duration::from_secs(2);
const EXIT: Duration = Duration::from_secs(15);

fn is_ready(e: &Event) -> bool {
    e.has("READY=1")
}

fn is_stopping(e: &Event) -> bool {
    e.has("STOPPING=1")
}

fn pings(events: &[Event]) -> usize {
    events.iter().filter(|e| e.text() == "WATCHDOG=1").count()
}

/// SIGTERM, then exactly `STOPPING=1\nSTATUS=<stopping>` (once), exit status 0, and the
/// process's last datagram is its one exit barrier.
fn stop_and_expect_clean_exit(svc: &mut ServiceUnderTest, stopping: &str) {
    svc.signal(libc::SIGTERM);
    let stop = svc.wait_for("STOPPING=1", PROMPTLY, is_stopping);
    assert_eq!(stop.text(), format!("STOPPING=1\nSTATUS={stopping}"));
    assert_eq!(stop.pid, Some(svc.pid()));
    let status = svc.wait_exit(EXIT);
    assert_eq!(exit_code(status), 0, "{:#?}", svc.texts());
    assert_clean_end(svc);
}

/// STOPPING exactly once, and exactly one barrier: the last datagram.
fn assert_clean_end(svc: &ServiceUnderTest) {
    assert_eq!(svc.with_line("STOPPING=1").len(), 1, "STOPPING once: {:#?}", svc.texts());
    assert!(svc.events.last().is_some_and(|e| e.barrier), "ends with the barrier: {:#?}", svc.texts());
    assert_eq!(svc.events.iter().filter(|e| e.barrier).count(), 1, "one barrier: {:#?}", svc.texts());
}

/// A name no other test (or run) uses.
fn unique(what: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("sd-notify-{what}-{}-{nanos}", std::process::id())
}

/// A fresh temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(what: &str) -> Self {
        let dir = std::env::temp_dir().join(unique(what));
        std::fs::create_dir(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---- A. STOPPING is never lost -------------------------------------------------------

/// The service starts while nobody listens at its `NOTIFY_SOCKET` (its STATUS and READY
/// cannot be delivered), the manager binds the address afterwards, then SIGTERM comes: the
/// manager must get `STOPPING=1`. Before it only what the start could not deliver, in order;
/// after it only the barrier.
fn stopping_reaches_a_late_manager(address: NotifyAddress) {
    let mut svc = Launch::new(TIMELINE).unbound(address).start();
    svc.mark("ready", EXIT); // handlers installed; nothing could be sent so far
    std::thread::sleep(Duration::from_millis(300));
    svc.bind_late();
    svc.signal(libc::SIGTERM);
    let stop = svc.wait_for("STOPPING=1", Duration::from_secs(5), is_stopping);
    assert_eq!(stop.text(), "STOPPING=1\nSTATUS=Stopping");
    assert_eq!(stop.pid, Some(svc.pid()));
    assert_eq!(exit_code(svc.wait_exit(EXIT)), 0, "{:#?}", svc.texts());
    assert_clean_end(&svc);
    let texts = svc.texts();
    let at = texts.iter().position(|t| t.starts_with("STOPPING=1")).unwrap();
    let start = ["STATUS=Starting", "READY=1\nSTATUS=Running"];
    let mut expected = start.iter();
    for early in &texts[..at] {
        assert!(expected.any(|s| s == early), "before STOPPING only the start, in order: {texts:#?}");
    }
    assert_eq!(texts.len(), at + 2, "after STOPPING only the barrier: {texts:#?}");
}

// issue 8, item 1 (path address)
#[test]
fn stopping_reaches_a_manager_whose_path_socket_appears_after_start() {
    let dir = TempDir::new("late-path");
    stopping_reaches_a_late_manager(NotifyAddress::from_path(dir.0.join("notify")).unwrap());
}

// issue 8, item 1 (abstract address)
#[test]
fn stopping_reaches_a_manager_whose_abstract_socket_appears_after_start() {
    stopping_reaches_a_late_manager(NotifyAddress::from_abstract_name(unique("late").into_bytes()).unwrap());
}

// ---- B. A manager that does not read never holds the service --------------------------

/// The bounds below are generous on purpose (shared, noisy machines) but still separate the
/// broken behaviour from the fixed one by seconds: before the fix each of STATUS, READY, the
/// shutdown wake-up and the BARRIER send blocked 5 s (start delayed 10 s, `shutdown()` 5 s
/// after SIGTERM, exit 10 s after). The issue asks for 10 ms and EXIT_BARRIER_TIMEOUT + 0.5 s.
const NOT_DELAYED_USEC: u64 = 1_000_000;
const EXIT_BOUND: Duration = EXIT_BARRIER_TIMEOUT.saturating_add(Duration::from_millis(1500));

/// A receiver whose queue the test filled (and never reads while the service runs).
fn full_receiver() -> (Receiver, usize) {
    let receiver = Receiver::bind_unique_abstract().expect("bind receiver");
    let filled = fill_queue(&receiver);
    assert!(filled >= 10, "only {filled} datagrams fit: the queue is not full");
    (receiver, filled)
}

/// The start of the service is not delayed: the first statement after `#[ready]` runs
/// within [`NOT_DELAYED_USEC`] of `main`'s first statement.
fn assert_start_not_delayed(svc: &mut ServiceUnderTest) {
    let main = svc.mark("main", EXIT);
    let ready = svc.mark("ready", Duration::from_secs(30));
    assert!(
        ready.saturating_sub(main) < NOT_DELAYED_USEC,
        "a full queue delayed the start by {} ms (STATUS/READY sent from the user's thread)",
        (ready - main) / 1000
    );
}

/// The fixture's datagrams after the filler, and checks the filler came through intact.
fn fixture_datagrams(svc: &ServiceUnderTest, filled: usize) -> Vec<Event> {
    let filler: Vec<String> =
        svc.events.iter().filter(|e| e.pid == Some(std::process::id())).map(Event::text).collect();
    let expected: Vec<String> = (0..filled).map(|n| format!("X_FILL={n}")).collect();
    assert_eq!(filler, expected, "the test's own datagrams, in order");
    svc.events.iter().filter(|e| e.pid == Some(svc.pid())).cloned().collect()
}

// issue 8, item 3 (never read: start, shutdown() and exit are not held)
#[test]
fn full_queue_never_read_delays_neither_start_nor_shutdown_nor_exit() {
    let (receiver, filled) = full_receiver();
    let mut svc = Launch::new(TIMELINE).receiver(receiver).start();
    assert_start_not_delayed(&mut svc);
    let sent = monotonic_usec();
    let sent_at = Instant::now();
    svc.signal(libc::SIGTERM);
    let shutdown = svc.mark("shutdown", Duration::from_secs(30));
    assert!(
        shutdown.saturating_sub(sent) < NOT_DELAYED_USEC,
        "shutdown() completed {} ms after SIGTERM (the wake-up waited for the STOPPING send)",
        shutdown.saturating_sub(sent) / 1000
    );
    let status = svc.wait_exit_unread(Duration::from_secs(30));
    let exit_after = sent_at.elapsed();
    assert!(exit_after < EXIT_BOUND, "exit {exit_after:?} after SIGTERM, bound {EXIT_BOUND:?}");
    assert_eq!(exit_code(status), 0, "stderr: {}", svc.stderr());
    // Now read: what got through is well-formed and in order (in practice none of the
    // fixture's datagrams: the queue stayed full until it exited).
    while svc.next(Duration::from_millis(200)).is_some() {}
    let ours: Vec<String> = fixture_datagrams(&svc, filled).iter().map(Event::text).collect();
    let all = ["STATUS=Starting", "READY=1\nSTATUS=Running", "STOPPING=1\nSTATUS=Stopping", "BARRIER=1"];
    let mut expected = all.iter();
    for text in &ours {
        assert!(
            expected.any(|s| s == text),
            "the fixture's datagrams are a subsequence of {all:?}: {ours:#?}"
        );
    }
}

// issue 8, item 3 (what a full queue held back goes out, in order, once the manager reads)
#[test]
fn what_a_full_queue_held_back_is_sent_in_order_once_the_manager_reads() {
    let (receiver, filled) = full_receiver();
    let mut svc = Launch::new(TIMELINE).receiver(receiver).start();
    assert_start_not_delayed(&mut svc);
    // The manager reads again: the service thread sends what it holds.
    let pid = svc.pid();
    svc.wait_for("the held-back READY", EXIT, |e| e.pid == Some(pid) && is_ready(e));
    let ours: Vec<String> = fixture_datagrams(&svc, filled).iter().map(Event::text).collect();
    assert_eq!(ours, ["STATUS=Starting", "READY=1\nSTATUS=Running"]);
    stop_and_expect_clean_exit(&mut svc, "Stopping");
    fixture_datagrams(&svc, filled);
}

// issue 8, item 3 (late pings are not piled up in front of what matters): with a 20 ms
// watchdog and a manager that reads nothing for a second, the held-back datagrams carry one
// ping, not fifty (a queued ping makes every later one redundant until it is sent).
#[test]
fn a_manager_that_reads_late_gets_one_held_back_ping_not_a_pile() {
    let (receiver, filled) = full_receiver();
    let mut svc = Launch::new(TIMELINE).receiver(receiver).env("WATCHDOG_USEC", "20000").start();
    assert_start_not_delayed(&mut svc);
    std::thread::sleep(Duration::from_secs(1)); // about 100 pings fall due, none can go out
    let pid = svc.pid();
    let ready = svc.wait_for("the held-back READY", EXIT, |e| e.pid == Some(pid) && is_ready(e));
    svc.collect_for(Duration::from_millis(300));
    // The held-back ones arrive as one burst; after it, live pings come every 10 ms. A window
    // of 5 ms after READY holds the burst and at most one live ping.
    let burst = svc
        .events
        .iter()
        .filter(|e| e.pid == Some(pid) && e.text() == "WATCHDOG=1")
        .filter(|e| e.at >= ready.at && e.at - ready.at < Duration::from_millis(5))
        .count();
    assert!(burst <= 2, "{burst} pings held back behind READY: {:#?}", svc.texts());
    assert!(pings(&svc.events) >= 5, "pings flow again once the manager reads: {:#?}", svc.texts());
    stop_and_expect_clean_exit(&mut svc, "Stopping");
    fixture_datagrams(&svc, filled);
}

// ---- C. Processes -----------------------------------------------------------------------

/// Kills the listed PIDs (SIGKILL) on drop, so that no forked child outlives a failed test.
struct KillOnDrop(Vec<libc::pid_t>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for &pid in &self.0 {
            // SAFETY: kill() has no memory preconditions; these are our fixture's children
            // (already reaped ones are gone: ESRCH, or a PID reused within this test run is
            // not a concern at this scale).
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

// issue 8, item 4
#[test]
fn forked_child_dies_of_stop_and_reload_signals_and_sends_nothing() {
    let signals = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];
    let mut svc = Launch::new(FORK).env("FORKS", &signals.len().to_string()).start();
    svc.wait_for("READY=1", EXIT, is_ready);
    let children: Vec<libc::pid_t> = (0..signals.len())
        .map(|_| svc.stdout_line("CHILD <pid>", EXIT, |l| l.starts_with("CHILD ")).text[6..].parse().unwrap())
        .collect();
    let _reaper = KillOnDrop(children.clone());
    for (&child, &signal) in children.iter().zip(&signals) {
        // SAFETY: kill() has no memory preconditions; `child` is the fixture's child.
        assert_eq!(unsafe { libc::kill(child, signal) }, 0);
        let reaped = format!("REAPED {child} ");
        match svc.stdout_line_within(Duration::from_secs(5), |l| l.starts_with(&reaped)) {
            Some(line) => {
                assert_eq!(line.text, format!("REAPED {child} SIGNAL {signal}"), "default disposition")
            }
            None => {
                svc.collect_for(Duration::from_millis(300));
                let sent: Vec<_> = svc.events.iter().map(|e| (e.pid, e.text())).collect();
                panic!(
                    "the child {child} survived signal {signal} (handler inherited); datagrams (pid, text): {sent:#?}"
                );
            }
        }
    }
    // The children are dead: anything they sent is queued by now.
    svc.collect_for(Duration::from_millis(300));
    let from_children: Vec<_> = svc
        .events
        .iter()
        .filter(|e| e.pid.is_some_and(|p| children.contains(&(p as libc::pid_t))))
        .map(Event::text)
        .collect();
    assert!(from_children.is_empty(), "sent from a forked child: {from_children:#?}");
    assert_eq!(svc.texts(), ["READY=1"], "nothing but the parent's READY so far");
    assert!(svc.try_exit().is_none(), "the parent keeps running");
    stop_and_expect_clean_exit(&mut svc, "Stopping");
}

// issue 8, item 6: a 1 or 2 µs watchdog must not make the service spin.
fn assert_ping_period_is_clamped(bin: &str, usec: &str, stopping: &str) {
    let mut svc = Launch::new(bin).env("WATCHDOG_USEC", usec).start();
    svc.wait_for("READY=1", EXIT, is_ready);
    let window = svc.collect_for(Duration::from_secs(1));
    // MIN_WATCHDOG_PING_INTERVAL = 10 ms: at most 100 in 1 s, plus the ~11 that may have
    // queued before the window opened. Broken: tens of thousands.
    let n = pings(&window);
    assert!(n <= 115, "{bin} WATCHDOG_USEC={usec}: {n} pings in 1 s");
    assert!(n >= 5, "{bin} WATCHDOG_USEC={usec}: pings still go out ({n} in 1 s)");
    stop_and_expect_clean_exit(&mut svc, stopping);
}

// issue 8, item 6
#[test]
fn watchdog_usec_1_or_2_pings_at_most_every_10_ms() {
    for usec in ["1", "2"] {
        assert_ping_period_is_clamped(TIMELINE, usec, "Stopping");
        assert_ping_period_is_clamped(SYNC_NO_HANDLE, usec, "Bye");
    }
}

// ---- D. Reload ------------------------------------------------------------------------

// issue 8, item 7
#[test]
fn sighup_during_a_running_reload_starts_another_round() {
    let dir = TempDir::new("reload-gate");
    let gate = dir.0.join("gate");
    let mut svc = Launch::new(RELOAD_ROUNDS).env("RELOAD_GATE", gate.to_str().unwrap()).start();
    svc.wait_for("READY=1", EXIT, is_ready);
    let before_first = monotonic_usec();
    svc.signal(libc::SIGHUP);
    svc.wait_for("RELOADING=1", PROMPTLY, |e| e.has("RELOADING=1"));
    svc.mark("reload-started-1", EXIT); // the first reload runs (it waits for the gate)
    let before_second = monotonic_usec();
    svc.signal(libc::SIGHUP);
    // Let the second SIGHUP be handled while the first reload still waits; no assertion on time.
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&gate, b"").unwrap();
    // The second round, when there is one (not before the fix), ends with this line.
    let _ = svc.stdout_line_within(Duration::from_secs(5), |l| l.starts_with("T reload-done-2 "));
    svc.signal(libc::SIGTERM);
    assert_eq!(exit_code(svc.wait_exit(EXIT)), 0, "{:#?}", svc.texts());
    let stamps: Vec<u64> = svc
        .events
        .iter()
        .filter_map(|e| e.value("MONOTONIC_USEC"))
        .map(|v| v.parse().expect("MONOTONIC_USEC=<u64>"))
        .collect();
    // The stamps are checked below; the sequence with each stamp shown as <n>.
    let texts: Vec<String> = svc
        .texts()
        .iter()
        .map(|t| match t.split_once("MONOTONIC_USEC=") {
            Some((head, _)) => format!("{head}MONOTONIC_USEC=<n>"),
            None => t.clone(),
        })
        .collect();
    // The second SIGHUP's handler may announce it at once (the run time does: the manager
    // then sees RELOADING twice during the first round, which it ignores); either way the
    // first round's READY must be followed by a new round's RELOADING, then its READY.
    let rl = "RELOADING=1\nMONOTONIC_USEC=<n>";
    let ready = "READY=1\nSTATUS=Running";
    let end = ["STOPPING=1\nSTATUS=Stopping", "X_RELOADS=2", "BARRIER=1"]; // reloaded twice
    let plain: Vec<&str> = [ready, rl, ready, rl, ready].into_iter().chain(end).collect();
    let announced: Vec<&str> = [ready, rl, rl, ready, rl, ready].into_iter().chain(end).collect();
    assert!(
        texts == plain || texts == announced,
        "expected {plain:#?}\n(or with the second SIGHUP's RELOADING before the first READY)\nreceived {texts:#?}"
    );
    let new_round = *stamps.last().unwrap();
    assert!(stamps[0] >= before_first && new_round >= before_second, "fresh stamps: {stamps:?}");
    assert!(stamps.windows(2).all(|w| w[0] < w[1]), "{stamps:?}");
}

// issue 8, item 8
#[test]
fn reload_answer_with_nothing_pending_sends_nothing_and_returns_false() {
    let mut svc = Launch::new(EARLY_ANSWER).start();
    svc.wait_for("X_LATE_DONE", EXIT, |e| e.value("X_LATE_DONE").is_some());
    stop_and_expect_clean_exit(&mut svc, "Stopping");
    assert_eq!(
        svc.texts(),
        [
            "X_EARLY_DONE=false\nX_EARLY_FAILED=false", // before #[ready]: no READY, false
            "READY=1\nSTATUS=Running",                  // the marker's READY, the only one
            "X_LATE_DONE=false\nX_LATE_FAILED=false",   // ready, nothing pending: the same
            "STOPPING=1\nSTATUS=Stopping",
            "BARRIER=1",
        ]
    );
}

// ---- Repeated stop signals --------------------------------------------------------------

/// A second stop signal during a slow (2 s) graceful shutdown, under a manager: ignored,
/// the shutdown runs to its end, exit 0, STOPPING once, the barrier done.
fn second_stop_signal_is_ignored(signal: i32) {
    let mut svc = Launch::new(TIMELINE).env("SHUTDOWN_MS", "2000").start();
    svc.wait_for("READY=1", EXIT, is_ready);
    svc.signal(signal);
    let stop = svc.wait_for("STOPPING=1", PROMPTLY, is_stopping);
    assert_eq!(stop.text(), "STOPPING=1\nSTATUS=Stopping");
    svc.mark("shutdown", PROMPTLY);
    svc.signal(signal);
    let status = svc.wait_exit(EXIT);
    assert_eq!(exit_code(status), 0, "the second signal {signal} must not turn the stop into a failure");
    svc.mark("returning", PROMPTLY); // the graceful shutdown ran to its end
    assert_clean_end(&svc);
}

// issue 8, item 9 (ExecStop=kill $MAINPID, then systemd's own SIGTERM)
#[test]
fn second_sigterm_during_a_slow_shutdown_is_ignored_and_the_stop_stays_clean() {
    second_stop_signal_is_ignored(libc::SIGTERM);
}

// issue 8, item 9
#[test]
fn second_sigint_under_a_manager_is_ignored() {
    second_stop_signal_is_ignored(libc::SIGINT);
}

// issue 8, item 9 (Ctrl-C twice in a terminal; this already worked and must keep working)
#[test]
fn second_sigint_without_a_manager_exits_at_once_with_130() {
    let mut svc = Launch::new(TIMELINE).without_notify_socket().env("SHUTDOWN_MS", "30000").start();
    svc.mark("ready", EXIT);
    svc.signal(libc::SIGINT);
    svc.mark("shutdown", PROMPTLY);
    svc.signal(libc::SIGINT);
    let status = svc.wait_exit(Duration::from_secs(5)); // not the 30 s shutdown
    assert_eq!(exit_code(status), 130);
}

// ---- E. The watchdog never goes silent ------------------------------------------------

// issue 8, item 10 (sync main without the handle: the service thread pings, and says so)
#[test]
fn sync_main_without_handle_is_pinged_by_the_service_thread_which_says_so() {
    for (launch, how) in [
        (Launch::new(SYNC_NO_HANDLE), "WATCHDOG_PID unset"),
        (Launch::new(SYNC_NO_HANDLE).watchdog_pid_self(), "WATCHDOG_PID = its PID"),
    ] {
        let mut svc = launch.env("WATCHDOG_USEC", "200000").start();
        svc.wait_for("READY=1", EXIT, is_ready);
        let window = svc.collect_for(Duration::from_secs(1));
        assert!(pings(&window) >= 3, "{how}: {} pings in 1 s with a 200 ms watchdog", pings(&window));
        stop_and_expect_clean_exit(&mut svc, "Bye");
        let stderr = svc.stderr();
        let told = stderr.lines().filter(|l| l.contains("heartbeat()")).count();
        assert_eq!(told, 1, "{how}: one stderr line on who pings and `heartbeat()`; stderr: {stderr}");
    }
}

// issue 8, item 10 (sync main with the handle: heartbeat() ties the pings to the loop)
#[test]
fn sync_heartbeat_ties_the_pings_to_the_loop_and_a_stall_stops_them() {
    let mut svc = Launch::new(HEARTBEAT).env("WATCHDOG_USEC", "200000").env("HEARTBEAT_MS", "1500").start();
    svc.wait_for("READY=1", EXIT, is_ready);
    svc.wait_for("X_STALLED=1", EXIT, |e| e.text() == "X_STALLED=1");
    let beating = pings(&svc.events);
    assert!(beating >= 3, "{beating} pings during 1.5 s of heartbeat() with a 200 ms watchdog");
    let stalled = pings(&svc.collect_for(Duration::from_millis(1200)));
    // At most one ping that was already on its way as the loop stopped.
    assert!(stalled <= 1, "{stalled} pings in 1.2 s after the loop stopped calling heartbeat()");
    stop_and_expect_clean_exit(&mut svc, "Stopping");
}

// issue 8, item 11
#[test]
fn unhealthy_service_sends_no_pings_until_healthy_and_trigger_fires_the_watchdog() {
    let mut svc = Launch::new(HEALTH).env("WATCHDOG_USEC", "200000").stdin().start();
    svc.wait_for("READY=1", EXIT, is_ready);
    assert!(pings(&svc.collect_for(Duration::from_millis(600))) >= 2, "healthy: pings");

    svc.write_stdin("unhealthy");
    let ack = svc.wait_for("X_DONE=unhealthy", PROMPTLY, |e| e.value("X_DONE").is_some());
    assert_eq!(ack.text(), "X_DONE=unhealthy\nX_HEALTHY=false");
    // More than 2 watchdog intervals (2 × 200 ms): at most one ping that raced the call.
    let unhealthy = pings(&svc.collect_for(Duration::from_millis(600)));
    assert!(unhealthy <= 1, "{unhealthy} pings in 600 ms while unhealthy");

    svc.write_stdin("healthy");
    let ack = svc.wait_for("X_DONE=healthy", PROMPTLY, |e| e.value("X_DONE").is_some());
    assert_eq!(ack.text(), "X_DONE=healthy\nX_HEALTHY=true");
    let healthy = pings(&svc.collect_for(Duration::from_millis(600)));
    assert!(healthy >= 2, "{healthy} pings in 600 ms once healthy again");

    svc.write_stdin("trigger");
    let first = svc.events.len();
    svc.wait_for("X_DONE=trigger", PROMPTLY, |e| e.value("X_DONE").is_some());
    let after: Vec<String> =
        svc.events[first..].iter().map(Event::text).filter(|t| t != "WATCHDOG=1").collect();
    assert_eq!(
        after,
        ["WATCHDOG=trigger", "X_DONE=trigger\nX_HEALTHY=true"],
        "exact trigger datagram, sent now"
    );
    stop_and_expect_clean_exit(&mut svc, "Stopping");
}

// ---- F. Two services in one process ---------------------------------------------------

// issue 8, item 14 (one after the other)
#[test]
fn two_services_one_after_the_other_each_get_a_full_life_cycle() {
    let mut svc = Launch::new(TWO_SERVICES).start();
    let pid = svc.pid();
    svc.wait_for("first READY", EXIT, is_ready);
    svc.signal(libc::SIGTERM);
    svc.wait_for("first STOPPING", PROMPTLY, is_stopping);
    svc.wait_for("second READY", EXIT, |e| e.has("STATUS=second running"));
    svc.signal(libc::SIGHUP);
    let reloading = svc.wait_for("RELOADING=1", PROMPTLY, |e| e.has("RELOADING=1"));
    let stamp = reloading.value("MONOTONIC_USEC").unwrap_or_default();
    svc.wait_for("READY after the reload", PROMPTLY, is_ready);
    assert!(svc.try_exit().is_none(), "SIGHUP during the second service is a reload, it does not kill");
    svc.signal(libc::SIGTERM);
    svc.wait_for("second STOPPING", PROMPTLY, is_stopping);
    assert_eq!(exit_code(svc.wait_exit(EXIT)), 0, "{:#?}", svc.texts());
    assert_eq!(
        svc.texts(),
        [
            "READY=1\nSTATUS=first running".to_owned(),
            "STOPPING=1\nSTATUS=first stopping".to_owned(),
            "BARRIER=1".to_owned(),
            "READY=1\nSTATUS=second running".to_owned(),
            format!("RELOADING=1\nMONOTONIC_USEC={stamp}"),
            "READY=1\nSTATUS=second running".to_owned(),
            "STOPPING=1\nSTATUS=second stopping".to_owned(),
            "BARRIER=1".to_owned(),
        ]
    );
    assert!(svc.events.iter().all(|e| e.pid == Some(pid)));
}

// issue 8, item 14 (one inside another)
#[test]
fn a_service_called_while_another_runs_is_refused_and_its_body_never_runs() {
    let mut svc = Launch::new(TWO_SERVICES).env("NESTED", "1").start();
    let inner = svc.wait_for("X_INNER_FAILED", EXIT, |e| e.value("X_INNER_FAILED").is_some());
    assert_eq!(
        inner.text(),
        "X_INNER_FAILED=true",
        "the inner call returns ExitCode::FAILURE: {:#?}",
        svc.texts()
    );
    stop_and_expect_clean_exit_of_both(&mut svc);
    let texts = svc.texts();
    assert_eq!(texts[..2], ["READY=1\nSTATUS=first running", "X_INNER_FAILED=true"], "{texts:#?}");
    assert!(!texts.iter().any(|t| t.contains("X_INNER_BODY") || t.contains("inner running")), "{texts:#?}");
    let stderr = svc.stderr();
    assert!(
        stderr.contains("sd_service: `inner` was called while `first` is running"),
        "stderr names both: {stderr}"
    );
}

// issue 13, item 7: `ServiceHandle::current()` is `None` outside a service (it used to give a
// handle whose `shutdown()` never completed); a handle kept after its service answers
// "stopped", wakes what waits on it, sends nothing after the exit report, and never acts on
// the next service.
#[test]
fn a_handle_exists_only_while_its_service_runs_and_a_kept_one_answers_stopped() {
    let mut svc = Launch::new(HANDLE_LIFETIME).env("WATCHDOG_USEC", "60000000").start();
    assert_eq!(exit_code(svc.wait_exit(EXIT)), 0, "{:#?}", svc.texts());
    assert_eq!(
        svc.texts(),
        [
            "X_BEFORE_CURRENT=false",
            "READY=1\nSTATUS=first running",
            "X_FIRST_CURRENT=true\nX_FIRST_WATCHDOG=Some(60s)",
            "STOPPING=1\nSTATUS=first stopping",
            "BARRIER=1",
            "X_AFTER_CURRENT=false\nX_AFTER_STOPPING=true\nX_AFTER_WATCHDOG=None\nX_WAITER_WOKEN=true",
            // Nothing from the kept handle's set_status, trigger_watchdog or stop.
            "X_LATE_REFUSED=true",
            "READY=1\nSTATUS=second running",
            "X_OLD_STOPPING=true\nX_NEW_STOPPING=false",
            "X_NEW_STOPPING_AFTER_OLD_STOP=false\nX_NEW_HEALTHY_AFTER_OLD_MARK=true",
            "STOPPING=1\nSTATUS=second stopping",
            "BARRIER=1",
        ]
    );
}

/// Stops the first service, then the second one that follows it; exit 0.
fn stop_and_expect_clean_exit_of_both(svc: &mut ServiceUnderTest) {
    svc.signal(libc::SIGTERM);
    svc.wait_for("first STOPPING", PROMPTLY, is_stopping);
    svc.wait_for("second READY", EXIT, |e| e.has("STATUS=second running"));
    svc.signal(libc::SIGTERM);
    svc.wait_for("second STOPPING", PROMPTLY, |e| e.has("STATUS=second stopping"));
    assert_eq!(exit_code(svc.wait_exit(EXIT)), 0, "{:#?}", svc.texts());
}

// ---- G. What the manager is told ------------------------------------------------------

/// Runs the errors fixture (or `bin`) with `env` to its end: exit code and datagrams.
fn exit_report(bin: &str, env: &[(&str, &str)]) -> (i32, Vec<String>) {
    let mut svc = Launch::new(bin).envs(env).start();
    let code = exit_code(svc.wait_exit(EXIT));
    assert!(
        svc.events.last().is_some_and(|e| e.barrier),
        "{env:?}: ends with the barrier: {:#?}",
        svc.texts()
    );
    (code, svc.texts())
}

// issue 8, item 15 (Display, not Debug: quotes as written)
#[test]
fn string_error_is_reported_with_its_display_text() {
    let (code, texts) = exit_report(ERRORS, &[("ERROR", "string")]);
    assert_eq!(texts, ["STOPPING=1\nSTATUS=config is \"bad\"\nEXIT_STATUS=1", "BARRIER=1"]);
    assert_eq!(code, 1);
}

// issue 8, item 15 (Box<dyn Error + Send> is walked for the OS error)
#[test]
fn boxed_error_is_reported_with_its_text_and_errno() {
    let (code, texts) = exit_report(ERRORS, &[("ERROR", "boxed")]);
    assert_eq!(
        texts,
        ["STOPPING=1\nSTATUS=No such file or directory (os error 2)\nERRNO=2\nEXIT_STATUS=1", "BARRIER=1"]
    );
    assert_eq!(code, 1);
}

// issue 8, item 15 (the source chain, joined by ": ", a source already in the text skipped)
#[test]
fn error_source_chain_is_joined_and_gives_the_errno() {
    for case in ["chain", "included"] {
        let (code, texts) = exit_report(ERRORS, &[("ERROR", case)]);
        assert_eq!(
            texts,
            [
                "STOPPING=1\nSTATUS=opening config: Permission denied (os error 13)\nERRNO=13\nEXIT_STATUS=1",
                "BARRIER=1"
            ],
            "{case}"
        );
        assert_eq!(code, 1, "{case}");
    }
}

// issue 8, item 16
#[test]
fn failing_exit_code_is_reported_as_a_failure_with_its_status() {
    for (exit, n) in [("3", 3), ("failure", 1)] {
        let (code, texts) = exit_report(ERRORS, &[("EXIT", exit)]);
        assert_eq!(
            texts,
            [
                format!("STOPPING=1\nSTATUS=Failed with exit status {n}\nEXIT_STATUS={n}"),
                "BARRIER=1".to_owned()
            ],
            "ExitCode {exit}"
        );
        assert_eq!(code, n, "ExitCode {exit}");
    }
    let (code, texts) = exit_report(ERRORS, &[("EXIT", "0")]);
    assert_eq!(
        texts,
        ["READY=1", "STOPPING=1\nSTATUS=Stopping", "BARRIER=1"],
        "ExitCode::SUCCESS is a clean stop"
    );
    assert_eq!(code, 0);
}

// issue 8, item 13 (run-time side: any Termination, its failure told like a failing ExitCode)
#[test]
fn custom_termination_type_reports_its_failure_and_exit_status() {
    let (code, texts) = exit_report(TERMINATION, &[("CODE", "4")]);
    assert_eq!(texts, ["STOPPING=1\nSTATUS=Failed with exit status 4\nEXIT_STATUS=4", "BARRIER=1"]);
    assert_eq!(code, 4);
    let (code, texts) = exit_report(TERMINATION, &[]);
    assert_eq!(texts, ["READY=1", "STOPPING=1\nSTATUS=Stopping", "BARRIER=1"], "success is a clean stop");
    assert_eq!(code, 0);
}
