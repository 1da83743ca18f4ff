# shellcheck shell=bash
# Self-tests of the harness: only Python/systemd-notify clients, no project code.

case_selftest_notify_ready() {
    e2e_install_unit selftest-notify.service
    e2e_start_nb selftest-notify.service
    # Held in start-up until the gate file exists.
    e2e_wait_for_property selftest-notify.service ActiveState activating 10
    e2e_wait_for_property selftest-notify.service StatusText starting 10
    e2e_assert_property selftest-notify.service SubState start
    # The service's own output is in its journal too (see e2e_journal).
    e2e_assert_journal selftest-notify.service "sdnotify-helper\[[0-9]+\]: sent 'STATUS=starting'"
    touch "$E2E_SCRATCH/selftest-notify.go"
    e2e_wait_for_property selftest-notify.service ActiveState active 10
    e2e_assert_property selftest-notify.service SubState running
    e2e_assert_property selftest-notify.service StatusText ready
    e2e_assert_property selftest-notify.service MainPID '~^[1-9][0-9]*$'
    e2e_assert_journal selftest-notify.service "$(e2e_notify_re '[0-9]+' 'READY=1, STATUS=ready')"
    e2e_assert_journal selftest-notify.service "$(e2e_notify_re '[0-9]+' 'STATUS=starting')"
    e2e_stop selftest-notify.service
    e2e_assert_property selftest-notify.service ActiveState inactive
    e2e_assert_property selftest-notify.service Result success
    e2e_assert_journal selftest-notify.service 'Got notification message .*STOPPING=1'
}

case_selftest_systemd_notify() {
    e2e_install_unit selftest-systemd-notify.service
    e2e_start selftest-systemd-notify.service
    e2e_assert_property selftest-systemd-notify.service ActiveState active
    e2e_assert_property selftest-systemd-notify.service StatusText "ready via systemd-notify"
    e2e_assert_journal selftest-systemd-notify.service "$(e2e_notify_re '[0-9]+' 'READY=1, STATUS=ready via systemd-notify')"
    e2e_stop selftest-systemd-notify.service
    e2e_assert_property selftest-systemd-notify.service ActiveState inactive
    e2e_assert_property selftest-systemd-notify.service Result success
}

case_selftest_start_failure() {
    local rc=0
    e2e_install_unit selftest-fail.service
    e2e_start selftest-fail.service || rc=$?
    [ "$rc" != 0 ] || e2e_fail "systemctl start of a service exiting 3 succeeded"
    e2e_assert_property selftest-fail.service ActiveState failed
    e2e_assert_property selftest-fail.service Result exit-code
    e2e_assert_property selftest-fail.service ExecMainStatus 3
    e2e_assert_journal selftest-fail.service "$(e2e_notify_re '[0-9]+' 'STATUS=about-to-fail')"
}

case_selftest_restart_counter() {
    e2e_install_unit selftest-restart.service
    e2e_start_nb selftest-restart.service
    # 3 starts allowed by the start limit; the 4th (counted: NRestarts=3) is
    # refused, the unit ends failed: with the last run's result up to 257
    # (247, 252, 254, 257), with the refusal's own result on 262 (258-261 not run).
    e2e_wait_for_property selftest-restart.service ActiveState failed 20
    e2e_assert_property selftest-restart.service NRestarts 3
    if e2e_systemd_at_least 258; then
        e2e_assert_property selftest-restart.service Result start-limit-hit
        e2e_assert_journal selftest-restart.service "Failed with result 'start-limit-hit'"
    else
        e2e_assert_property selftest-restart.service Result exit-code
    fi
    e2e_assert_property selftest-restart.service ExecMainStatus 1
    e2e_assert_journal selftest-restart.service 'Start request repeated too quickly'
    [ "$(e2e_journal_count selftest-restart.service 'Got notification message .*READY=1')" = 3 ] ||
        e2e_fail "expected 3 READY=1 notifications, journal has $(e2e_journal_count selftest-restart.service 'Got notification message .*READY=1')"
}

case_selftest_notify_reload() {
    e2e_requires_version 253 "Type=notify-reload"
    local unit=selftest-reload.service n
    e2e_install_unit $unit
    e2e_start $unit
    e2e_assert_property $unit ActiveState active
    e2e_assert_property $unit StatusText ready
    for n in 1 2; do
        e2e_reload $unit 20 || e2e_fail "systemctl reload #$n failed or hung: $(e2e_show_line $unit)"
        e2e_assert_property $unit ActiveState active
        e2e_assert_property $unit SubState running
        e2e_assert_property $unit StatusText "reloaded $n"
    done
    # RELOADING=1 and MONOTONIC_USEC= arrived together, in one datagram.
    [ "$(e2e_journal_count $unit "$(e2e_notify_re '[0-9]+' 'RELOADING=1, MONOTONIC_USEC=[0-9]+')")" = 2 ] ||
        e2e_fail "expected 2 'RELOADING=1, MONOTONIC_USEC=' notifications"
    e2e_stop $unit
    e2e_assert_property $unit Result success
}

case_selftest_systemd_run() {
    local unit=selftest-run.service
    e2e_systemd_run --unit=$unit -p Type=notify -p TimeoutStartSec=30 \
        "$E2E_PYTHON" "$E2E_DIR/helpers/sdnotify-helper.py" send 'READY=1\nSTATUS=transient' serve
    e2e_assert_property $unit ActiveState active
    e2e_assert_property $unit StatusText transient
    e2e_assert_journal $unit "$(e2e_notify_re '[0-9]+' 'READY=1, STATUS=transient')"
    # left running on purpose: the runner stops leftovers after each case
}

case_selftest_systemd_run_wait() {
    e2e_have_session_bus || e2e_skip "no D-Bus session bus (dbus-daemon missing or E2E_SESSION_BUS=0)"
    local rc=0
    # --wait needs the session bus; the exit status of the service comes back.
    e2e_systemd_run --wait --pipe --quiet -p Type=notify \
        "$E2E_PYTHON" "$E2E_DIR/helpers/sdnotify-helper.py" send READY=1 exit 4 || rc=$?
    e2e_assert_eq 4 "$rc" "systemd-run --wait exit status"
}
