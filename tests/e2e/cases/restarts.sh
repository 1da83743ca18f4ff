# shellcheck shell=bash
# Restarts without downtime (issue 12): examples/zero-downtime under the real manager, its
# listener from `service.listener("http", …)`, kept in the fd store (or by a .socket unit)
# while no process runs. A client connects to it in a tight loop (loopback, bounded in
# count and time: helpers/restart-client.py) while the service is restarted with
# `systemctl restart`, then killed with SIGKILL under Restart=on-failure; it counts refused,
# reset and unanswered connections, and the listening socket must stay the same (its inode,
# from /proc/net/tcp and /proc/<MainPID>/fd) throughout. The same run with the listener
# bound the ordinary way shows what the store avoids. The fd store exists on every version
# the harness runs (247 ...): nothing here depends on the version.
#
# E2E_RESTARTS (100) and E2E_RESTART_KILLS (20) change the counts.

R_RESTARTS=${E2E_RESTARTS:-100}
R_KILLS=${E2E_RESTART_KILLS:-20}
R_UNIT=zero-downtime.service

_r_say() { echo "  > $*"; }

# _r_now_ms: a monotonic-enough clock in milliseconds (for the timings printed).
_r_now_ms() { echo $((${EPOCHREALTIME/[.,]/} / 1000)); }

# _r_free_port: a TCP port on 127.0.0.1 free a moment ago.
_r_free_port() {
    "$E2E_PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# _r_listen_inode PORT: the inode of the socket listening on 127.0.0.1:PORT (the manager
# shares our network namespace), empty when none listens.
_r_listen_inode() {
    local hex
    hex=$(printf '%04X' "$1")
    awk -v a="0100007F:$hex" '$2 == a && $4 == "0A" { print $10; exit }' /proc/net/tcp
}

# _r_holds PID INODE: the process PID (of the manager's PID namespace) has socket INODE open.
_r_holds() {
    local fds
    fds=$(e2e_in sh -c "ls -l /proc/$1/fd/ 2>/dev/null") || true
    [[ $fds == *"socket:[$2]"* ]]
}

# _r_install [DROPIN...]: the example's own unit, the drop-in that runs the binary built
# here on a free port ($R_PORT), and the given drop-ins of units/.
_r_install() {
    local d
    [ -x "${E2E_EXAMPLES_DIR:-$E2E_BIN_DIR}/zero-downtime" ] ||
        e2e_fail "no example zero-downtime: build it with 'cargo build -p sd-notify-examples --bins'"
    R_PORT=$(_r_free_port)
    # shellcheck disable=SC2034  # (read by e2e_install_unit)
    local E2E_SUBST_PORT=$R_PORT
    E2E_NO_RELOAD=1 e2e_install_unit "$E2E_REPO/examples/zero-downtime/$R_UNIT"
    E2E_NO_RELOAD=1 e2e_install_dropin $R_UNIT e2e <"$E2E_DIR/units/restart-zero-downtime.conf"
    for d in "$@"; do
        E2E_NO_RELOAD=1 e2e_install_dropin $R_UNIT "zz-${d%.conf}" <"$E2E_DIR/units/$d"
    done
    e2e_daemon_reload
    _r_clean_store
}

# _r_clean_store: empty the unit's fd store (inactive unit). FileDescriptorStorePreserve=yes
# (the example's unit, systemd >= 254) keeps it over a stop, and the unit may stay loaded
# from one case to the next (seen on 262): each case starts and ends with an empty store.
_r_clean_store() {
    if e2e_systemd_at_least 254; then
        e2e_systemctl clean --what=fdstore $R_UNIT >/dev/null 2>&1 || true
    fi
}

# _r_client_start NAME: the client in the background; _r_client_stop stops it and puts its
# counts in R_LINE (not in a subshell: `wait` needs the client to be our child).
_r_client_start() {
    R_CLIENT_OUT=$E2E_TMP/restart-client-$1.out
    R_CLIENT_STOP=$E2E_TMP/restart-client-$1.stop
    rm -f "$R_CLIENT_STOP"
    "$E2E_PYTHON" "$E2E_DIR/helpers/restart-client.py" "$R_PORT" "$R_CLIENT_STOP" 120 1000000 2 \
        >"$R_CLIENT_OUT" 2>&1 &
    R_CLIENT_PID=$!
    sleep 0.2 # some connections before the first restart
}
_r_client_stop() {
    touch "$R_CLIENT_STOP"
    wait "$R_CLIENT_PID" || e2e_fail "client failed: $(cat "$R_CLIENT_OUT")"
    R_LINE=$(tail -n 1 "$R_CLIENT_OUT")
}

# _r_count LINE KEY: the number after KEY= in the client's LINE.
_r_count() { sed -n "s/.*\\b$2=\\([0-9.]*\\).*/\\1/p" <<<"$1"; }

# _r_wait_replaced OLD_PID: after a kill, until a new main process is up and ready.
_r_wait_replaced() {
    local deadline pid state
    deadline=$(_e2e_deadline 20)
    while _e2e_before "$deadline"; do
        pid=$(e2e_show $R_UNIT MainPID)
        state=$(e2e_show $R_UNIT ActiveState)
        if [ "$pid" != 0 ] && [ "$pid" != "$1" ] && [ "$state" = active ]; then
            return 0
        fi
        _e2e_sleep 0.02
    done
    e2e_fail "no new main process after killing $1: $(e2e_show_line $R_UNIT)"
}

# _r_cycles restart|kill N INODE: N restarts (or SIGKILLs and automatic restarts); with
# INODE, the listening socket must be that one after each, held by the new main process;
# without, R_SOCKETS says how many different listening sockets there were.
_r_cycles() {
    local how=$1 n=$2 inode=${3:-} i pid cur seen=""
    R_SOCKETS="one listening socket throughout"
    for ((i = 1; i <= n; i++)); do
        pid=$(e2e_show $R_UNIT MainPID)
        if [ "$how" = restart ]; then
            e2e_restart $R_UNIT || e2e_fail "restart $i failed: $(e2e_show_line $R_UNIT)"
        else
            e2e_kill $R_UNIT SIGKILL
            _r_wait_replaced "$pid"
        fi
        cur=$(_r_listen_inode "$R_PORT")
        if [ -n "$inode" ]; then
            [ "$cur" = "$inode" ] || e2e_fail "$how $i: the socket listening on $R_PORT is '$cur', not $inode"
            pid=$(e2e_show $R_UNIT MainPID)
            _r_holds "$pid" "$inode" || e2e_fail "$how $i: main process $pid does not hold socket $inode"
        else
            seen+=" $cur"
        fi
    done
    if [ -z "$inode" ]; then
        R_SOCKETS="$(tr ' ' '\n' <<<"$seen" | sort -u | grep -c .) different listening sockets"
    fi
}

# _r_phase NAME how N [INODE]: a client runs through N cycles; its counts in R_LINE.
_r_phase() {
    local name=$1 how=$2 n=$3 inode=${4:-} t0
    t0=$(_r_now_ms)
    _r_client_start "$name"
    # (A failure stops the client too: the case's subshell ends, and the client with its
    # 120 s bound at the latest; the stop file ends it at once.)
    trap 'touch "$R_CLIENT_STOP"' EXIT
    _r_cycles "$how" "$n" "$inode"
    _r_client_stop
    trap - EXIT
    _r_say "$name: $n × $how in $(($(_r_now_ms) - t0)) ms: $R_LINE; $R_SOCKETS"
}

# _r_expect_clean LINE WHAT [kill]: no refused, reset, unanswered or timed-out connection,
# and some answered. With `kill`, unanswered ones are counted, not refused: a SIGKILL that
# lands between the accept and the answer loses what that process accepted (at most one
# per client thread and kill: the client has 2), which no listener can keep.
_r_expect_clean() {
    local k v keys="refused reset unanswered timeout other"
    if [ "${3:-}" = kill ]; then
        keys="refused reset timeout other"
        v=$(_r_count "$1" unanswered)
        _r_say "$2: $v connection(s) accepted by a process that the SIGKILL took before it answered"
        [ "$v" -le $((2 * R_KILLS)) ] || e2e_fail "$2: more unanswered connections than kills × client threads ($1)"
    fi
    for k in $keys; do
        v=$(_r_count "$1" $k)
        [ "$v" = 0 ] || e2e_fail "$2: $k=$v ($1)"
    done
    v=$(_r_count "$1" ok)
    [ "$v" -gt 0 ] || e2e_fail "$2: no connection answered ($1)"
}

# The fd store: 100 × systemctl restart, then 20 × SIGKILL with Restart=on-failure; one
# socket throughout, no connection refused, reset or left unanswered.
case_restarts_fd_store() {
    local inode pid line stored warned
    _r_install
    e2e_start $R_UNIT
    pid=$(e2e_show $R_UNIT MainPID)
    inode=$(_r_listen_inode "$R_PORT")
    [ -n "$inode" ] || e2e_fail "nothing listens on 127.0.0.1:$R_PORT"
    _r_holds "$pid" "$inode" || e2e_fail "main process $pid does not hold socket $inode"
    e2e_assert_property $R_UNIT NFileDescriptorStore 1
    _r_say "listening socket $inode on 127.0.0.1:$R_PORT, stored (NFileDescriptorStore=1)"
    # systemd >= 254 sets $FDSTORE (FileDescriptorStoreMax=): no warning. Older managers do
    # not, so the first run (nothing passed yet) warns once that it cannot tell.
    warned=$(e2e_journal_count "$R_UNIT" 'FDSTORE is not set')
    if e2e_systemd_at_least 254; then
        [ "$warned" = 0 ] || e2e_fail "warned about \$FDSTORE under systemd $E2E_SYSTEMD_VERSION"
    else
        [ "$warned" = 1 ] || e2e_fail "expected one warning about \$FDSTORE, got $warned"
    fi
    _r_say "warnings about \$FDSTORE: $warned"

    _r_phase store-restart restart "$R_RESTARTS" "$inode"
    _r_expect_clean "$R_LINE" "fd store, systemctl restart"
    line=$R_LINE
    _r_phase store-kill kill "$R_KILLS" "$inode"
    R_STORE_KILL_LINE=$R_LINE
    _r_expect_clean "$R_LINE" "fd store, SIGKILL + Restart=on-failure" kill

    e2e_assert_property $R_UNIT NRestarts "$R_KILLS"
    e2e_assert_property $R_UNIT NFileDescriptorStore 1
    # Stored once, by the first run: the later ones reuse it and store nothing.
    stored=$(e2e_journal_count "$R_UNIT" 'Added fd [0-9]+ \(http\) to fd store')
    _r_say "'Added fd (http) to fd store' in the journal: $stored time(s)"
    [ "$stored" -le 1 ] || e2e_fail "the socket was stored $stored times"
    _r_say "RESULT fd store: restart: $line | kill: $R_STORE_KILL_LINE"
    e2e_stop $R_UNIT
    _r_clean_store
}

# The comparison: the same runs with the listener bound the ordinary way. Nothing is
# asserted but that it runs: the counts printed are what the store avoids.
case_restarts_plain_bind() {
    local restart_line
    _r_install restart-plain-bind.conf
    e2e_start $R_UNIT
    e2e_assert_property $R_UNIT NFileDescriptorStore 0
    _r_phase plain-restart restart "$R_RESTARTS"
    restart_line=$R_LINE
    _r_phase plain-kill kill "$R_KILLS"
    _r_say "RESULT plain bind: restart: $restart_line | kill: $R_LINE"
    e2e_stop $R_UNIT
    _r_clean_store
}

# Socket activation first: the .socket unit's socket, named "http", is what the service
# asks for; restarts and kills behave as with the store (nothing is stored: the socket
# unit keeps it).
case_restarts_socket_activation() {
    local s=zero-downtime.socket inode line pid
    _r_install
    # shellcheck disable=SC2034  # (read by e2e_install_unit)
    local E2E_SUBST_PORT=$R_PORT
    e2e_install_unit restart-zero-downtime.socket $s
    e2e_start $s
    inode=$(_r_listen_inode "$R_PORT")
    [ -n "$inode" ] || e2e_fail "the socket unit does not listen on 127.0.0.1:$R_PORT"
    e2e_assert_property $R_UNIT ActiveState inactive
    # The first connection starts the service.
    line=$("$E2E_PYTHON" -c "import socket; s = socket.create_connection(('127.0.0.1', $R_PORT), 10); s.settimeout(10); print(s.recv(100).decode().strip())")
    [[ $line == "hello from "* ]] || e2e_fail "first connection: '$line'"
    e2e_wait_for_property $R_UNIT ActiveState active 10
    pid=$(e2e_show $R_UNIT MainPID)
    _r_holds "$pid" "$inode" || e2e_fail "main process $pid does not hold the socket unit's socket $inode"
    _r_say "socket unit's socket $inode answered: $line"
    _r_phase socket-restart restart $((R_RESTARTS / 4)) "$inode"
    _r_expect_clean "$R_LINE" "socket activation, systemctl restart"
    line=$R_LINE
    _r_phase socket-kill kill $((R_KILLS / 4)) "$inode"
    _r_expect_clean "$R_LINE" "socket activation, SIGKILL + Restart=on-failure" kill
    e2e_assert_property $R_UNIT NFileDescriptorStore 0
    _r_say "RESULT socket activation: restart: $line | kill: $R_LINE"
    e2e_stop $R_UNIT
    _r_clean_store
    e2e_stop $s
}
