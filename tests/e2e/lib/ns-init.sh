#!/bin/bash
# PID 1 of the e2e namespaces (new mount, PID and cgroup namespaces, made by
# harness.sh). Everything mounted here lives in the private mount namespace
# and vanishes with it; nothing here writes to the host's /run, journal,
# console or PID 1.
#
# Input (environment): E2E_TMP, E2E_UNIT_DIR, E2E_HOME, E2E_SYSTEMD_ROOT
# (empty: use the host's systemd; else an unpacked systemd package whose
# binaries and libraries are overlaid on the host's, in this namespace only),
# E2E_SYSTEMD_MODE (overlay, or usr: E2E_SYSTEMD_ROOT is a whole Debian root
# whose /usr is bound over /usr, in this namespace only).
# stdin: the "lifeline" pipe; the harness holds its write end. EOF on it
# (the harness is gone, even by SIGKILL) makes this script exit, and the
# kernel then kills every process of the PID namespace.
set -u
LOGS=$E2E_TMP/logs
STATUS=$E2E_TMP/ns-init.status
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH

log() { echo "ns-init: $*" >&2; }
die() { log "FATAL: $*"; echo "failed: $*" >"$STATUS"; exit 1; }

[ "$$" = 1 ] || die "must run as PID 1 of a new PID namespace (pid=$$)"

# Nothing of the harness's open files leaks into journald, the manager or
# the services (fd 255: bash's own script fd).
for fd in /proc/self/fd/*; do
    fd=${fd##*/}
    case $fd in 0 | 1 | 2 | 255) ;; *) eval "exec $fd>&-" 2>/dev/null ;; esac
done

# Private /run: the manager, journald and systemctl only ever see this one.
mount -n -t tmpfs -o mode=0755,nosuid,nodev,size=256m e2e-run /run || die "mount tmpfs on /run"
mkdir -p /run/systemd/system /run/user/0 /run/log/journal \
    /run/systemd/journald.conf.d /run/systemd/user.conf.d || die "mkdir in /run"
chmod 0700 /run/user/0

# Private cgroup2 mount; its root is our fresh cgroup (cgroup namespace).
mount -n -t cgroup2 -o nosuid,nodev,noexec cgroup2 /sys/fs/cgroup || die "mount cgroup2 on /sys/fs/cgroup"

# Another systemd: overlay its files on the host's, read-only, here only.
overlay() { # TARGET LOWER...
    local target=$1 lowers="" d
    shift
    for d in "$@"; do
        [ -d "$d" ] || continue
        case $d in *[:,]*) die "path unusable as overlay lowerdir: $d" ;; esac
        lowers+="$d:"
    done
    [ -n "$lowers" ] || return 0
    [ -d "$target" ] || die "overlay target $target missing on host"
    mount -n -t overlay -o "ro,lowerdir=$lowers$target" e2e-systemd "$target" ||
        die "overlay mount on $target (lowerdir=$lowers$target)"
}
if [ "${E2E_SYSTEMD_MODE:-}" = usr ]; then
    # A debootstrapped root (a systemd built for a newer libc than the host's): its whole
    # /usr, read-only, over ours; the project's binaries (built against the host's older
    # libc) run on it unchanged. /bin, /lib, /lib64 are symlinks into /usr on both sides.
    R=$E2E_SYSTEMD_ROOT
    [ -x "$R/usr/lib/systemd/systemd" ] || die "E2E_SYSTEMD_ROOT=$R holds no usr/lib/systemd/systemd"
    [ -L /bin ] && [ -L /lib ] || die "host without merged /usr: cannot bind $R/usr over /usr"
    mount -n --bind "$R/usr" /usr || die "bind mount $R/usr on /usr"
    # Read-only, so that nothing run here changes the cached root. The remount was seen
    # to fail now and then with "mount point is busy" (runs side by side): a few tries,
    # then on read-write, saying so.
    ro=0
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        mount -n -o remount,bind,ro /usr 2>>"$LOGS/ns-init-remount.log" && { ro=1; break; }
        sleep 0.1
    done
    [ "$ro" = 1 ] || log "warning: /usr (= $R/usr) stays read-write: $(tail -n 1 "$LOGS/ns-init-remount.log")"
elif [ -n "${E2E_SYSTEMD_ROOT:-}" ]; then
    R=$E2E_SYSTEMD_ROOT
    [ -x "$R/usr/lib/systemd/systemd" ] || [ -x "$R/lib/systemd/systemd" ] ||
        die "E2E_SYSTEMD_ROOT=$R holds no systemd"
    overlay /usr/bin "$R/usr/bin" "$R/bin"
    overlay /usr/lib/systemd "$R/usr/lib/systemd" "$R/lib/systemd"
    for lib in "$R"/usr/lib/*/systemd/libsystemd-shared-*.so "$R"/lib/*/systemd/libsystemd-shared-*.so; do
        [ -e "$lib" ] || continue
        libdir=${lib%/*}
        overlay "/usr/lib/${libdir#"$R"/usr/lib/}" "$libdir"
        break
    done
fi

# Nothing in here can write to the host's kernel log or console.
for d in /dev/kmsg /dev/console; do
    [ -e "$d" ] && { mount -n --bind /dev/null "$d" || die "mask $d"; }
done

# No generators: the unit set is exactly the harness's unit directory.
for d in /usr/lib/systemd/user-generators /usr/lib/systemd/user-environment-generators \
    /usr/local/lib/systemd/user-generators /usr/local/lib/systemd/user-environment-generators \
    /etc/systemd/user-generators /etc/systemd/user-environment-generators; do
    [ -d "$d" ] && { mount -n -t tmpfs -o ro,mode=0755,size=4k e2e-empty "$d" || die "mask $d"; }
done

cat >/run/systemd/journald.conf.d/zz-e2e.conf <<'EOC'
[Journal]
Storage=volatile
RuntimeMaxUse=64M
ReadKMsg=no
ForwardToSyslog=no
ForwardToKMsg=no
ForwardToConsole=no
ForwardToWall=no
RateLimitIntervalSec=0
RateLimitBurst=0
# systemd >= 253: leave the kernel's audit setting alone (empty = unset)
Audit=
EOC
cat >/run/systemd/user.conf.d/zz-e2e.conf <<'EOC'
[Manager]
LogLevel=debug
LogTarget=journal
DefaultTimeoutStartSec=30s
DefaultTimeoutStopSec=15s
EOC

# journald: its own log to a file (console target = stderr, since not PID 1).
(
    exec 0</dev/null
    cd / || exit 1
    exec env -i PATH="$PATH" LANG=C.UTF-8 SYSTEMD_LOG_TARGET=console SYSTEMD_LOG_LEVEL=info \
        /usr/lib/systemd/systemd-journald
) >"$LOGS/journald.log" 2>&1 &
jpid=$!
for _ in $(seq 200); do
    [ -S /run/systemd/journal/socket ] && break
    kill -0 "$jpid" 2>/dev/null || die "systemd-journald exited (see $LOGS/journald.log)"
    sleep 0.025
done
[ -S /run/systemd/journal/socket ] || die "systemd-journald did not create its socket within 5 s"

(
    exec 0</dev/null
    cd "$E2E_HOME" || exit 1
    exec env -i PATH="$PATH" LANG=C.UTF-8 HOME="$E2E_HOME" USER=root LOGNAME=root \
        XDG_RUNTIME_DIR=/run/user/0 SYSTEMD_LOG_TARGET=journal SYSTEMD_LOG_LEVEL=debug \
        SYSTEMD_UNIT_PATH="$E2E_UNIT_DIR" \
        /usr/lib/systemd/systemd --user --log-level=debug --log-target=journal
) >"$LOGS/manager.log" 2>&1 &
mpid=$!
echo "manager=$mpid journald=$jpid" >"$E2E_TMP/ns-init.pids"

# Lifeline: ends when the harness closes its end (or dies).
# (explicit redirection: a bare "cmd &" would get /dev/null as stdin)
exec 3<&0
cat <&3 >/dev/null &
lpid=$!
exec 3<&- 0</dev/null

wait -n "$mpid" "$jpid" "$lpid"
if ! kill -0 "$mpid" 2>/dev/null; then
    echo "failed: systemd --user exited (see $LOGS/manager.log and the journal)" >"$STATUS"
elif ! kill -0 "$jpid" 2>/dev/null; then
    echo "failed: systemd-journald exited (see $LOGS/journald.log)" >"$STATUS"
fi
log "exiting; the kernel kills the rest of the PID namespace"
exit 0
