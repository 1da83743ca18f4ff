# shellcheck shell=bash
# The end-to-end matrix: #[sd_service] fixtures (tests/src/bin) and the example services
# (examples/*) as real units. Units: tests/e2e/units/matrix-*. Binaries: @BIN_DIR@ (the
# fixtures, `cargo build -p sd-notify-tests --bins`) and @EXAMPLES_DIR@ (the examples,
# `cargo build -p sd-notify-examples --bins`; default: the bin dir).
#
# Every result is read from systemd itself: `systemctl show` properties and the manager's
# debug journal ("Got notification message from PID N (…)" per accepted datagram, "…PID N:
# …" from 257 on: patterns from e2e_notify_re). Each
# case prints what it observed (lines starting with "  >" for its findings, "    unit:
# PROP=VALUE" for properties, "    | " for journal lines), so a run with -v is the record.

# ---------------------------------------------------------------- helpers

_m_say() { echo "  > $*"; }

# _m_props UNIT PROP[,PROP...]: print systemd's values as "    UNIT: PROP=VALUE".
_m_props() {
    e2e_systemctl show -p "$2" "$1" | sed "s|^|    $1: |"
}

# The unit's journal (e2e_journal: since the case began), read once and re-read only when
# a line looked for is not in it yet: a journal query costs 0.2-0.5 s here.
_M_JOURNAL_UNIT="" _M_JOURNAL=""
_m_journal_read() {
    _M_JOURNAL=$(e2e_journal "$1")
    _M_JOURNAL_UNIT=$1
}

# _m_jlines UNIT REGEX: print the unit's journal lines matching REGEX (read afresh).
_m_jlines() {
    _m_journal_read "$1"
    grep -E -- "$2" <<<"$_M_JOURNAL" | sed 's/^/    | /' || true
}

# _m_expect_journal UNIT REGEX [TIMEOUT=5]: a journal line of UNIT matches (re-reading
# the journal until TIMEOUT); print the matching lines.
_m_expect_journal() {
    local unit=$1 re=$2 deadline
    deadline=$(_e2e_deadline "${3:-5}")
    [ "$_M_JOURNAL_UNIT" = "$unit" ] || _m_journal_read "$unit"
    until grep -q -E -- "$re" <<<"$_M_JOURNAL"; do
        if ! _e2e_before "$deadline"; then
            tail -n 15 <<<"$_M_JOURNAL" | sed 's/^/    /' >&2
            e2e_fail "no journal line of $unit matches /$re/"
        fi
        _e2e_sleep 0.1
        _m_journal_read "$unit"
    done
    grep -E -- "$re" <<<"$_M_JOURNAL" | sed 's/^/    | /'
}

# _m_no_journal UNIT REGEX: no line matches (read afresh).
_m_no_journal() {
    local hit
    _m_journal_read "$1"
    hit=$(grep -E -m1 -- "$2" <<<"$_M_JOURNAL") || return 0
    e2e_fail "unexpected journal line of $1: $hit"
}

# _m_journal_count UNIT REGEX: matching lines (read afresh).
_m_journal_count() {
    _m_journal_read "$1"
    grep -c -E -- "$2" <<<"$_M_JOURNAL" || true
}

# _m_journal_all REGEX: lines of the whole journal (since the case began) matching REGEX,
# for the manager's messages not tied to a unit (e.g. the barrier).
_m_journal_all() {
    e2e_in journalctl --sync >/dev/null 2>&1 || true
    e2e_journalctl -o short-monotonic --since="$E2E_CASE_SINCE" | grep -E -- "$1" || true
}

# _m_bin NAME / _m_example NAME: the fixture / example binary must exist.
_m_bin() {
    [ -x "$E2E_BIN_DIR/$1" ] ||
        e2e_fail "no fixture $E2E_BIN_DIR/$1: build it with 'cargo build -p sd-notify-tests --bins' and pass --bin-dir"
}
_m_example() {
    local dir=${E2E_EXAMPLES_DIR:-$E2E_BIN_DIR}
    [ -x "$dir/$1" ] ||
        e2e_fail "no example $dir/$1: build it with 'cargo build -p sd-notify-examples --bins' and pass --examples-dir"
}

# _m_keep UNIT: keep UNIT loaded after it stops (see units/matrix-keep@.target), so that
# its Result/ExecMainStatus/timestamps after a stop are those of the run, not the
# defaults of a reloaded unit. Removed with the case's units.
_m_keep() {
    [ -f "$E2E_UNIT_DIR/matrix-keep@.target" ] || e2e_install_unit matrix-keep@.target
    _e2e_track_unit "matrix-keep@$1.target"
    e2e_systemctl start "matrix-keep@$1.target"
}

# _m_hold UNIT PROP VALUE SECS: the property keeps VALUE for SECS (polled every 0.1 s);
# fails at the first other value.
_m_hold() {
    local unit=$1 prop=$2 want=$3 deadline cur
    deadline=$(_e2e_deadline "$4")
    while _e2e_before "$deadline"; do
        cur=$(e2e_show "$unit" "$prop")
        [ "$cur" = "$want" ] || e2e_fail "$unit $prop changed to '$cur' (expected '$want' for $4 s); $(e2e_show_line "$unit")"
        _e2e_sleep 0.1
    done
}

# _m_hold_since_exec UNIT PROP VALUE SECS: the property keeps VALUE until SECS after the
# unit's ExecMainStartTimestampMonotonic (the manager's clock, not the case's pace: on a
# loaded machine the case may get here late, and then holds for less, or not at all; the
# cases also check ActiveEnter - ExecMainStart, which does not depend on the case's pace).
_m_hold_since_exec() {
    local unit=$1 start now left
    start=$(e2e_show "$unit" ExecMainStartTimestampMonotonic)
    now=$("$E2E_PYTHON" -c 'import time; print(time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000)')
    left=$(awk -v s="$start" -v d="$4" -v n="$now" 'BEGIN { printf "%d", s + d * 1000000 - n }')
    if ((left < 100000)); then
        _m_say "(got here $(((now - start) / 1000)) ms after exec: nothing left to hold)"
        return 0
    fi
    _m_hold "$unit" "$2" "$3" "$(awk -v l="$left" 'BEGIN { printf "%.2f", l / 1e6 }')"
    _m_say "$2=$3 until $4 s after exec (held $((left / 1000)) ms)"
}

# _m_usec_between UNIT PROP_FROM PROP_TO: PROP_TO - PROP_FROM (monotonic µs properties).
_m_usec_between() {
    local a b
    a=$(e2e_show "$1" "$2")
    b=$(e2e_show "$1" "$3")
    [[ $a =~ ^[0-9]+$ && $b =~ ^[0-9]+$ && $a -gt 0 && $b -gt 0 ]] || e2e_fail "$1: $2='$a' $3='$b'"
    echo $((b - a))
}

# _m_free_port: a TCP port on 127.0.0.1 that was free a moment ago (never 7878/7879, the
# examples' defaults, so that an example that bound its default would be noticed).
_m_free_port() {
    "$E2E_PYTHON" -c '
import socket
while True:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    if p not in (7878, 7879):
        print(p)
        break'
}

# _m_tcp_line PORT: connect to 127.0.0.1:PORT, print the first line received (10 s).
_m_tcp_line() {
    local fd line=""
    exec {fd}<>"/dev/tcp/127.0.0.1/$1" || e2e_fail "cannot connect to 127.0.0.1:$1"
    IFS= read -r -t 10 line <&"$fd" || true
    exec {fd}>&-
    printf '%s\n' "$line"
}

# _m_tcp_open VAR PORT: connect to 127.0.0.1:PORT and keep the connection open: its fd in
# VAR, the first line received (10 s) in M_TCP_LINE. Call it directly, not in $(...), so
# that the caller keeps the fd; close with `exec {VAR}>&-`.
_m_tcp_open() {
    local -n _m_fd=$1
    exec {_m_fd}<>"/dev/tcp/127.0.0.1/$2" || e2e_fail "cannot connect to 127.0.0.1:$2"
    M_TCP_LINE=""
    IFS= read -r -t 10 M_TCP_LINE <&"$_m_fd" || true
}

# _m_wait_journal_count UNIT REGEX N [TIMEOUT=10]: until at least N journal lines match.
_m_wait_journal_count() {
    local deadline
    deadline=$(_e2e_deadline "${4:-10}")
    until [ "$(_m_journal_count "$1" "$2")" -ge "$3" ]; do
        _e2e_before "$deadline" || e2e_fail "fewer than $3 journal lines of $1 match /$2/"
        _e2e_sleep 0.05
    done
}

# _m_elapsed_ms T0: milliseconds since T0 (from _e2e_now).
_m_elapsed_ms() { echo $((($(_e2e_now) - $1) / 1000)); }

# ---------------------------------------------------------------- 1. Type=notify start-up

# Activating during the 2 s init (STATUS=Starting), active/running only after READY=1.
case_m1_notify_ready_after_init() {
    local u=matrix-notify.service pid usec
    _m_bin fixture-async
    e2e_install_unit $u
    e2e_start_nb $u
    e2e_wait_for_property $u StatusText Starting 10
    e2e_assert_property $u ActiveState activating
    e2e_assert_property $u SubState start
    _m_say "during init:"
    _m_props $u ActiveState,SubState,StatusText,MainPID
    pid=$(e2e_show $u MainPID)
    # Still starting 1.5 s after exec (init takes 2 s; no READY=1 yet).
    _m_hold_since_exec $u ActiveState activating 1.5
    _m_say "still activating:"
    _m_props $u ActiveState,SubState,StatusText
    e2e_wait_for_property $u ActiveState active 15
    e2e_assert_property $u SubState running
    e2e_assert_property $u StatusText Running
    e2e_assert_property $u MainPID "$pid"
    _m_say "after init:"
    _m_props $u ActiveState,SubState,StatusText,MainPID,NRestarts
    usec=$(_m_usec_between $u ExecMainStartTimestampMonotonic ActiveEnterTimestampMonotonic)
    ((usec >= 2000000)) || e2e_fail "active ${usec} µs after exec, before the 2 s init ended"
    _m_say "activating for $((usec / 1000)) ms (ExecMainStartTimestampMonotonic -> ActiveEnterTimestampMonotonic), init is 2000 ms"
    _m_expect_journal $u "$(e2e_notify_re "$pid" "STATUS=Starting")"
    _m_expect_journal $u "$(e2e_notify_re "$pid" "READY=1, STATUS=Running")"
    _m_expect_journal $u 'Changed start -> running'
    [ "$(_m_journal_count $u 'Got notification message .*READY=1')" = 1 ] || e2e_fail "more than one READY=1"
    e2e_stop $u
}

# ---------------------------------------------------------------- 2. systemctl stop

# deactivating (stop-sigterm) with STATUS=Stopping during a 1.5 s graceful shutdown, then
# a clean exit: Result=success, ExecMainStatus=0.
case_m2_stop_deactivating() {
    local u=matrix-stop.service pid
    _m_bin fixture-async
    e2e_install_unit $u
    _m_keep $u
    e2e_start $u
    e2e_assert_property $u ActiveState active
    e2e_assert_property $u StatusText Running
    pid=$(e2e_show $u MainPID)
    e2e_stop_nb $u
    e2e_wait_for_property $u ActiveState deactivating 5
    e2e_wait_for_property $u StatusText Stopping 5
    e2e_assert_property $u SubState stop-sigterm
    _m_say "right after systemctl stop:"
    _m_props $u ActiveState,SubState,StatusText,MainPID
    e2e_wait_for_property $u ActiveState inactive 15
    _m_expect_clean_stop $u "$pid"
    _m_expect_journal $u 'Changed running -> stop-sigterm'
}

# _m_expect_clean_stop UNIT PID: the stopped unit (kept loaded) ended cleanly: exit 0 of PID
# after STOPPING=1 and its 1.5 s graceful shutdown (SHUTDOWN_MS=1500), Result=success; on
# 254 the exit barrier.
_m_expect_clean_stop() {
    local u=$1 pid=$2 usec barrier
    e2e_assert_property "$u" ActiveState inactive
    e2e_assert_property "$u" SubState dead
    e2e_assert_property "$u" Result success
    e2e_assert_property "$u" ExecMainStatus 0
    e2e_assert_property "$u" ExecMainCode 1 # CLD_EXITED
    e2e_assert_property "$u" ExecMainPID "$pid"
    _m_say "after the stop:"
    _m_props "$u" ActiveState,SubState,Result,ExecMainPID,ExecMainCode,ExecMainStatus,StatusText
    usec=$(_m_usec_between "$u" ActiveExitTimestampMonotonic InactiveEnterTimestampMonotonic)
    ((usec >= 1500000)) || e2e_fail "deactivating for only ${usec} µs (SHUTDOWN_MS=1500)"
    _m_say "deactivating for $((usec / 1000)) ms (ActiveExit -> InactiveEnter), graceful shutdown is 1500 ms"
    _m_expect_journal "$u" "$(e2e_notify_re "$pid" "STOPPING=1, STATUS=Stopping")"
    _m_expect_journal "$u" 'Main process exited, code=exited, status=0/SUCCESS'
    # The manager's words for a clean end: 247 "Succeeded.", 252 and later "Deactivated
    # successfully." (the same event, reworded in a release between the two).
    if e2e_systemd_at_least 252; then
        _m_expect_journal "$u" "^.*: $u: Deactivated successfully\.$"
    else
        _m_expect_journal "$u" "^.*: $u: Succeeded\.$"
    fi
    barrier=$(_m_journal_all "Received barrier notification message from PID $pid\.")
    if e2e_systemd_at_least 254; then
        [ -n "$barrier" ] || e2e_fail "no barrier from PID $pid in the journal"
    fi
    [ -z "$barrier" ] || printf '    | %s\n' "$barrier"
}

# Issue 8, item 9: ExecStop=/bin/kill $MAINPID, after which systemd sends its own SIGTERM
# while the service is still shutting down: the second SIGTERM is ignored, the stop is as
# clean as with one (exit 0, not status 143; 254: the barrier).
case_m2_stop_exec_kill() {
    local u=matrix-stop-exec-kill.service pid
    _m_bin fixture-async
    E2E_NO_RELOAD=1 e2e_install_unit matrix-stop.service $u
    e2e_install_dropin $u exec-kill <"$E2E_DIR/units/matrix-stop-exec-kill.conf"
    _m_keep $u
    e2e_start $u
    pid=$(e2e_show $u MainPID)
    _m_props $u ExecStop
    e2e_stop $u
    _m_expect_clean_stop $u "$pid"
    # ExecStop= ended while the service was still running: systemd sent its own SIGTERM.
    _m_expect_journal $u 'Changed running -> stop$'
    _m_expect_journal $u 'Changed stop -> stop-sigterm$'
    _m_no_journal $u 'status=143'
}

# The lifecycle-demo example as a service: the STATUS it sends after STOPPING=1 (just
# before exiting) reaches the manager (the exit barrier), before the exit is seen.
case_m2_stop_last_status() {
    local u=matrix-lifecycle-demo.service pid journal n_status n_exit barrier
    _m_example lifecycle-demo
    e2e_install_unit $u
    _m_keep $u
    e2e_start $u
    e2e_assert_property $u StatusText Serving
    pid=$(e2e_show $u MainPID)
    e2e_stop $u
    e2e_assert_property $u ActiveState inactive
    e2e_assert_property $u Result success
    e2e_assert_property $u ExecMainStatus 0
    e2e_assert_property $u ExecMainPID "$pid"
    # The unit is kept loaded (_m_keep): its StatusText is the last one it received.
    e2e_assert_property $u StatusText "Closing connections"
    _m_props $u ActiveState,SubState,Result,ExecMainPID,ExecMainStatus,StatusText
    _m_expect_journal $u "$(e2e_notify_re "$pid" "STOPPING=1, STATUS=Shutting down")"
    _m_expect_journal $u "$(e2e_notify_re "$pid" "STATUS=Closing connections")"
    _m_expect_journal $u 'Main process exited, code=exited, status=0/SUCCESS'
    # The last STATUS was processed before the manager saw the process exit.
    _m_journal_read $u
    journal=$_M_JOURNAL
    n_status=$(grep -n -m1 -E "$(e2e_notify_re "$pid" "STATUS=Closing connections")" <<<"$journal" | cut -d: -f1)
    n_exit=$(grep -n -m1 -E 'Main process exited' <<<"$journal" | cut -d: -f1)
    ((n_status < n_exit)) || e2e_fail "STATUS=Closing connections (line $n_status) after the exit (line $n_exit)"
    _m_say "STATUS=Closing connections is journal line $n_status, the exit line $n_exit"
    barrier=$(_m_journal_all "Received barrier notification message from PID $pid\.")
    if e2e_systemd_at_least 254; then
        [ -n "$barrier" ] || e2e_fail "no barrier from PID $pid in the journal"
        printf '    | %s\n' "$barrier"
    else
        _m_say "(systemd 252 does not log barriers by PID)"
    fi
}

# Issue 8, item 20: tokio-server's last STATUS counts the connections still open, not those
# that have ended: three connections, two closed before the stop -> "Draining 1 open
# connection"; the stop completes once the last one closes.
case_m2_tokio_server_draining() {
    local u=tokio-server.service pid c1 c2 c3
    _m_tokio_server_start
    pid=$(e2e_show $u MainPID)
    _m_tcp_open c1 "$M_PORT"
    _m_tcp_open c2 "$M_PORT"
    _m_tcp_open c3 "$M_PORT"
    e2e_assert_eq "hello from e2e, config 1" "$M_TCP_LINE" "greeting on the third connection"
    exec {c1}>&- {c2}>&-
    _m_expect_journal $u 'connection closed; 1 open$' 10
    e2e_stop_nb $u
    e2e_wait_for_property $u StatusText "Draining 1 open connection" 10
    e2e_assert_property $u ActiveState deactivating
    _m_say "two of three connections closed, then systemctl stop:"
    _m_props $u ActiveState,SubState,StatusText
    exec {c3}>&-
    e2e_wait_for_property $u ActiveState inactive 15
    e2e_assert_property $u Result success
    e2e_assert_property $u ExecMainStatus 0
    _m_say "the last connection closed:"
    _m_props $u ActiveState,Result,ExecMainStatus
    _m_expect_journal $u "$(e2e_notify_re "$pid" "STOPPING=1, STATUS=Draining connections")"
    _m_expect_journal $u "$(e2e_notify_re "$pid" "STATUS=Draining 1 open connection")"
}

# ---------------------------------------------------------------- 3. init failure

# _m_start_fails UNIT STATUS_REGEX: `systemctl start UNIT` fails before READY=1, and systemd
# shows why: Result=exit-code, ExecMainStatus=1, StatusText matching STATUS_REGEX (an ERE).
_m_start_fails() {
    local u=$1 rc=0
    _m_keep "$u"
    e2e_start "$u" || rc=$?
    [ "$rc" != 0 ] || e2e_fail "systemctl start $u succeeded"
    _m_say "systemctl start exited $rc"
    e2e_wait_for_property "$u" ActiveState failed 10
    e2e_assert_property "$u" Result exit-code
    e2e_assert_property "$u" ExecMainStatus 1
    e2e_assert_property "$u" StatusText "~$2"
    _m_props "$u" ActiveState,Result,ExecMainStatus,StatusText
    _m_expect_journal "$u" "$(e2e_notify_re '[0-9]+' 'STOPPING=1, STATUS=.*, EXIT_STATUS=1')"
    _m_no_journal "$u" 'Got notification message .*READY=1'
}

case_m3_init_failure() {
    local u=matrix-init-fail.service
    _m_bin fixture-async
    e2e_install_unit $u
    _m_start_fails $u '^No such file or directory \(os error 2\)$'
    e2e_assert_property $u StatusErrno 2
    _m_props $u StatusErrno
    _m_expect_journal $u "$(e2e_notify_re '[0-9]+' 'STOPPING=1, STATUS=No such file or directory \(os error 2\), ERRNO=2, EXIT_STATUS=1')"
    _m_expect_journal $u "Failed with result 'exit-code'"
}

# ---------------------------------------------------------------- 4. watchdog

# A healthy service with WatchdogSec=1 stays up over 3.5 intervals, pinging.
_m_watchdog_healthy() {
    local fixture=$1 u=$2
    # shellcheck disable=SC2034  # (read by e2e_install_unit)
    local E2E_SUBST_FIXTURE=$fixture
    _m_bin "$fixture"
    e2e_install_unit matrix-watchdog.service "$u"
    _m_expect_watchdog_healthy "$u"
}

# _m_expect_watchdog_healthy UNIT: started with WatchdogSec=1, it stays up over 3.5
# intervals, pinging; then stopped.
_m_expect_watchdog_healthy() {
    local u=$1 pid n
    e2e_start "$u"
    e2e_assert_property "$u" ActiveState active
    e2e_assert_property "$u" WatchdogUSec 1s
    pid=$(e2e_show "$u" MainPID)
    _m_hold "$u" MainPID "$pid" 3.5
    e2e_assert_property "$u" ActiveState active
    e2e_assert_property "$u" SubState running
    e2e_assert_property "$u" NRestarts 0
    _m_say "3.5 s (3.5 watchdog intervals) later:"
    _m_props "$u" ActiveState,SubState,MainPID,NRestarts,WatchdogUSec,WatchdogTimestampMonotonic
    n=$(_m_journal_count "$u" "$(e2e_notify_re "$pid" "WATCHDOG=1")")
    ((n >= 5)) || e2e_fail "only $n WATCHDOG=1 notifications in 3.5 s"
    _m_say "$n WATCHDOG=1 notifications; the first three:"
    _m_jlines "$u" "$(e2e_notify_re '[0-9]+' 'WATCHDOG=1')" | head -n 3
    _m_no_journal "$u" 'Watchdog timeout'
    e2e_stop "$u"
}

# The first run stalls after READY (BLOCK_MS): killed with SIGABRT, Result=watchdog,
# restarted (Restart=on-watchdog, NRestarts=1); the second run is healthy.
_m_watchdog_stall() {
    local fixture=$1 u=$2 pid1 pid2
    # shellcheck disable=SC2034  # (read by e2e_install_unit)
    local E2E_SUBST_FIXTURE=$fixture E2E_SUBST_MARKER=$u.stalled
    _m_bin "$fixture"
    e2e_install_unit matrix-watchdog-stall.service "$u"
    e2e_start "$u"
    pid1=$(e2e_show "$u" MainPID)
    _m_say "first run, main PID $pid1, main task blocked for 10 s after READY"
    # RestartSec=1 leaves a second to see the failed run's result.
    e2e_wait_for_property "$u" Result watchdog 10
    _m_props "$u" ActiveState,SubState,Result,NRestarts,ExecMainPID,ExecMainCode,ExecMainStatus
    e2e_wait_for_property "$u" NRestarts 1 10
    e2e_wait_for_property "$u" ActiveState active 10
    e2e_assert_property "$u" SubState running
    pid2=$(e2e_show "$u" MainPID)
    [ "$pid2" != "$pid1" ] || e2e_fail "same main PID $pid1 after the restart"
    _m_hold "$u" MainPID "$pid2" 2.5
    e2e_assert_property "$u" NRestarts 1
    e2e_assert_property "$u" ActiveState active
    _m_say "restarted, healthy for 2.5 s:"
    _m_props "$u" ActiveState,SubState,MainPID,NRestarts,Result
    _m_expect_journal "$u" 'Watchdog timeout \(limit 1s\)!'
    _m_expect_watchdog_kill "$u" "$pid1" 'fixture-[a-z]+'
    _m_expect_journal "$u" 'Scheduled restart job, restart counter is at 1'
    _m_expect_journal "$u" "$(e2e_notify_re "$pid2" "WATCHDOG=1")" | head -n 3
    e2e_stop "$u"
}

# _m_expect_watchdog_kill UNIT PID COMM_REGEX: the manager's watchdog action killed PID
# (SIGABRT) and the run's result is "watchdog".
_m_expect_watchdog_kill() {
    _m_expect_journal "$1" "Killing process $2 \($3\) with signal SIGABRT"
    _m_expect_journal "$1" 'Main process exited, code=(killed|dumped), status=6/ABRT'
    _m_expect_journal "$1" "Failed with result 'watchdog'"
}

case_m4_watchdog_async_healthy() { _m_watchdog_healthy fixture-async matrix-wd-async.service; }
case_m4_watchdog_async_stalled() { _m_watchdog_stall fixture-async matrix-wd-async-stall.service; }
case_m4_watchdog_sync_healthy() { _m_watchdog_healthy fixture-sync matrix-wd-sync.service; }
case_m4_watchdog_sync_stalled() { _m_watchdog_stall fixture-sync matrix-wd-sync-stall.service; }
# Issue 8, item 10: a sync main without the handle (no heartbeat() to call) is pinged for
# by the service thread.
case_m4_watchdog_sync_no_handle_healthy() {
    _m_watchdog_healthy fixture-sync-no-handle matrix-wd-sync-no-handle.service
    # One line at start says where the pings come from and how to tie them to progress.
    _m_expect_journal matrix-wd-sync-no-handle.service 'sd_service: .*`service\.heartbeat\(\)`'
}

# Issue 8, item 11: examples/health-watchdog, its own unit file with the matrix drop-in
# (binary built here, Restart=no; HEALTH_DEMO_FAULT=FAULT half a second after READY,
# WatchdogSec=SECS).
_m_health_watchdog_install() {
    # shellcheck disable=SC2034  # (read by e2e_install_dropin)
    local E2E_SUBST_FAULT=$1 E2E_SUBST_WATCHDOG_SEC=$2
    _m_example health-watchdog
    E2E_NO_RELOAD=1 e2e_install_unit "$E2E_REPO/examples/health-watchdog/health-watchdog.service"
    e2e_install_dropin health-watchdog.service matrix <"$E2E_DIR/units/matrix-health-watchdog.service.conf"
    _m_keep health-watchdog.service
}

# Healthy: main pings while the worker makes progress.
case_m4_health_watchdog_healthy() {
    _m_health_watchdog_install "" 1
    _m_expect_watchdog_healthy health-watchdog.service
}

# The worker hangs while main runs on: main marks the service unhealthy (STATUS says why),
# no ping goes out after that, and systemd's watchdog fires.
case_m4_health_watchdog_worker_hangs() {
    local u=health-watchdog.service pid n_unhealthy n_last_ping
    _m_health_watchdog_install hang 1
    e2e_start $u
    pid=$(e2e_show $u MainPID)
    e2e_wait_for_property $u StatusText '~^Unhealthy: worker silent for [0-9]+ ms$' 5
    _m_props $u ActiveState,SubState,StatusText
    e2e_wait_for_property $u Result watchdog 5
    _m_props $u ActiveState,SubState,Result,ExecMainStatus
    _m_expect_journal $u 'worker: hanging'
    _m_expect_journal $u 'Watchdog timeout \(limit 1s\)!'
    _m_expect_watchdog_kill $u "$pid" health-watchdog
    # main's datagram after the hang, and no ping after it.
    _m_journal_read $u
    n_unhealthy=$(grep -n -m1 -E "$(e2e_notify_re "$pid" "STATUS=Unhealthy: .*")" <<<"$_M_JOURNAL" | cut -d: -f1)
    n_last_ping=$(grep -n -E "$(e2e_notify_re "$pid" "WATCHDOG=1")" <<<"$_M_JOURNAL" | tail -n 1 | cut -d: -f1)
    [ -n "$n_unhealthy" ] && [ -n "$n_last_ping" ] || e2e_fail "no STATUS=Unhealthy or no WATCHDOG=1 datagram"
    ((n_last_ping < n_unhealthy)) || e2e_fail "a WATCHDOG=1 (journal line $n_last_ping) after STATUS=Unhealthy (line $n_unhealthy)"
    _m_say "last WATCHDOG=1 is journal line $n_last_ping, STATUS=Unhealthy line $n_unhealthy"
}

# A fatal fault: WATCHDOG=trigger, and the manager's watchdog action at once, well before
# WatchdogSec=30.
case_m4_health_watchdog_fatal() {
    local u=health-watchdog.service pid usec
    _m_health_watchdog_install fatal 30
    e2e_start $u
    pid=$(e2e_show $u MainPID)
    e2e_wait_for_property $u Result watchdog 10
    _m_props $u ActiveState,SubState,Result,WatchdogUSec
    usec=$(_m_usec_between $u ExecMainStartTimestampMonotonic ExecMainExitTimestampMonotonic)
    ((usec < 5000000)) || e2e_fail "killed $((usec / 1000)) ms after the start: not at once (fault at ~500 ms, WatchdogSec=30)"
    _m_say "killed $((usec / 1000)) ms after the start (WatchdogSec=30)"
    _m_expect_journal $u "$(e2e_notify_re "$pid" "WATCHDOG=trigger")"
    _m_expect_journal $u 'Watchdog request \(last status: Healthy\)!'
    _m_expect_watchdog_kill $u "$pid" health-watchdog
    _m_no_journal $u 'Watchdog timeout'
}

# ---------------------------------------------------------------- 5. reload

# _m_reload_twice UNIT sync|async: two reloads (the service takes 500 ms, RELOAD_MS),
# same main PID, RELOADING=1 + MONOTONIC_USEC then READY=1 each time. "sync": the reload
# job must wait for READY=1 (Type=notify-reload). "async" (ExecReload=kill -HUP): the job
# may end when kill exits, before the service has even read the signal; then wait for the
# READY=1 before going on.
_m_reload_twice() {
    local u=$1 mode=$2 pid t0 ms n
    pid=$(e2e_show "$u" MainPID)
    for n in 1 2; do
        t0=$(_e2e_now)
        e2e_reload "$u" 20 || e2e_fail "systemctl reload #$n failed or hung: $(e2e_show_line "$u")"
        ms=$(_m_elapsed_ms "$t0")
        if [ "$mode" = sync ]; then
            ((ms >= 500)) || e2e_fail "systemctl reload #$n returned after $ms ms, before the service's READY=1 (reload takes 500 ms)"
            _m_say "systemctl reload #$n returned after $ms ms (the reload takes 500 ms)"
        else
            _m_say "systemctl reload #$n returned after $ms ms ($( ((ms >= 500)) && echo "the job waited for READY=1" || echo "the job ended with kill, before READY=1"))"
            _m_wait_journal_count "$u" "$(e2e_notify_re "$pid" "READY=1, STATUS=Running")" $((n + 1))
            e2e_wait_for_property "$u" SubState running 10
        fi
        e2e_assert_property "$u" ActiveState active
        e2e_assert_property "$u" SubState running
        e2e_assert_property "$u" MainPID "$pid"
        e2e_assert_property "$u" StatusText Running
    done
    _m_props "$u" ActiveState,SubState,MainPID,StatusText,NRestarts
    [ "$(_m_journal_count "$u" "$(e2e_notify_re "$pid" "RELOADING=1, MONOTONIC_USEC=[0-9]+")")" = 2 ] ||
        e2e_fail "expected 2 'RELOADING=1, MONOTONIC_USEC=' datagrams"
    [ "$(_m_journal_count "$u" "$(e2e_notify_re "$pid" "READY=1, STATUS=Running")")" = 3 ] ||
        e2e_fail "expected 3 'READY=1, STATUS=Running' (start + 2 reloads)"
    _m_jlines "$u" "Got notification message|Changed (running|reload)|reload finished|Reloaded|Control process exited"
}

case_m5_notify_reload() {
    e2e_requires_version 253 "Type=notify-reload"
    local u=matrix-notify-reload.service
    _m_bin fixture-async
    e2e_install_unit $u
    e2e_start $u
    e2e_assert_property $u Type notify-reload
    _m_props $u Type,ReloadSignal
    _m_reload_twice $u sync
    _m_expect_journal $u 'Changed running -> reload-signal' >/dev/null
    _m_expect_journal $u 'Changed reload-signal -> reload-notify' >/dev/null
    _m_expect_journal $u 'Changed reload-notify -> running' >/dev/null
    # 262 refuses a notify-reload service without a SIGHUP handler at READY=1
    # (m11_reload_handler_required): the service's is installed before.
    _m_no_journal $u 'lacks handler for reload signal'
    e2e_stop $u
}

# The setup for managers without notify-reload, on every version. kill -HUP is
# asynchronous (systemd.service(5) warns about it): whether the reload job waits for the
# service's READY=1 depends on whether its RELOADING=1 reaches the manager before kill's
# exit does. Either way the reload completes and the service stays up.
case_m5_reload_exec_kill_hup() {
    local u=matrix-reload-hup.service
    _m_bin fixture-async
    e2e_install_unit $u
    e2e_start $u
    _m_props $u Type,ExecReload
    _m_reload_twice $u async
    _m_expect_journal $u 'Control process exited, code=exited, status=0/SUCCESS' >/dev/null
    _m_expect_journal $u 'Changed reload(-notify)? -> running' >/dev/null
    e2e_stop $u
}

# The tokio-server example with its own unit file (Type=notify-reload; on < 253 with the
# drop-in its comment describes): greeting before and after a reload, same main PID.
# _m_tokio_server_start: examples/tokio-server with its own unit file and the matrix drop-ins
# (binary built here, a free port exported as $M_PORT, the greeting file; on < 253 the
# Type=notify drop-in its comment describes), kept loaded, started, accepting.
_m_tokio_server_start() {
    local u=tokio-server.service
    _m_example tokio-server
    M_PORT=$(_m_free_port)
    # shellcheck disable=SC2034  # (read by e2e_install_unit)
    local E2E_SUBST_PORT=$M_PORT
    echo "hello from e2e, config 1" >"$E2E_SCRATCH/greeting"
    E2E_NO_RELOAD=1 e2e_install_unit "$E2E_REPO/examples/tokio-server/tokio-server.service"
    E2E_NO_RELOAD=1 e2e_install_dropin $u matrix <"$E2E_DIR/units/matrix-tokio-server.service.conf"
    if ! e2e_systemd_at_least 253; then
        E2E_NO_RELOAD=1 e2e_install_dropin $u matrix-252 <"$E2E_DIR/units/matrix-tokio-server-252.conf"
    fi
    e2e_daemon_reload
    _m_keep $u
    e2e_start $u
    # READY=1 comes with STATUS=Accepting connections, the address in the next datagram.
    e2e_wait_for_property $u StatusText "Accepting connections on 127.0.0.1:$M_PORT" 10
}

case_m5_tokio_server_reload() {
    local u=tokio-server.service port pid line
    _m_tokio_server_start
    port=$M_PORT
    pid=$(e2e_show $u MainPID)
    _m_props $u Type,ActiveState,SubState,StatusText,MainPID,WatchdogUSec
    line=$(_m_tcp_line "$port")
    e2e_assert_eq "hello from e2e, config 1" "$line" "greeting on 127.0.0.1:$port"
    _m_say "127.0.0.1:$port says: $line"
    echo "hello from e2e, config 2" >"$E2E_SCRATCH/greeting"
    e2e_reload $u 20 || e2e_fail "systemctl reload failed or hung: $(e2e_show_line $u)"
    # (With ExecReload=kill -HUP the job may end before the service reloaded.)
    _m_expect_journal $u "$(e2e_notify_re "$pid" "RELOADING=1, MONOTONIC_USEC=[0-9]+")" 10 >/dev/null
    _m_wait_journal_count $u "$(e2e_notify_re "$pid" "READY=1, STATUS=Accepting connections")" 2
    e2e_wait_for_property $u SubState running 10
    e2e_assert_property $u ActiveState active
    e2e_assert_property $u MainPID "$pid"
    line=$(_m_tcp_line "$port")
    e2e_assert_eq "hello from e2e, config 2" "$line" "greeting after reload"
    _m_say "after systemctl reload, 127.0.0.1:$port says: $line"
    _m_expect_journal $u "$(e2e_notify_re "$pid" "RELOADING=1, MONOTONIC_USEC=[0-9]+")"
    _m_expect_journal $u "$(e2e_notify_re "$pid" "READY=1, STATUS=Accepting connections")"
    e2e_stop $u
    e2e_assert_property $u Result success
    e2e_assert_property $u ExecMainStatus 0
    _m_props $u ActiveState,Result,ExecMainStatus
    _m_expect_journal $u "$(e2e_notify_re "$pid" "STOPPING=1, STATUS=Draining connections")"
    _m_expect_journal $u "$(e2e_notify_re "$pid" "STATUS=Draining [0-9]+ open connections?")"
}

# ---------------------------------------------------------------- 6. EXTEND_TIMEOUT_USEC

case_m6_extend_timeout() {
    local u=matrix-extend.service usec n
    _m_bin fixture-async
    e2e_install_unit $u
    e2e_assert_property $u TimeoutStartUSec 2s
    e2e_start $u 30 || e2e_fail "start failed: $(e2e_show_line $u)"
    e2e_assert_property $u ActiveState active
    e2e_assert_property $u Result success
    e2e_assert_property $u NRestarts 0
    _m_props $u TimeoutStartUSec,ActiveState,SubState,StatusText,Result
    usec=$(_m_usec_between $u ExecMainStartTimestampMonotonic ActiveEnterTimestampMonotonic)
    ((usec >= 5000000)) || e2e_fail "active after $usec µs, before the 5 s init ended"
    _m_say "active $((usec / 1000)) ms after exec, with TimeoutStartSec=2"
    n=$(_m_journal_count $u "$(e2e_notify_re '[0-9]+' 'EXTEND_TIMEOUT_USEC=3000000')")
    ((n >= 4)) || e2e_fail "only $n EXTEND_TIMEOUT_USEC notifications"
    _m_jlines $u 'Got notification message'
    _m_no_journal $u 'timed out'
    e2e_stop $u
}

case_m6_timeout_control() {
    local u=matrix-timeout.service rc=0 usec
    _m_bin fixture-async
    e2e_install_unit $u
    e2e_start $u 30 || rc=$?
    [ "$rc" != 0 ] || e2e_fail "start succeeded without EXTEND_TIMEOUT_USEC"
    e2e_wait_for_property $u ActiveState failed 10
    e2e_assert_property $u Result timeout
    _m_props $u TimeoutStartUSec,ActiveState,SubState,Result
    usec=$(_m_usec_between $u ExecMainStartTimestampMonotonic InactiveEnterTimestampMonotonic)
    _m_say "failed $((usec / 1000)) ms after exec (TimeoutStartSec=2, then TimeoutStopSec=1)"
    _m_expect_journal $u 'start operation timed out. Terminating.'
    _m_expect_journal $u "Failed with result 'timeout'"
    _m_no_journal $u 'Got notification message .*READY=1'
}

# ---------------------------------------------------------------- 7. MAINPID and the fd store

case_m7_mainpid_handover() {
    local u=matrix-mainpid.service main exec comm
    _m_bin fixture-mainpid
    e2e_install_unit $u
    _m_keep $u
    e2e_start $u
    main=$(e2e_show $u MainPID)
    # The PID the manager forked for ExecStart= (ExecMainPID follows the new main PID).
    _m_journal_read $u
    # ("Forked PATH as N", from 257 on "… as N (via CLONE_INTO_CGROUP)")
    exec=$(sed -n 's/.*: Forked .*fixture-mainpid as \([0-9][0-9]*\)\( (.*)\)\{0,1\}$/\1/p' <<<"$_M_JOURNAL" | tail -n 1)
    [ -n "$exec" ] || e2e_fail "no 'Forked … as N' line for the fixture"
    [ "$main" != "$exec" ] || e2e_fail "MainPID is still the forked PID $exec"
    _m_jlines $u "Forked .* as $exec( \(.*\))?$"
    e2e_assert_property $u StatusText "main pid handed over from $exec to $main"
    e2e_assert_property $u ActiveState active
    comm=$(e2e_in cat "/proc/$main/comm")
    e2e_assert_eq sleep "$comm" "command of the new main PID $main"
    _m_expect_journal $u "$(e2e_notify_re "$exec" "READY=1, MAINPID=$main, STATUS=main pid handed over from $exec to $main")"
    _m_expect_journal $u "New main PID $main "
    # The fixture exits after the barrier; the unit stays up with the child.
    _m_expect_journal $u "Child $exec belongs to $u" 5
    e2e_in test ! -e "/proc/$exec" || e2e_fail "the fixture (PID $exec) is still running"
    _m_hold $u MainPID "$main" 1
    e2e_assert_property $u ActiveState active
    e2e_assert_property $u SubState running
    _m_say "the fixture (PID $exec) has exited; main process $main is '$comm':"
    _m_props $u ActiveState,SubState,MainPID,ExecMainPID,StatusText
    e2e_assert_property $u ExecMainPID "$main"
    e2e_stop $u
    e2e_assert_property $u Result success
    _m_props $u ActiveState,Result
    _m_jlines $u "process $main \(sleep\)"
    # An alien main PID ("not our child") is signalled without waiting for it; it is gone
    # right after.
    local deadline
    deadline=$(_e2e_deadline 5)
    while e2e_in test -e "/proc/$main"; do
        _e2e_before "$deadline" || e2e_fail "PID $main (sleep) still exists 5 s after the stop"
        _e2e_sleep 0.1
    done
    _m_say "PID $main (sleep) is gone after the stop"
}

# The two fds stored at the first start; returns "PORT CREATOR".
_m_fdstore_first() {
    local u=$1 status re='^fd store: state new: created by pid ([0-9]+), start 1; listener new: 127\.0\.0\.1:([0-9]+)$'
    status=$(e2e_show "$u" StatusText)
    [[ $status =~ $re ]] || e2e_fail "first start: StatusText '$status'"
    echo "${BASH_REMATCH[2]} ${BASH_REMATCH[1]}"
}

# Stored at the first start; back after `systemctl restart` (every version); gone after
# stop + start (the store is released when the unit stops with no restart pending).
case_m7_fdstore_restart() {
    local u=matrix-fdstore.service port creator pid1 pid2 first
    _m_bin fixture-fdstore
    e2e_install_unit $u
    _m_keep $u # (released at the stop by the manager's rule, not because it unloaded the unit)
    e2e_start $u
    pid1=$(e2e_show $u MainPID)
    first=$(_m_fdstore_first $u)
    read -r port creator <<<"$first"
    e2e_assert_eq "$pid1" "$creator" "creator of the state memfd"
    e2e_assert_property $u NFileDescriptorStore 2
    _m_props $u FileDescriptorStoreMax,NFileDescriptorStore,MainPID,StatusText
    _m_expect_journal $u "$(e2e_notify_re "$pid1" "FDSTORE=1, FDNAME=state")"
    _m_expect_journal $u 'Added fd [0-9]+ \(state\) to fd store'
    _m_expect_journal $u 'Added fd [0-9]+ \(listener\) to fd store'

    e2e_restart $u || e2e_fail "restart failed: $(e2e_show_line $u)"
    pid2=$(e2e_show $u MainPID)
    [ "$pid2" != "$pid1" ] || e2e_fail "same main PID after restart"
    e2e_assert_property $u StatusText "fd store: state from the store: created by pid $pid1, start 2; listener from the store: 127.0.0.1:$port"
    _m_say "after systemctl restart:"
    _m_props $u NFileDescriptorStore,MainPID,StatusText
    _m_expect_journal $u 'Passing 2 fds to service'

    e2e_stop $u
    _m_expect_journal $u 'Releasing all stored fds'
    e2e_start $u
    e2e_assert_property $u StatusText "~^fd store: state new: created by pid $(e2e_show $u MainPID), start 1; listener new: "
    _m_say "after systemctl stop + start (store released at the stop):"
    _m_props $u NFileDescriptorStore,MainPID,StatusText
    e2e_stop $u
}

# A crash with Restart=on-failure gives the stored fds back (every version).
case_m7_fdstore_crash_restart() {
    local u=matrix-fdstore-crash.service port creator pid1 pid2 first
    _m_bin fixture-fdstore
    e2e_install_unit $u
    e2e_start $u
    pid1=$(e2e_show $u MainPID)
    first=$(_m_fdstore_first $u)
    read -r port creator <<<"$first"
    _m_props $u MainPID,StatusText,NFileDescriptorStore
    e2e_wait_for_property $u NRestarts 1 10
    e2e_wait_for_property $u StatusText "fd store: state from the store: created by pid $pid1, start 2; listener from the store: 127.0.0.1:$port" 10
    e2e_wait_for_property $u ActiveState active 10
    pid2=$(e2e_show $u MainPID)
    [ "$pid2" != "$pid1" ] || e2e_fail "same main PID after the crash"
    _m_say "after the crash and the automatic restart:"
    _m_props $u ActiveState,SubState,NRestarts,MainPID,StatusText,NFileDescriptorStore
    _m_expect_journal $u "Main process exited, code=exited, status=3/NOTIMPLEMENTED"
    _m_expect_journal $u "Failed with result 'exit-code'"
    _m_expect_journal $u 'Scheduled restart job, restart counter is at 1'
    _m_expect_journal $u 'Passing 2 fds to service'
    e2e_stop $u
}

# systemd >= 254: FileDescriptorStorePreserve=yes keeps the store over stop + start.
case_m7_fdstore_preserve() {
    e2e_requires_version 254 "FileDescriptorStorePreserve="
    local u=matrix-fdstore.service port creator pid1 first
    _m_bin fixture-fdstore
    E2E_NO_RELOAD=1 e2e_install_unit $u
    e2e_install_dropin $u preserve <<<$'[Service]\nFileDescriptorStorePreserve=yes'
    # "yes": kept until the unit is unloaded; an unreferenced dead unit is unloaded at once.
    _m_keep $u
    e2e_start $u
    pid1=$(e2e_show $u MainPID)
    first=$(_m_fdstore_first $u)
    read -r port creator <<<"$first"
    e2e_stop $u
    e2e_assert_property $u NFileDescriptorStore 2
    e2e_assert_property $u SubState dead-resources-pinned
    _m_props $u FileDescriptorStorePreserve,ActiveState,SubState,NFileDescriptorStore
    e2e_start $u
    e2e_assert_property $u StatusText "fd store: state from the store: created by pid $pid1, start 2; listener from the store: 127.0.0.1:$port"
    _m_say "after systemctl stop + start with FileDescriptorStorePreserve=yes:"
    _m_props $u MainPID,StatusText
    _m_no_journal $u 'Releasing all stored fds'
    e2e_stop $u
}

# ---------------------------------------------------------------- 8. socket activation

# _m_socket_activated_install [SOCKET_DROPIN...]: examples/socket-activated with its own
# .socket and .service units, the matrix drop-ins (binary built here, a free port, exported
# as $M_PORT), plus the given drop-ins of tests/e2e/units/ on the .socket; the socket
# listening, the service not started.
_m_socket_activated_install() {
    local s=socket-activated.socket u=socket-activated.service d
    _m_example socket-activated
    M_PORT=$(_m_free_port)
    # shellcheck disable=SC2034  # (read by e2e_install_unit)
    local E2E_SUBST_PORT=$M_PORT
    E2E_NO_RELOAD=1 e2e_install_unit "$E2E_REPO/examples/socket-activated/$s"
    E2E_NO_RELOAD=1 e2e_install_unit "$E2E_REPO/examples/socket-activated/$u"
    E2E_NO_RELOAD=1 e2e_install_dropin $s matrix <"$E2E_DIR/units/matrix-socket-activated.socket.conf"
    E2E_NO_RELOAD=1 e2e_install_dropin $u matrix <"$E2E_DIR/units/matrix-socket-activated.service.conf"
    for d in "$@"; do # (named to sort after matrix.conf, which resets ListenStream=)
        E2E_NO_RELOAD=1 e2e_install_dropin $s "zz-${d%.conf}" <"$E2E_DIR/units/$d"
    done
    e2e_daemon_reload
    e2e_start $s
    e2e_assert_property $s ActiveState active
    e2e_assert_property $s SubState listening
    e2e_assert_property $u ActiveState inactive
    _m_props $s ActiveState,SubState,Listen,FileDescriptorName
}

# _m_socket_activated_serves NAME: a connection to the socket unit's port starts the service,
# which answers on the socket systemd passed it, named NAME (LISTEN_FDNAMES), and says so.
_m_socket_activated_serves() {
    local s=socket-activated.socket u=socket-activated.service name=$1 line pid
    e2e_assert_property $s Listen "127.0.0.1:$M_PORT (Stream)"
    line=$(_m_tcp_line "$M_PORT")
    [[ $line =~ ^hello\ 127\.0\.0\.1:[0-9]+\ from\ a\ socket-activated\ service$ ]] ||
        e2e_fail "reply on 127.0.0.1:$M_PORT: '$line'"
    _m_say "127.0.0.1:$M_PORT answered: $line"
    e2e_wait_for_property $u ActiveState active 10
    e2e_assert_property $u StatusText "Serving the activated socket"
    e2e_assert_property $s SubState running
    pid=$(e2e_show $u MainPID)
    _m_props $u ActiveState,SubState,StatusText,MainPID
    _m_props $s SubState
    _m_expect_journal $s 'Incoming traffic'
    _m_expect_journal $u 'Passing 1 fds to service'
    _m_expect_journal $u "$(e2e_notify_re "$pid" "READY=1, STATUS=Serving the activated socket")"
    _m_expect_journal $u "socket-activated: serving the socket systemd passed \(\`$name\`, 127\.0\.0\.1:$M_PORT\)$"
    _m_no_journal $u 'not socket-activated'
    e2e_in cat "/proc/$pid/environ" | tr '\0' '\n' | grep -E '^LISTEN_(FDS|FDNAMES)=' | sed 's/^/    environ of the service: /'
    e2e_in cat "/proc/$pid/environ" | tr '\0' '\n' | grep -qx "LISTEN_FDNAMES=$name" ||
        e2e_fail "the service's LISTEN_FDNAMES is not '$name'"
    e2e_stop $s
    e2e_stop $u
}

# The first connection starts the service, which answers on the socket systemd passed it
# (FileDescriptorName=http).
case_m8_socket_activated() {
    _m_socket_activated_install
    _m_socket_activated_serves http
}

# Issue 8, item 19: a .socket without FileDescriptorName= (systemd names the fd after the
# socket unit): the one passed socket is served whatever its name.
case_m8_socket_activated_unnamed() {
    _m_socket_activated_install matrix-socket-activated-unnamed.conf
    e2e_assert_property socket-activated.socket FileDescriptorName socket-activated.socket
    _m_socket_activated_serves socket-activated.socket
}

# Item 19: two unnamed sockets passed, none named http: the start fails and says why; no
# port of its own.
case_m8_socket_activated_ambiguous() {
    local u=socket-activated.service
    _m_socket_activated_install matrix-socket-activated-unnamed.conf matrix-socket-activated-second.conf
    _m_start_fails $u '^socket activation: 2 sockets passed \(socket-activated\.socket, socket-activated\.socket\), none named `http`'
    _m_expect_journal $u 'Passing 2 fds to service'
    _m_no_journal $u 'not socket-activated'
}

# Item 19: LISTEN_FDS set by a wrapper, no descriptor passed (listen_fds() refuses to claim
# fd 3): the start fails with listen_fds()'s error; no port of its own.
case_m8_socket_activated_nothing_passed() {
    local u=matrix-socket-activated-env.service
    # shellcheck disable=SC2034  # (read by e2e_install_unit)
    local E2E_SUBST_LISTEN_ENV='LISTEN_PID=$$$$ LISTEN_FDS=1'
    _m_example socket-activated
    e2e_install_unit $u
    _m_start_fails $u '^socket activation: LISTEN_FDS claims fd 3, but it was not passed to this process'
    _m_no_journal $u 'not socket-activated'
}

# Item 19: LISTEN_FDS set for another process (a wrapper that forked instead of exec'ing):
# nothing is ours, and that is an error, not a reason to bind a port of its own.
case_m8_socket_activated_other_pid() {
    local u=matrix-socket-activated-env.service
    # shellcheck disable=SC2034  # (read by e2e_install_unit)
    local E2E_SUBST_LISTEN_ENV='LISTEN_PID=1 LISTEN_FDS=1'
    _m_example socket-activated
    e2e_install_unit $u
    _m_start_fails $u '^socket activation: LISTEN_FDS is set, but no socket was passed to this process'
    _m_no_journal $u 'not socket-activated'
}

# ---------------------------------------------------------------- 9. STATUS injection

# User text with line breaks: the strict API refuses it, the sanitised form is one
# harmless STATUS. No READY or MAINPID is injected: still activating, same main PID.
case_m9_status_injection() {
    local u=matrix-inject.service pid usec shown='user said: x READY=1 MAINPID=1'
    _m_bin fixture-async
    e2e_install_unit $u
    _m_props $u Environment
    e2e_start_nb $u
    e2e_wait_for_property $u StatusText "$shown" 10
    e2e_assert_property $u ActiveState activating
    e2e_assert_property $u SubState start
    pid=$(e2e_show $u MainPID)
    [ "$pid" != 1 ] || e2e_fail "MainPID=1"
    e2e_assert_property $u ExecMainPID "$pid"
    _m_say "during init:"
    _m_props $u ActiveState,SubState,StatusText,MainPID,ExecMainPID
    _m_hold_since_exec $u ActiveState activating 1.5
    e2e_assert_property $u MainPID "$pid"
    _m_expect_journal $u "$(e2e_notify_re "$pid" "STATUS=$shown")"
    _m_expect_journal $u 'fixture: status refused: '
    e2e_wait_for_property $u ActiveState active 10
    e2e_assert_property $u MainPID "$pid"
    e2e_assert_property $u StatusText Running
    _m_say "after init:"
    _m_props $u ActiveState,SubState,StatusText,MainPID
    usec=$(_m_usec_between $u ExecMainStartTimestampMonotonic ActiveEnterTimestampMonotonic)
    ((usec >= 2000000)) || e2e_fail "active after $usec µs, before the 2 s init ended"
    _m_say "activating for $((usec / 1000)) ms: READY=1 came from the end of init, not from the user text"
    # The manager lists a datagram's assignments joined by ", " ("(K=V, K=V)" up to 254,
    # ": K=V, K=V" from 257): an injected one would be a whole item of that list; in the
    # status text they follow a space.
    [ "$(_m_journal_count $u "$(e2e_notify_re '[0-9]+' '(.*, )?READY=1(, .*)?')")" = 1 ] ||
        e2e_fail "READY=1 in more than one datagram"
    _m_no_journal $u "$(e2e_notify_re '[0-9]+' '(.*, )?MAINPID=[^,]*(, .*)?')"
    _m_no_journal $u 'New main PID'
    _m_jlines $u 'Got notification message'
    e2e_stop $u
}

# ---------------------------------------------------------------- 10. the other examples

# examples/sync-worker with its unit file (WatchdogSec=60, Restart=on-watchdog): a job
# dropped into the spool is processed and counted in STATUS; a clean stop.
case_m10_example_sync_worker() {
    local u=sync-worker.service pid
    _m_example sync-worker
    E2E_NO_RELOAD=1 e2e_install_unit "$E2E_REPO/examples/sync-worker/$u"
    e2e_install_dropin $u matrix <"$E2E_DIR/units/matrix-sync-worker.service.conf"
    _m_keep $u
    e2e_start $u
    e2e_assert_property $u StatusText Idle
    e2e_assert_property $u WatchdogUSec 1min
    pid=$(e2e_show $u MainPID)
    _m_props $u ActiveState,SubState,StatusText,WatchdogUSec
    printf 'work' >"$E2E_SCRATCH/spool/e2e.job.tmp"
    mv "$E2E_SCRATCH/spool/e2e.job.tmp" "$E2E_SCRATCH/spool/e2e.job"
    e2e_wait_for_property $u StatusText "jobs done: 1" 10
    _m_props $u StatusText
    _m_expect_journal $u "$(e2e_notify_re "$pid" "STATUS=Opening spool")"
    _m_expect_journal $u "$(e2e_notify_re "$pid" "READY=1, STATUS=Idle")"
    _m_expect_journal $u "$(e2e_notify_re "$pid" "STATUS=jobs done: 1")"
    _m_expect_journal $u "processed .*/spool/e2e.job \(4 bytes\)"
    e2e_stop $u
    e2e_assert_property $u Result success
    e2e_assert_property $u ExecMainStatus 0
    _m_props $u ActiveState,Result,ExecMainStatus
    _m_expect_journal $u "$(e2e_notify_re "$pid" "STOPPING=1, STATUS=Stopping")"
}

# examples/pollster-service with its unit file: another executor, the same life cycle.
case_m10_example_pollster() {
    local u=pollster-service.service pid
    _m_example pollster-service
    E2E_NO_RELOAD=1 e2e_install_unit "$E2E_REPO/examples/pollster-service/$u"
    e2e_install_dropin $u matrix <"$E2E_DIR/units/matrix-pollster-service.service.conf"
    _m_keep $u
    e2e_start $u
    e2e_assert_property $u ActiveState active
    e2e_assert_property $u StatusText "Waiting for work"
    pid=$(e2e_show $u MainPID)
    _m_props $u ActiveState,SubState,StatusText
    e2e_stop $u
    e2e_assert_property $u Result success
    e2e_assert_property $u ExecMainStatus 0
    _m_props $u ActiveState,Result,ExecMainStatus
    _m_expect_journal $u "$(e2e_notify_re "$pid" "READY=1, STATUS=Waiting for work")"
    _m_expect_journal $u "$(e2e_notify_re "$pid" "STOPPING=1, STATUS=Finishing")"
    _m_expect_journal $u "stop requested; cleaning up"
}

# ---------------------------------------------------------------- 11. protocol lines by version

# The lines whose support differs between releases (the feature × version table of
# tests/e2e/README.md), each sent by fixture-proto (typed NotifyState, Notifier) under
# units/matrix-proto.service; what the manager made of it, from `systemctl show` and the
# journal. Where a release lacks the feature, the case shows that the manager ignores the
# line (a property keeps its value) or the setting (its own warning).

# _m_proto_install PROTO [DROPIN_TEXT]: install matrix-proto.service as matrix-proto-PROTO.service
# (with the drop-in, if given), kept loaded; prints the unit name.
_m_proto_install() {
    local u=matrix-proto-$1.service
    # shellcheck disable=SC2034  # (read by e2e_install_unit)
    local E2E_SUBST_PROTO=$1
    _m_bin fixture-proto
    E2E_NO_RELOAD=1 e2e_install_unit matrix-proto.service "$u"
    if [ -n "${2:-}" ]; then
        E2E_NO_RELOAD=1 e2e_install_dropin "$u" matrix <<<"$2"
    fi
    e2e_daemon_reload
    _m_keep "$u"
}

# NOTIFYACCESS= (254+) changes the unit's NotifyAccess= at run time; 247 and 252 take the
# datagram and ignore the line: NotifyAccess stays "main".
case_m11_notify_access() {
    local u=matrix-proto-notify-access.service pid
    _m_proto_install notify-access
    e2e_start $u
    pid=$(e2e_show $u MainPID)
    _m_expect_journal $u "$(e2e_notify_re "$pid" "READY=1, NOTIFYACCESS=all")"
    if e2e_systemd_at_least 254; then
        e2e_assert_property $u NotifyAccess all
    else
        e2e_assert_property $u NotifyAccess main
        _m_say "systemd $E2E_SYSTEMD_VERSION ignores NOTIFYACCESS= (NotifyAccess= stays main)"
    fi
    _m_props $u NotifyAccess
    e2e_stop $u
}

# MAINPIDFD=1 with a pidfd (257+): the pidfd's process (a `sleep` the fixture spawned) is
# the new main process; 247-254 ignore the line (and close the fd): MainPID stays the
# fixture's.
case_m11_mainpidfd() {
    local u=matrix-proto-mainpidfd.service pid child
    _m_proto_install mainpidfd
    e2e_start $u
    _m_expect_journal $u 'fixture-proto: barrier passed'
    child=$(sed -n 's/.*fixture-proto: child sleep is pid \([0-9][0-9]*\)$/\1/p' <<<"$_M_JOURNAL" | tail -n 1)
    pid=$(sed -n 's/.*: Forked .*fixture-proto as \([0-9][0-9]*\)\( (.*)\)\{0,1\}$/\1/p' <<<"$_M_JOURNAL" | tail -n 1)
    [ -n "$child" ] && [ -n "$pid" ] || e2e_fail "no child or fixture PID in the journal"
    _m_expect_journal $u "$(e2e_notify_re "$pid" "READY=1, MAINPIDFD=1")"
    if e2e_systemd_at_least 257; then
        e2e_assert_property $u MainPID "$child"
        _m_expect_journal $u "New main PID $child belongs to service"
    else
        e2e_assert_property $u MainPID "$pid"
        _m_no_journal $u "New main PID"
        _m_say "systemd $E2E_SYSTEMD_VERSION ignores MAINPIDFD=1: MainPID stays the fixture ($pid), not the child ($child)"
    fi
    _m_props $u MainPID,ExecMainPID
    e2e_stop $u
}

# EXIT_STATUS= is informational on every release: the manager logs the datagram, the unit's
# result is the process's own exit (0 here, after EXIT_STATUS=7).
case_m11_exit_status() {
    local u=matrix-proto-exit-status.service
    _m_proto_install exit-status
    e2e_start $u
    e2e_wait_for_property $u ActiveState inactive 10
    _m_expect_journal $u "$(e2e_notify_re '[0-9]+' "STOPPING=1, EXIT_STATUS=7")"
    _m_expect_journal $u 'Main process exited, code=exited, status=0/SUCCESS'
    e2e_assert_property $u Result success
    e2e_assert_property $u ExecMainStatus 0
    _m_props $u Result,ExecMainCode,ExecMainStatus
}

# STATUS= and ERRNO= on every release (StatusText, StatusErrno); BUSERROR= and
# VARLINKERROR= as StatusBusError/StatusVarlinkError from 257 (earlier managers have no
# such property; the line is in the logged datagram).
case_m11_status_errors() {
    local u=matrix-proto-errors.service pid
    _m_proto_install errors
    e2e_start $u
    pid=$(e2e_show $u MainPID)
    _m_expect_journal $u "$(e2e_notify_re "$pid" "READY=1, STATUS=degraded, ERRNO=5, BUSERROR=org\.freedesktop\.DBus\.Error\.TimedOut, VARLINKERROR=io\.systemd\.Example\.Failed")"
    e2e_assert_property $u StatusText degraded
    e2e_assert_property $u StatusErrno 5
    if e2e_systemd_at_least 257; then
        e2e_assert_property $u StatusBusError org.freedesktop.DBus.Error.TimedOut
        e2e_assert_property $u StatusVarlinkError io.systemd.Example.Failed
        _m_props $u StatusText,StatusErrno,StatusBusError,StatusVarlinkError
    else
        [ -z "$(e2e_systemctl show -p StatusBusError,StatusVarlinkError $u)" ] ||
            e2e_fail "systemd $E2E_SYSTEMD_VERSION has StatusBusError/StatusVarlinkError"
        _m_props $u StatusText,StatusErrno
        _m_say "systemd $E2E_SYSTEMD_VERSION has no StatusBusError/StatusVarlinkError property"
    fi
    e2e_stop $u
}

# FDSTOREREMOVE=1 + FDNAME= (every release): of two stored fds the named one is closed.
case_m11_fdstore_remove() {
    local u=matrix-proto-fdstore-remove.service pid
    _m_proto_install fdstore-remove
    e2e_start $u
    pid=$(e2e_show $u MainPID)
    e2e_assert_property $u NFileDescriptorStore 2
    touch "$E2E_SCRATCH/gate"
    e2e_wait_for_property $u StatusText "removed a" 10
    e2e_assert_property $u NFileDescriptorStore 1
    _m_props $u NFileDescriptorStore,StatusText
    _m_expect_journal $u "$(e2e_notify_re "$pid" "FDSTOREREMOVE=1, FDNAME=a")"
    _m_expect_journal $u 'Got explicit request to remove fd [0-9]+ \(a\), closing\.'
    e2e_stop $u
}

# FDPOLL=0 (every release): the write ends of two stored pipes are closed; the manager drops
# the polled one on its hang-up and keeps the one stored with FDPOLL=0.
case_m11_fdpoll() {
    local u=matrix-proto-fdpoll.service pid
    _m_proto_install fdpoll
    e2e_start $u
    pid=$(e2e_show $u MainPID)
    _m_expect_journal $u "$(e2e_notify_re "$pid" "FDSTORE=1, FDNAME=unpolled, FDPOLL=0")"
    _m_expect_journal $u 'Received EPOLLHUP on stored fd [0-9]+ \(polled\), closing\.'
    e2e_assert_property $u NFileDescriptorStore 1
    _m_no_journal $u '\(unpolled\), closing'
    _m_props $u NFileDescriptorStore
    e2e_stop $u
}

# WATCHDOG_USEC= (every release) replaces WatchdogSec=1: WatchdogUSec=30s, and the service,
# which never pings, is not killed.
case_m11_watchdog_usec() {
    local u=matrix-proto-watchdog-usec.service pid
    _m_proto_install watchdog-usec $'[Service]\nWatchdogSec=1'
    e2e_start $u
    pid=$(e2e_show $u MainPID)
    _m_expect_journal $u "$(e2e_notify_re "$pid" "READY=1, WATCHDOG_USEC=30000000")"
    e2e_assert_property $u WatchdogUSec 30s
    _m_hold $u MainPID "$pid" 1.5
    e2e_assert_property $u ActiveState active
    _m_no_journal $u 'Watchdog timeout'
    _m_props $u WatchdogUSec,ActiveState,MainPID
    e2e_stop $u
}

# RESTART_RESET=1 (262; 258-261 not run): the restart counter goes back to 0; 247-257 ignore
# the line (NRestarts stays 1).
case_m11_restart_reset() {
    local u=matrix-proto-restart-reset.service pid
    _m_proto_install restart-reset $'[Service]\nRestart=on-failure\nRestartSec=100ms'
    e2e_start $u || true # the first run exits 1 (Restart=on-failure)
    _m_expect_journal $u 'restart counter is at 1' 10
    _m_expect_journal $u "$(e2e_notify_re '[0-9]+' "READY=1, RESTART_RESET=1")" 10
    e2e_wait_for_property $u ActiveState active 10
    if e2e_systemd_at_least 262; then
        e2e_assert_property $u NRestarts 0
        _m_expect_journal $u 'Got RESTART_RESET=1, resetting restart counter from 1\.'
    elif e2e_systemd_at_least 258; then
        e2e_skip "not known which of 258-261 has RESTART_RESET=1 (only 257 and 262 are run)"
    else
        e2e_assert_property $u NRestarts 1
        _m_say "systemd $E2E_SYSTEMD_VERSION ignores RESTART_RESET=1 (NRestarts stays 1)"
    fi
    _m_props $u NRestarts,ActiveState
    e2e_stop $u
}

# Before 253 there is no Type=notify-reload: the manager says it cannot parse the type and
# runs the unit as Type=simple (why the notify-reload cases skip there).
case_m11_notify_reload_absent() {
    e2e_systemd_at_least 253 && e2e_skip "systemd $E2E_SYSTEMD_VERSION has Type=notify-reload (m5_notify_reload)"
    local u=matrix-reload-absent.service
    e2e_install_unit_text $u <<'EOT'
[Service]
Type=notify-reload
ExecStart=@PYTHON@ @HELPERS@/sdnotify-helper.py sleep 30
EOT
    e2e_assert_property $u Type simple
    _m_props $u Type
    _m_journal_all "$u:[0-9]+: Failed to parse service type, ignoring: notify-reload$" | sed 's/^/    | /' | grep . ||
        e2e_fail "no 'Failed to parse service type' line"
}

# Before 254 there is no FileDescriptorStorePreserve=: the manager warns about an unknown
# key (247 and 252 word it differently).
case_m11_fdstore_preserve_absent() {
    e2e_systemd_at_least 254 && e2e_skip "systemd $E2E_SYSTEMD_VERSION has FileDescriptorStorePreserve= (m7_fdstore_preserve)"
    local u=matrix-preserve-absent.service re
    e2e_install_unit_text $u <<'EOT'
[Service]
FileDescriptorStorePreserve=yes
ExecStart=@PYTHON@ @HELPERS@/sdnotify-helper.py sleep 30
EOT
    [ -z "$(e2e_systemctl show -p FileDescriptorStorePreserve $u)" ] || e2e_fail "the property exists" # (loads the unit)
    if e2e_systemd_at_least 252; then
        re="Unknown key 'FileDescriptorStorePreserve' in section \[Service\], ignoring\.$"
    else
        re="Unknown key name 'FileDescriptorStorePreserve' in section 'Service', ignoring\.$"
    fi
    _m_journal_all "$u:[0-9]+: $re" | sed 's/^/    | /' | grep . || e2e_fail "no unknown-key warning /$re/"
}

# 262 checks, when READY=1 of a Type=notify-reload service arrives, that the main process
# has a handler for the reload signal, and refuses the start otherwise (253-257 do not
# check). The self-test helper without its handlers; our fixtures pass (m5_notify_reload).
case_m11_reload_handler_required() {
    e2e_requires_version 253 "Type=notify-reload"
    local u=matrix-reload-no-handler.service rc=0
    e2e_install_unit_text $u <<'EOT'
[Service]
Type=notify-reload
ExecStart=@PYTHON@ @HELPERS@/sdnotify-helper.py send READY=1 sleep 30
TimeoutStartSec=10
EOT
    _m_keep $u
    e2e_start $u || rc=$?
    if e2e_systemd_at_least 262; then
        [ "$rc" != 0 ] || e2e_fail "the start without a SIGHUP handler succeeded"
        e2e_wait_for_property $u ActiveState failed 10
        e2e_assert_property $u Result protocol
        _m_expect_journal $u 'Main process [0-9]+ lacks handler for reload signal HUP, refusing service startup\.'
    elif e2e_systemd_at_least 258; then
        e2e_skip "not known which of 258-261 added the check (only 257 and 262 are run)"
    else
        [ "$rc" = 0 ] || e2e_fail "start failed: $(e2e_show_line $u)"
        e2e_assert_property $u ActiveState active
        _m_no_journal $u 'lacks handler'
        _m_say "systemd $E2E_SYSTEMD_VERSION does not check for a reload-signal handler"
    fi
    _m_props $u ActiveState,Result
}
