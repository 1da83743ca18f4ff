# shellcheck shell=bash
# Self-tests of the harness: only Python/systemd-notify clients, no project code.

case_selftest_notify_ready() {
    e2e_install_unit selftest-notify.service
    e2e_start_nb selftest-notify.service
    # Held in start-up until the gate file exists.
    e2e_wait_for_property selftest-notify.service ActiveState activating 10
    e2e_wait_for_property selftest-notify.service StatusText starting 10
    e2e_assert_property selftest-notify.service SubState start
    touch "$E2E_SCRATCH/selftest-notify.go"
    e2e_wait_for_property selftest-notify.service ActiveState active 10
    e2e_assert_property selftest-notify.service SubState running
    e2e_assert_property selftest-notify.service StatusText ready
    e2e_assert_property selftest-notify.service MainPID '~^[1-9][0-9]*$'
    e2e_assert_journal selftest-notify.service 'Got notification message from PID [0-9]+ \(READY=1, STATUS=ready\)'
    e2e_assert_journal selftest-notify.service 'Got notification message from PID [0-9]+ \(STATUS=starting\)'
    e2e_stop selftest-notify.service
    e2e_assert_property selftest-notify.service ActiveState inactive
    e2e_assert_property selftest-notify.service Result success
    e2e_assert_journal selftest-notify.service 'Got notification message .*STOPPING=1'
}
