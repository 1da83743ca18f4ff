# shellcheck shell=bash
# e2e harness: a real systemd manager (systemd --user + its own journald) in
# private mount, PID and cgroup namespaces, on a host whose PID 1 need not be
# systemd. Source this file; see README.md for the API and `run` for the
# entry point.
#
# Never touched on the host: /run, the journal, the console, PID 1, processes
# the harness did not start, /etc/apt. Created and removed again (also on
# failure or interruption, via e2e_teardown from the caller's EXIT trap):
# one temp dir /tmp/sd-notify-e2e.<pid>.XXXXXX, one cgroup of the same name
# under the host's cgroup2 hierarchy, the namespaces and their processes.
# Kept between runs: the unpacked systemd packages (247, 254) and the
# debootstrapped roots (257, newest) in $E2E_CACHE_DIR (~/.cache/sd-notify-e2e).

E2E_DIR=${E2E_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
E2E_REPO=${E2E_REPO:-$(cd "$E2E_DIR/../.." && pwd)}
# Where unit files find the project's binaries (@BIN_DIR@).
E2E_BIN_DIR=${E2E_BIN_DIR:-$E2E_REPO/target/debug/examples}
# Where unit files find the example services (@EXAMPLES_DIR@); default: the bin dir.
E2E_EXAMPLES_DIR=${E2E_EXAMPLES_DIR:-}
E2E_CACHE_DIR=${E2E_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sd-notify-e2e}
E2E_DEBIAN_MIRROR=${E2E_DEBIAN_MIRROR:-http://deb.debian.org/debian}
E2E_DEBIAN_KEYRING=${E2E_DEBIAN_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}
E2E_VERBOSE=${E2E_VERBOSE:-0}
E2E_CMD_TIMEOUT=${E2E_CMD_TIMEOUT:-60}      # any single systemctl/journalctl call
E2E_CASE_TIMEOUT=${E2E_CASE_TIMEOUT:-180}   # one case_* function
E2E_READY_TIMEOUT=${E2E_READY_TIMEOUT:-20}  # manager start-up
E2E_POLL_INTERVAL=${E2E_POLL_INTERVAL:-0.05}
E2E_PYTHON=${E2E_PYTHON:-$(if [ -x /usr/bin/python3 ]; then echo /usr/bin/python3; else command -v python3; fi)}

# Per-manager state (set by e2e_manager_start, cleared by e2e_teardown).
E2E_TMP=""            # temp dir on the host, also visible inside (same /tmp)
E2E_CG=""             # our cgroup, relative to the cgroup2 root
E2E_CG2_MOUNT=""      # host mount point of cgroup2, "" = mount privately
E2E_STAGE_PID=""      # host PID of the outer unshare (started by us)
E2E_NS_PID=""         # host PID of PID 1 of the namespaces (for nsenter)
E2E_LIFELINE_FD=""    # write end of the lifeline pipe
E2E_UNIT_DIR=""       # the manager's only unit directory
E2E_SCRATCH=""        # free scratch dir for cases (@SCRATCH@)
E2E_SYSTEMD=""        # requested: "252", "254", ... or "host"
E2E_SYSTEMD_ROOT=""   # unpacked package root or debootstrapped root, "" = the host's systemd
E2E_SYSTEMD_MODE=""   # "" (host), overlay (packages over the host's) or usr (the root's /usr)
E2E_SYSTEMD_VERSION="" # running manager's major version, e.g. 254
E2E_SYSTEMD_VERSION_FULL=""
# shellcheck disable=SC2034  # (read by cases)
E2E_CASE=""           # name of the running case
E2E_CASE_SINCE=""     # journal --since for the running case
E2E__CASE_PID=""

# ---------------------------------------------------------------- messages

e2e_log() { [ "$E2E_VERBOSE" = 1 ] && echo "  [e2e] $*" >&2; return 0; }
e2e_info() { echo "  [e2e] $*"; }
e2e_die() { echo "e2e: ERROR: $*" >&2; exit 2; }
# Time in integer microseconds, no forks on the polling paths.
_e2e_now() { echo "${EPOCHREALTIME/[.,]/}"; }
_e2e_deadline() { echo $(($(_e2e_now) + $(awk -v t="$1" 'BEGIN { printf "%d", t * 1000000 }'))); }
_e2e_before() { (( ${EPOCHREALTIME/[.,]/} < $1 )); }
_e2e_elapsed() { awk -v a="$1" -v b="$(_e2e_now)" 'BEGIN { printf "%.2f", (b - a) / 1e6 }'; }
# Sleep without a child process: read with a timeout on a pipe nobody writes.
_e2e_sleep() {
    [ -n "${E2E__SLEEP_FD:-}" ] || exec {E2E__SLEEP_FD}<> <(:)
    read -r -t "$1" -u "$E2E__SLEEP_FD" || true
}

# ---------------------------------------------------------------- checks

# Everything needed to run at all; clear message and exit 2 otherwise.
e2e_check_prereqs() {
    local c missing=()
    [ "$(id -u)" = 0 ] || e2e_die "must run as root (it creates namespaces, mounts and a cgroup); try: sudo $0"
    [ "${BASH_VERSINFO[0]}" -ge 5 ] || e2e_die "needs bash >= 5.1 (found $BASH_VERSION)"
    for c in unshare nsenter mount timeout awk flock mkfifo; do
        command -v "$c" >/dev/null || missing+=("$c")
    done
    [ ${#missing[@]} = 0 ] || e2e_die "missing commands: ${missing[*]} (unshare/nsenter/mount: util-linux + mount packages; timeout: coreutils)"
    unshare --help 2>&1 | grep -q -- '--kill-child' || e2e_die "unshare too old: needs --kill-child (util-linux >= 2.32)"
    [ -x /usr/lib/systemd/systemd ] || e2e_die "no /usr/lib/systemd/systemd: install the 'systemd' package (it need not be PID 1)"
    [ -x /usr/lib/systemd/systemd-journald ] || e2e_die "no /usr/lib/systemd/systemd-journald (package 'systemd')"
    for c in systemctl journalctl systemd-run; do
        command -v "$c" >/dev/null || e2e_die "no $c (package 'systemd')"
    done
    [ -n "$E2E_PYTHON" ] && [ -x "$E2E_PYTHON" ] || e2e_die "no python3 (package 'python3'), needed by the self-test helpers"
    grep -qw cgroup2 /proc/filesystems || e2e_die "kernel has no cgroup2 support"
    unshare --pid --fork --mount-proc --mount --cgroup --propagation private true 2>/dev/null ||
        e2e_die "cannot create mount/PID/cgroup namespaces here: $(unshare --pid --fork --mount-proc --mount --cgroup true 2>&1)"
}

# Host mount point of the cgroup2 hierarchy: /sys/fs/cgroup on a pure-v2
# host, /sys/fs/cgroup/unified on a hybrid one (as on this Debian 12 VM), or ""
# when no cgroup2 is mounted (then it is mounted in private mount namespaces
# only, see _e2e_cg).
_e2e_find_cgroup2() {
    local m
    case ${E2E_CGROUP2:-auto} in
    auto) ;;
    private) echo ""; return 0 ;;   # for testing the no-cgroup2 path
    *) echo "$E2E_CGROUP2"; return 0 ;;
    esac
    for m in /sys/fs/cgroup /sys/fs/cgroup/unified; do
        if [ "$(stat -f -c %T "$m" 2>/dev/null)" = cgroup2fs ]; then echo "$m"; return 0; fi
    done
    m=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
    echo "$m"
}

# Run a shell snippet with $CG2 = a cgroup2 mount point and $CG = our cgroup
# (absolute path). Without a host cgroup2 mount: in a throw-away private mount
# namespace with its own cgroup2 mount.
_e2e_cg() {
    local script=$1
    shift
    if [ -n "$E2E_CG2_MOUNT" ]; then
        CG2=$E2E_CG2_MOUNT CG=$E2E_CG2_MOUNT/$E2E_CG sh -c "$script" e2e-cg "$@"
    else
        mkdir -p "$E2E_TMP/cg2"
        CG2=$E2E_TMP/cg2 CG=$E2E_TMP/cg2/$E2E_CG unshare --mount --propagation private \
            sh -c 'mount -n -t cgroup2 cgroup2 "$CG2" || exit 1; '"$script" e2e-cg "$@"
    fi
}

# ---------------------------------------------------------------- systemd versions

# The versions `--systemd all` runs, oldest first ("newest" = Debian unstable's, whatever
# major it has). How each one is obtained: _e2e_source_for.
E2E_ALL_VERSIONS=${E2E_ALL_VERSIONS:-"247 252 254 257 newest"}

# _e2e_source_for VERSION: how to get that manager, one of
#   host          the host's own systemd (Debian 12: 252)
#   deb:SUITE     Debian's packages of SUITE unpacked (apt-get download + dpkg -x) and
#                 overlaid on the host's binaries inside the namespace (same or older libc)
#   root:SUITE    a minimal Debian root of SUITE (debootstrap) whose /usr is bound over
#                 /usr inside the namespace (for builds that need a newer libc than the host's)
# VERSION: a major number, "host", or "newest"/"sid" (Debian unstable's systemd).
_e2e_source_for() {
    local host_major
    host_major=$(_e2e_host_major)
    case $1 in
    host | "$host_major") echo host ;;
    247) echo deb:bullseye ;;
    254) echo deb:bookworm-backports ;;
    257) echo root:trixie ;;
    newest | sid) echo root:sid ;;
    *)
        # Any later major: whatever unstable has (checked against the manager's Version).
        [[ $1 =~ ^[0-9]+$ ]] && (($1 >= 258)) && { echo root:sid; return 0; }
        return 1
        ;;
    esac
}

_e2e_host_major() {
    [ -n "${E2E__HOST_MAJOR:-}" ] ||
        E2E__HOST_MAJOR=$(/usr/lib/systemd/systemd --version 2>/dev/null | awk 'NR == 1 { print $2 }')
    echo "$E2E__HOST_MAJOR"
}

# e2e_fetch_systemd VERSION: make sure that manager is in the cache ($E2E_CACHE_DIR; built
# once, under a lock, into a temp dir renamed when complete, so an interrupted build never
# leaves a half cache); prints "MODE ROOT" (MODE: overlay = deb:, usr = root:; ROOT "" for
# the host's). Exits 2 with the reason on failure.
e2e_fetch_systemd() {
    local want=$1 src kind suite dir
    src=$(_e2e_source_for "$want") ||
        e2e_die "the host has systemd $(_e2e_host_major); do not know where to get systemd $want from (known: $E2E_ALL_VERSIONS; any major >= 258 is taken from Debian unstable)"
    [ "$src" = host ] && { echo "host "; return 0; }
    kind=${src%%:*} suite=${src#*:}
    case $kind in
    deb) dir=$E2E_CACHE_DIR/systemd-$want ;;
    root) dir=$E2E_CACHE_DIR/root-$suite ;;
    esac
    if [ ! -f "$dir/.complete" ]; then
        mkdir -p "$E2E_CACHE_DIR" || e2e_die "cannot create cache dir $E2E_CACHE_DIR"
        (
            flock -w 900 9 || e2e_die "timeout waiting for the lock on $dir (another run building it?)"
            # (We hold the lock: a temp dir left by a killed build is nobody's.)
            [ -f "$dir/.complete" ] || rm -rf "$dir".tmp.*
            [ -f "$dir/.complete" ] || case $kind in
            deb) _e2e_fetch_unlocked "$want" "$suite" "$dir" ;;
            root) _e2e_debootstrap_unlocked "$suite" "$dir" ;;
            esac
        ) 9>"$dir.lock" >&2 || exit 2 # stdout is the result: progress goes to stderr
    fi
    case $kind in
    deb) echo "overlay $dir/root" ;;
    root) echo "usr $dir/root" ;;
    esac
}

# The version a cached root/package holds ("" if not cached): its .complete file.
_e2e_cached_version() {
    local src dir
    src=$(_e2e_source_for "$1") || return 0
    case $src in
    host) _e2e_host_major ;;
    deb:*) dir=$E2E_CACHE_DIR/systemd-$1 ;;
    root:*) dir=$E2E_CACHE_DIR/root-${src#root:} ;;
    esac
    [ -n "${dir:-}" ] && [ -f "$dir/.complete" ] && sed -n '1s/^\([0-9]*\).*/\1/p' "$dir/.complete"
    return 0
}

# Packages to unpack for a deb: version (before 253 libsystemd-shared is in package systemd).
_e2e_packages_for() {
    if (($1 >= 253)); then echo "systemd libsystemd-shared"; else echo systemd; fi
}

_e2e_fetch_unlocked() {
    local major=$1 suite=$2 dir=$3 work ver deb p
    local -a o pkgs
    command -v apt-get >/dev/null && command -v dpkg >/dev/null || e2e_die "systemd $major needs apt-get and dpkg (Debian) to fetch it"
    [ -r "$E2E_DEBIAN_KEYRING" ] || e2e_die "no Debian archive keyring at $E2E_DEBIAN_KEYRING (package debian-archive-keyring)"
    work=$dir.tmp.$$
    rm -rf "$work" && mkdir -p "$work"/{lists/partial,cache/archives/partial,parts,debs,root} || e2e_die "cannot create $work"
    echo "deb [signed-by=$E2E_DEBIAN_KEYRING] $E2E_DEBIAN_MIRROR $suite main" >"$work/sources.list"
    o=(-q -o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=$work/parts"
        -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o APT::Sandbox::User=root)
    e2e_info "fetching systemd $major from $suite into $dir (once; reused later)"
    apt-get "${o[@]}" update >"$work/apt.log" 2>&1 ||
        { cat "$work/apt.log" >&2; rm -rf "$work"; e2e_die "apt-get update for $suite failed (log above)"; }
    ver=$(apt-cache "${o[@]}" madison systemd 2>/dev/null |
        awk -F' *[|] *' -v s="$suite" -v m="$major" 'index($3, s) && index($2, m ".") == 1 { print $2; exit }')
    [ -n "$ver" ] || { rm -rf "$work"; e2e_die "no systemd $major.* in $suite (apt-cache madison systemd)"; }
    read -r -a pkgs <<<"$(_e2e_packages_for "$major")"
    (cd "$work/debs" && apt-get "${o[@]}" download "${pkgs[@]/%/=$ver}") >>"$work/apt.log" 2>&1 ||
        { cat "$work/apt.log" >&2; rm -rf "$work"; e2e_die "apt-get download ${pkgs[*]} (=$ver) failed (log above)"; }
    for deb in "$work"/debs/*.deb; do
        dpkg -x "$deb" "$work/root" || { rm -rf "$work"; e2e_die "dpkg -x $deb failed"; }
    done
    [ -x "$work/root/lib/systemd/systemd" ] || [ -x "$work/root/usr/lib/systemd/systemd" ] ||
        { rm -rf "$work"; e2e_die "unpacked systemd $ver has no lib/systemd/systemd"; }
    p=$(find "$work/root" -name 'libsystemd-shared-*.so' | head -n 1)
    [ -n "$p" ] || { rm -rf "$work"; e2e_die "unpacked systemd $ver has no libsystemd-shared-*.so"; }
    rm -rf "$work/lists" "$work/cache" "$work/parts"
    echo "$ver" >"$work/.complete"
    rm -rf "$dir" && mv "$work" "$dir" || e2e_die "cannot move $work to $dir"
    e2e_info "systemd $ver unpacked in $dir"
}

# The packages of a debootstrapped root: the manager and journald (systemd), the session
# bus (dbus), python3 for the self-test client, procps for /bin/kill (ExecReload=, ExecStop=).
E2E_ROOT_PACKAGES=${E2E_ROOT_PACKAGES:-systemd,dbus,python3-minimal,procps}

# A minimal Debian root of SUITE in DIR/root (debootstrap --variant=minbase); its /usr is
# bound over /usr inside the namespace only. 30-80 s and ~250 MB.
_e2e_debootstrap_unlocked() {
    local suite=$1 dir=$2 work ver t0
    command -v debootstrap >/dev/null || [ -x /usr/sbin/debootstrap ] ||
        e2e_die "systemd from Debian $suite needs debootstrap (a newer libc than the host's): apt-get install debootstrap (.ci/run does it)"
    [ -r "$E2E_DEBIAN_KEYRING" ] || e2e_die "no Debian archive keyring at $E2E_DEBIAN_KEYRING (package debian-archive-keyring)"
    work=$dir.tmp.$$
    rm -rf "$work" && mkdir -p "$work" || e2e_die "cannot create $work"
    t0=$(_e2e_now)
    e2e_info "building a minimal Debian $suite root in $dir (debootstrap, once; reused later; ~1 min)"
    PATH=$PATH:/usr/sbin:/sbin debootstrap --variant=minbase --include="$E2E_ROOT_PACKAGES" \
        --keyring="$E2E_DEBIAN_KEYRING" "$suite" "$work/root" "$E2E_DEBIAN_MIRROR" >"$work/debootstrap.log" 2>&1 ||
        { tail -n 30 "$work/debootstrap.log" >&2; rm -rf "$work"; e2e_die "debootstrap $suite failed (log above)"; }
    ver=$(awk '/^Package: / { p = $2 } /^Version: / && p == "systemd" { print $2; exit }' "$work/root/var/lib/dpkg/status")
    [ -n "$ver" ] && [ -x "$work/root/usr/lib/systemd/systemd" ] ||
        { rm -rf "$work"; e2e_die "the $suite root has no systemd"; }
    # Nothing of it is needed but /usr (and the package state, for the version).
    rm -rf "$work/root/var/cache/apt/archives"/*.deb
    echo "$ver" >"$work/.complete"
    rm -rf "$dir" && mv "$work" "$dir" || e2e_die "cannot move $work to $dir"
    e2e_info "systemd $ver ($suite root) ready in $dir after $(_e2e_elapsed "$t0")s"
}

# ---------------------------------------------------------------- manager

# e2e_manager_start [VERSION]   VERSION: host (default) | 247 | 252 | 254 | 257 |
# newest | ... (see _e2e_source_for). Starts journald + systemd --user in fresh
# namespaces and waits until the manager answers and reached default.target.
# Exits 2 on failure.
e2e_manager_start() {
    local want=${1:-host} t0 fifo state out src
    [ -z "$E2E_TMP" ] || e2e_die "a manager is already running ($E2E_TMP)"
    t0=$(_e2e_now)
    E2E_SYSTEMD=$want
    src=$(e2e_fetch_systemd "$want") || exit 2
    E2E_SYSTEMD_MODE=${src%% *} E2E_SYSTEMD_ROOT=${src#* }
    [ "$E2E_SYSTEMD_MODE" = host ] && E2E_SYSTEMD_MODE=""

    E2E_TMP=$(mktemp -d "/tmp/sd-notify-e2e.$$.XXXXXX") || e2e_die "mktemp failed"
    chmod 0755 "$E2E_TMP"
    E2E_UNIT_DIR=$E2E_TMP/units
    E2E_SCRATCH=$E2E_TMP/scratch
    mkdir -p "$E2E_UNIT_DIR" "$E2E_SCRATCH" "$E2E_TMP/home" "$E2E_TMP/logs"
    cp "$E2E_DIR"/lib/base-units/* "$E2E_UNIT_DIR/"
    # A D-Bus session bus, started by the manager at boot (the manager uses
    # it only while dbus.socket and dbus.service run): systemd-run --wait/
    # --pipe/--pty and busctl need it; systemctl uses the private socket.
    E2E__BUS=0
    if [ "${E2E_SESSION_BUS:-1}" = 1 ] && [ -x /usr/bin/dbus-daemon ]; then
        E2E__BUS=1
        cp "$E2E_DIR"/lib/dbus-units/* "$E2E_UNIT_DIR/"
        mkdir -p "$E2E_UNIT_DIR/default.target.wants"
        ln -s ../dbus.socket "$E2E_UNIT_DIR/default.target.wants/dbus.socket"
        ln -s ../dbus.service "$E2E_UNIT_DIR/default.target.wants/dbus.service"
    fi

    # Our own cgroup, child of the cgroup2 root.
    E2E_CG2_MOUNT=$(_e2e_find_cgroup2)
    E2E_CG=${E2E_TMP##*/}
    [ -n "$E2E_CG2_MOUNT" ] || e2e_log "no cgroup2 mounted on the host: using private cgroup2 mounts"
    _e2e_cg 'mkdir "$CG"' || { E2E_CG=""; e2e_die "cannot create cgroup $E2E_CG2_MOUNT/${E2E_TMP##*/}"; }

    # Lifeline: the namespace init reads this FIFO; we hold the only writer.
    fifo=$E2E_TMP/lifeline
    mkfifo "$fifo" || e2e_die "mkfifo $fifo"
    # Stage 1 (own private mount ns): move into our cgroup, then stage 2:
    # new cgroup + PID (+ mount) namespaces, ns-init.sh as PID 1.
    # shellcheck disable=SC2097,SC2098  # (same values: exported for the child)
    E2E_TMP=$E2E_TMP E2E_UNIT_DIR=$E2E_UNIT_DIR E2E_HOME=$E2E_TMP/home \
        E2E_SYSTEMD_ROOT=$E2E_SYSTEMD_ROOT E2E_SYSTEMD_MODE=$E2E_SYSTEMD_MODE E2E_CGPATH="${E2E_CG2_MOUNT:-$E2E_TMP/cg2}/$E2E_CG" \
        E2E_CG2_PRIVATE=$([ -z "$E2E_CG2_MOUNT" ] && echo 1) \
        unshare --mount --propagation private -- sh -c '
            if [ -n "$E2E_CG2_PRIVATE" ]; then
                mount -n -t cgroup2 cgroup2 "$E2E_TMP/cg2" || exit 97
            fi
            echo $$ >"$E2E_CGPATH/cgroup.procs" || exit 98
            exec unshare --cgroup --pid --fork --mount-proc --kill-child --propagation private \
                -- /bin/bash "$1"' e2e-stage1 "$E2E_DIR/lib/ns-init.sh" \
        <"$fifo" >"$E2E_TMP/logs/ns-init.log" 2>&1 &
    E2E_STAGE_PID=$!
    exec {E2E_LIFELINE_FD}>"$fifo"
    rm -f "$fifo"

    # Find PID 1 of the new PID namespace: the child of the unshare.
    local deadline pid
    deadline=$(_e2e_deadline 10)
    while [ -z "$E2E_NS_PID" ]; do
        for pid in $(cat "/proc/$E2E_STAGE_PID/task/$E2E_STAGE_PID/children" 2>/dev/null); do
            if awk '/^NSpid:/ { exit !($NF == 1 && NF > 2) }' "/proc/$pid/status" 2>/dev/null; then
                E2E_NS_PID=$pid
            fi
        done
        [ -n "$E2E_NS_PID" ] && break
        kill -0 "$E2E_STAGE_PID" 2>/dev/null || _e2e_start_failed "namespace setup exited"
        _e2e_before "$deadline" || _e2e_start_failed "no namespace init after 10 s"
        _e2e_sleep "$E2E_POLL_INTERVAL"
    done

    # Wait until the manager answers on its private bus socket.
    deadline=$(_e2e_deadline "$E2E_READY_TIMEOUT")
    while :; do
        [ -e "$E2E_TMP/ns-init.status" ] && _e2e_start_failed "$(cat "$E2E_TMP/ns-init.status")"
        kill -0 "$E2E_NS_PID" 2>/dev/null || _e2e_start_failed "namespace init exited"
        state=$(_e2e_in_raw timeout 5 systemctl --user is-system-running 2>/dev/null)
        case $state in
        running | degraded)
            # ... and, with the session bus, is on it.
            [ "$E2E__BUS" = 0 ] && break
            _e2e_in_raw timeout 5 busctl --user call org.freedesktop.systemd1 /org/freedesktop/systemd1 \
                org.freedesktop.DBus.Peer Ping >/dev/null 2>&1 && break
            state="$state, not yet on the session bus"
            ;;
        esac
        _e2e_before "$deadline" || _e2e_start_failed "manager not running after ${E2E_READY_TIMEOUT}s (state: '${state:-no answer}')"
        _e2e_sleep "$E2E_POLL_INTERVAL"
    done
    [ "$state" = degraded ] && e2e_info "warning: manager is degraded: $(e2e_systemctl --failed --plain --no-legend)"

    E2E_SYSTEMD_VERSION_FULL=$(e2e_systemctl show -p Version --value)
    E2E_SYSTEMD_VERSION=${E2E_SYSTEMD_VERSION_FULL%%[!0-9]*}
    if [[ $want =~ ^[0-9]+$ ]] && [ "$E2E_SYSTEMD_VERSION" != "$want" ]; then
        _e2e_start_failed "wanted systemd $want, the manager reports $E2E_SYSTEMD_VERSION_FULL"
    fi
    out=$(_e2e_in_raw systemctl --version | awk 'NR == 1 { print $2 }')
    [ "$out" = "$E2E_SYSTEMD_VERSION" ] || _e2e_start_failed "systemctl inside is version $out, manager $E2E_SYSTEMD_VERSION"
    out=$(e2e_systemctl log-level)
    [ "$out" = debug ] || _e2e_start_failed "manager log level is '$out', not debug"
    e2e_info "systemd $E2E_SYSTEMD_VERSION_FULL manager up in $(_e2e_elapsed "$t0")s (ns pid $E2E_NS_PID, cgroup ${E2E_CG2_MOUNT:-<private>}/$E2E_CG)"
}

_e2e_start_failed() {
    echo "e2e: ERROR: manager start failed: $*" >&2
    _e2e_dump_logs >&2
    e2e_teardown
    exit 2
}

_e2e_dump_logs() {
    local f
    for f in "$E2E_TMP"/logs/*.log; do
        [ -s "$f" ] || continue
        echo "---- ${f##*/} (last 30 lines)"
        tail -n 30 "$f"
    done
    if [ -n "$E2E_NS_PID" ] && kill -0 "$E2E_NS_PID" 2>/dev/null; then
        echo "---- journal (last 40 lines)"
        _e2e_in_raw timeout 10 journalctl --no-pager -n 40 2>&1
    fi
}

# Copy the whole journal and logs to $E2E_ARTIFACTS (if set) before teardown.
_e2e_save_artifacts() {
    [ -n "${E2E_ARTIFACTS:-}" ] && [ -n "$E2E_TMP" ] || return 0
    local d=$E2E_ARTIFACTS/systemd-${E2E_SYSTEMD_VERSION:-$E2E_SYSTEMD}
    mkdir -p "$d" || return 0
    cp "$E2E_TMP"/logs/*.log "$d/" 2>/dev/null
    if [ -n "$E2E_NS_PID" ] && kill -0 "$E2E_NS_PID" 2>/dev/null; then
        _e2e_in_raw timeout 30 journalctl --no-pager -o short-monotonic >"$d/journal.txt" 2>&1
    fi
}

# Stop everything this manager instance created; idempotent; safe to call
# from an EXIT trap at any point of e2e_manager_start.
e2e_teardown() {
    [ -n "$E2E_TMP" ] || return 0
    local deadline left=""
    _e2e_save_artifacts
    if [ -n "$E2E__CASE_PID" ]; then
        kill -TERM "$E2E__CASE_PID" 2>/dev/null
        wait "$E2E__CASE_PID" 2>/dev/null
        E2E__CASE_PID=""
    fi
    # Close the lifeline: the namespace init exits by itself.
    if [ -n "$E2E_LIFELINE_FD" ]; then
        exec {E2E_LIFELINE_FD}>&-
        E2E_LIFELINE_FD=""
    fi
    if [ -n "$E2E_CG" ]; then
        # Closing the lifeline ends the namespace init, and with it (kernel)
        # every process of the namespace. Give that a moment.
        deadline=$(_e2e_deadline 3)
        while :; do
            left=$(_e2e_cg 'find "$CG" -name cgroup.procs -exec cat {} + 2>/dev/null' 2>/dev/null)
            [ -z "$left" ] && break
            _e2e_before "$deadline" || break
            _e2e_sleep 0.02
        done
    fi
    if [ -n "$E2E_CG" ] && [ -n "$left" ]; then
        e2e_log "namespace still running after the lifeline closed: killing cgroup $E2E_CG"
        # Kill everything in our cgroup (only our processes are there).
        if ! _e2e_cg '[ -e "$CG/cgroup.kill" ] && echo 1 >"$CG/cgroup.kill"' 2>/dev/null; then
            # Kernel without cgroup.kill (< 5.14): killing PID 1 of the
            # namespace kills all of it; only while it is still in our cgroup.
            if [ -n "$E2E_NS_PID" ] && grep -q "/$E2E_CG\(/\|\$\)" "/proc/$E2E_NS_PID/cgroup" 2>/dev/null; then
                kill -KILL "$E2E_NS_PID" 2>/dev/null
            fi
            [ -n "$E2E_STAGE_PID" ] && kill -KILL "$E2E_STAGE_PID" 2>/dev/null
        fi
        deadline=$(_e2e_deadline 15)
        while :; do
            left=$(_e2e_cg 'find "$CG" -name cgroup.procs -exec cat {} + 2>/dev/null' 2>/dev/null)
            [ -z "$left" ] && break
            _e2e_before "$deadline" || { echo "e2e: WARNING: processes left in cgroup $E2E_CG: $left" >&2; break; }
            _e2e_cg '[ -e "$CG/cgroup.kill" ] && echo 1 >"$CG/cgroup.kill"' 2>/dev/null
            _e2e_sleep "$E2E_POLL_INTERVAL"
        done
    fi
    if [ -n "$E2E_CG" ]; then
        _e2e_cg 'find "$CG" -depth -type d -exec rmdir {} + 2>/dev/null; ! [ -d "$CG" ]' ||
            echo "e2e: WARNING: could not remove cgroup ${E2E_CG2_MOUNT:-<private>}/$E2E_CG" >&2
    fi
    if [ -n "$E2E_STAGE_PID" ]; then
        wait "$E2E_STAGE_PID" 2>/dev/null
    fi
    rm -rf "$E2E_TMP"
    E2E_TMP="" E2E_CG="" E2E_STAGE_PID="" E2E_NS_PID="" E2E_UNIT_DIR="" E2E_SCRATCH=""
    E2E_SYSTEMD_VERSION="" E2E_SYSTEMD_VERSION_FULL="" E2E_SYSTEMD_ROOT="" E2E_SYSTEMD_MODE=""
    return 0
}

# Leftovers of harness runs that were SIGKILLed before their namespaces
# noticed (normally the lifeline makes them exit by themselves): cgroups
# and temp dirs named sd-notify-e2e.<pid>.* whose <pid> no longer runs.
e2e_cleanup_stale() {
    local cg2 d pid n=0
    cg2=$(_e2e_find_cgroup2)
    for d in ${cg2:+"$cg2"/sd-notify-e2e.*} /tmp/sd-notify-e2e.*; do
        [ -d "$d" ] || continue
        pid=${d##*/sd-notify-e2e.}
        pid=${pid%%.*}
        [[ $pid =~ ^[0-9]+$ ]] || continue
        kill -0 "$pid" 2>/dev/null && continue
        n=$((n + 1))
        if [[ $d == /tmp/* ]]; then
            rm -rf "$d" && echo "removed stale $d"
        else
            [ -e "$d/cgroup.kill" ] && echo 1 >"$d/cgroup.kill"
            local deadline
            deadline=$(_e2e_deadline 5)
            while [ -n "$(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null)" ] && _e2e_before "$deadline"; do
                _e2e_sleep 0.05
            done
            find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
            [ -d "$d" ] && echo "could not remove stale cgroup $d" || echo "removed stale cgroup $d"
        fi
    done
    echo "$n stale item(s)"
}

# ---------------------------------------------------------------- commands inside

_e2e_in_raw() {
    [ -n "$E2E_NS_PID" ] || { echo "e2e: no manager running" >&2; return 2; }
    local -a closefd=()
    [ -n "$E2E_LIFELINE_FD" ] && closefd=("{E2E_LIFELINE_FD}>&-")
    eval 'nsenter -t "$E2E_NS_PID" -m -p -- /usr/bin/env -i \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME="$E2E_TMP/home" LANG=C.UTF-8 XDG_RUNTIME_DIR=/run/user/0 \
        SYSTEMD_PAGER=cat SYSTEMD_COLORS=0 SYSTEMD_LOG_LEVEL=info "$@" '"${closefd[*]}"
}

# e2e_in CMD...: run CMD inside the namespaces (sees the private /run, the
# manager's bus, the journal), with a timeout of $E2E_CMD_TIMEOUT.
e2e_in() { _e2e_in_raw timeout "$E2E_CMD_TIMEOUT" "$@"; }
e2e_systemctl() { e2e_in systemctl --user --no-pager "$@"; }
e2e_systemd_run() { e2e_in systemd-run --user "$@"; }
e2e_journalctl() { e2e_in journalctl --no-pager "$@"; }
e2e_daemon_reload() { e2e_systemctl daemon-reload; }

# True when the manager has a D-Bus session bus (see e2e_manager_start).
e2e_have_session_bus() { [ "${E2E__BUS:-0}" = 1 ]; }

# Manager major version (e.g. 254); e2e_systemd_at_least N → true/false.
e2e_systemd_version() { echo "$E2E_SYSTEMD_VERSION"; }
e2e_systemd_at_least() { [ "$E2E_SYSTEMD_VERSION" -ge "$1" ]; }

# The oldest and the newest manager of `--systemd all` (E2E_ALL_VERSIONS): 247, and
# Debian unstable's (its major, e.g. 262, once its root is cached; while the newest
# manager runs, that one's). For cases that run only there (stress):
#   [ "$E2E_SYSTEMD_VERSION" = "$(e2e_oldest_version)" ] || ...; or e2e_only_oldest_newest.
e2e_oldest_version() { set -- $E2E_ALL_VERSIONS; echo "$1"; }
e2e_newest_version() {
    local v
    set -- $E2E_ALL_VERSIONS
    v=${!#}
    [ "$v" = newest ] || { echo "$v"; return 0; }
    if [ "${E2E_SYSTEMD:-}" = newest ] || [ "${E2E_SYSTEMD:-}" = sid ]; then
        echo "$E2E_SYSTEMD_VERSION"
    else
        _e2e_cached_version newest
    fi
}
# True when the running manager is the oldest / the newest of `--systemd all`.
e2e_is_oldest() { [ "$E2E_SYSTEMD_VERSION" = "$(e2e_oldest_version)" ]; }
e2e_is_newest() { [ "$E2E_SYSTEMD_VERSION" = "$(e2e_newest_version)" ]; }

# ---------------------------------------------------------------- units

# Substitute @NAME@ placeholders: @BIN_DIR@ @EXAMPLES_DIR@ @E2E_DIR@ @HELPERS@
# @PYTHON@ @SCRATCH@ @REPO@, plus @FOO@ for every exported/set variable
# E2E_SUBST_FOO.
_e2e_subst() {
    local text=$1 v name
    text=${text//@BIN_DIR@/$E2E_BIN_DIR}
    text=${text//@EXAMPLES_DIR@/${E2E_EXAMPLES_DIR:-$E2E_BIN_DIR}}
    text=${text//@E2E_DIR@/$E2E_DIR}
    text=${text//@HELPERS@/$E2E_DIR/helpers}
    text=${text//@PYTHON@/$E2E_PYTHON}
    text=${text//@SCRATCH@/$E2E_SCRATCH}
    text=${text//@REPO@/$E2E_REPO}
    for v in $(compgen -v E2E_SUBST_); do
        name=${v#E2E_SUBST_}
        text=${text//@$name@/${!v}}
    done
    if [[ $text =~ @[A-Z][A-Z0-9_]*@ ]]; then
        echo "e2e: unknown placeholder ${BASH_REMATCH[0]} (define E2E_SUBST_${BASH_REMATCH[0]//@/})" >&2
        return 1
    fi
    printf '%s\n' "$text"
}

_e2e_track_unit() {
    [ -n "${E2E__CASE_UNITS:-}" ] && echo "$1" >>"$E2E__CASE_UNITS"
    return 0
}

# e2e_install_unit FILE [NAME]: FILE is relative to tests/e2e/units/ (or
# absolute); placeholders substituted; installed as NAME (default: basename)
# into the manager's unit dir; then daemon-reload. Removed after the case.
e2e_install_unit() {
    local src=$1 name=${2:-} text
    [[ $src == /* ]] || src=$E2E_DIR/units/$src
    [ -f "$src" ] || { echo "e2e: no unit file $src" >&2; return 1; }
    [ -n "$name" ] || name=${src##*/}
    text=$(_e2e_subst "$(cat "$src")") || return 1
    printf '%s\n' "$text" >"$E2E_UNIT_DIR/$name" || return 1
    _e2e_track_unit "$name"
    e2e_log "installed unit $name"
    [ "${E2E_NO_RELOAD:-0}" = 1 ] || e2e_daemon_reload
}

# e2e_install_unit_text NAME <<'EOF' ... EOF: same, unit text on stdin.
e2e_install_unit_text() {
    local name=$1 text
    text=$(_e2e_subst "$(cat)") || return 1
    printf '%s\n' "$text" >"$E2E_UNIT_DIR/$name" || return 1
    _e2e_track_unit "$name"
    [ "${E2E_NO_RELOAD:-0}" = 1 ] || e2e_daemon_reload
}

# e2e_install_dropin UNIT NAME <<'EOF' ... EOF: UNIT.d/NAME.conf from stdin.
e2e_install_dropin() {
    local unit=$1 name=$2 text
    text=$(_e2e_subst "$(cat)") || return 1
    mkdir -p "$E2E_UNIT_DIR/$unit.d" && printf '%s\n' "$text" >"$E2E_UNIT_DIR/$unit.d/$name.conf" || return 1
    _e2e_track_unit "$unit"
    [ "${E2E_NO_RELOAD:-0}" = 1 ] || e2e_daemon_reload
}

# Remove a unit file (and drop-ins) installed by the case, after stopping it.
e2e_remove_unit() {
    local unit=$1
    e2e_systemctl stop "$unit" >/dev/null 2>&1
    rm -rf "${E2E_UNIT_DIR:?}/$unit" "${E2E_UNIT_DIR:?}/$unit.d"
    e2e_systemctl reset-failed "$unit" >/dev/null 2>&1
    return 0
}

# Blocking job commands; TIMEOUT (seconds, default 30) bounds the wait.
# Return systemctl's exit status (124 on timeout).
e2e_start() { _e2e_in_raw timeout "${2:-30}" systemctl --user start "$1"; }
e2e_stop() { _e2e_in_raw timeout "${2:-30}" systemctl --user stop "$1"; }
e2e_restart() { _e2e_in_raw timeout "${2:-30}" systemctl --user restart "$1"; }
e2e_reload() { _e2e_in_raw timeout "${2:-30}" systemctl --user reload "$1"; }
# Non-blocking variants: only enqueue the job.
e2e_start_nb() { e2e_systemctl --no-block start "$1"; }
e2e_stop_nb() { e2e_systemctl --no-block stop "$1"; }
e2e_restart_nb() { e2e_systemctl --no-block restart "$1"; }
e2e_reload_nb() { e2e_systemctl --no-block reload "$1"; }
e2e_kill() { e2e_systemctl kill ${2:+--signal="$2"} "$1"; }  # UNIT [SIGNAL]

E2E_PROPS=ActiveState,SubState,StatusText,MainPID,Result,NRestarts,ExecMainStatus

# e2e_show UNIT PROP: the value alone. e2e_show UNIT: the standard set
# ($E2E_PROPS) as PROP=VALUE lines.
e2e_show() {
    if [ $# -ge 2 ]; then
        e2e_systemctl show -p "$2" --value "$1"
    else
        e2e_systemctl show -p "$E2E_PROPS" "$1"
    fi
}
# One line summary of the standard properties (for messages).
e2e_show_line() { e2e_show "$1" | tr '\n' ' '; }

# e2e_wait_for_property UNIT PROP VALUE [TIMEOUT=10]: poll until equal.
# VALUE "~REGEX" matches an extended regex instead. Returns 1 with a message
# (last value seen, all standard properties) on timeout.
e2e_wait_for_property() {
    local unit=$1 prop=$2 want=$3 timeout=${4:-10} deadline cur
    deadline=$(_e2e_deadline "$timeout")
    while :; do
        cur=$(e2e_show "$unit" "$prop" 2>/dev/null) || true
        if [[ $want == "~"* ]]; then
            [[ $cur =~ ${want:1} ]] && return 0
        else
            [ "$cur" = "$want" ] && return 0
        fi
        _e2e_before "$deadline" || break
        _e2e_sleep "$E2E_POLL_INTERVAL"
    done
    echo "e2e: timeout (${timeout}s) waiting for $unit $prop=$want; last: '$cur'; $(e2e_show_line "$unit")" >&2
    return 1
}

# e2e_journal UNIT [journalctl args...]: the journal lines about UNIT (the
# manager's messages about it and the unit's own output), by default only
# since the current case started (E2E_JOURNAL_ALL=1: all).
#
# Also matched: every PID the manager forked for UNIT ("UNIT: Forked X as N"
# at debug level; 257 and later add " (via CLONE_INTO_CGROUP)"). journald attributes a process by the cgroup it reads for
# the PID, cached for about a second; the forked child logs (at debug level)
# before the manager has moved it into the unit's cgroup, so for its first
# second its output is recorded with _SYSTEMD_UNIT=init.scope.
e2e_journal() {
    local unit=$1 since=()
    shift
    [ -n "${E2E_CASE_SINCE:-}" ] && [ "${E2E_JOURNAL_ALL:-0}" != 1 ] && since=(--since="$E2E_CASE_SINCE")
    e2e_in journalctl --sync >/dev/null 2>&1 || true
    local -a pids=()
    mapfile -t pids < <(e2e_journalctl -o cat "${since[@]}" "USER_UNIT=$unit" |
        sed -n 's/^.*: Forked .* as \([0-9][0-9]*\)\( (.*)\)\{0,1\}$/+\n_PID=\1/p')
    e2e_journalctl -o short-monotonic "${since[@]}" "$@" \
        "USER_UNIT=$unit" + "_SYSTEMD_USER_UNIT=$unit" + "_SYSTEMD_UNIT=$unit" + "UNIT=$unit" "${pids[@]}"
}

# e2e_notify_re PID FIELDS: an ERE for the manager's debug line about one accepted
# notification datagram from PID (an ERE too, e.g. '[0-9]+') whose assignments, as the
# manager lists them (joined by ", "), match FIELDS (an ERE) up to the end of the line.
# The wording differs between releases: up to 254 (checked: 247, 252, 254)
#   Got notification message from PID 42 (READY=1, STATUS=x)
# 257 and later (checked: 257, 262; 255 and 256 are not run, taken as the older form)
#   Got notification message from PID 42: READY=1, STATUS=x
e2e_notify_re() {
    if e2e_systemd_at_least 257; then
        printf 'Got notification message from PID %s: %s$' "$1" "$2"
    else
        printf 'Got notification message from PID %s \\(%s\\)$' "$1" "$2"
    fi
}

# e2e_journal_count UNIT REGEX: number of matching lines.
e2e_journal_count() { e2e_journal "$1" | grep -c -E -- "$2" || true; }

# e2e_wait_for_journal UNIT REGEX [TIMEOUT=10]: poll until a line matches.
e2e_wait_for_journal() {
    local unit=$1 re=$2 timeout=${3:-10} deadline
    deadline=$(_e2e_deadline "$timeout")
    while :; do
        e2e_journal "$unit" | grep -q -E -- "$re" && return 0
        _e2e_before "$deadline" || break
        _e2e_sleep "$E2E_POLL_INTERVAL"
    done
    echo "e2e: timeout (${timeout}s) waiting for journal line /$re/ of $unit; last lines:" >&2
    e2e_journal "$unit" | tail -n 15 | sed 's/^/    /' >&2
    return 1
}

# ---------------------------------------------------------------- assertions
# Each prints a reason and returns 1; cases run under `set -e`, so a failed
# assertion ends the case as FAIL.

e2e_fail() { echo "e2e: FAIL: $*" >&2; return 1; }
# e2e_skip REASON: end the case as SKIP (counted as skipped, printed with the reason:
# "SKIP: <case> on <version>: REASON").
e2e_skip() { echo "e2e: SKIP: $*" >&2; exit 77; }
# e2e_requires_version N [FEATURE]: skip the case on managers older than N, printed as
# "SKIP: <case> on 252: needs systemd ≥ 253 (FEATURE)". Call it first in the case.
e2e_requires_version() {
    e2e_systemd_at_least "$1" || e2e_skip "needs systemd ≥ $1${2:+ ($2)}"
}
# (the older name, same thing)
e2e_require_systemd() { e2e_requires_version "$@"; }
# e2e_only_oldest_newest [WHAT]: run the case only on the oldest and the newest manager of
# `--systemd all` (247 and unstable's); skip elsewhere, saying so.
e2e_only_oldest_newest() {
    e2e_is_oldest || e2e_is_newest ||
        e2e_skip "runs on the oldest and the newest systemd only ($(e2e_oldest_version), $(e2e_newest_version))${1:+: $1}"
}
e2e_assert_eq() { # EXPECTED ACTUAL [WHAT]
    [ "$1" = "$2" ] || e2e_fail "${3:-value}: expected '$1', got '$2'"
}
e2e_assert_property() { # UNIT PROP VALUE (VALUE "~REGEX" as in wait_for_property)
    local cur
    cur=$(e2e_show "$1" "$2") || true
    if [[ $3 == "~"* ]]; then
        [[ $cur =~ ${3:1} ]] && return 0
    else
        [ "$cur" = "$3" ] && return 0
    fi
    e2e_fail "$1 $2: expected '$3', got '$cur'; $(e2e_show_line "$1")"
}
e2e_assert_journal() { # UNIT REGEX: a journal line matches (waits up to 5 s)
    e2e_wait_for_journal "$1" "$2" "${3:-5}" || e2e_fail "no journal line of $1 matches /$2/"
}
e2e_assert_no_journal() { # UNIT REGEX: no journal line matches
    local hit
    hit=$(e2e_journal "$1" | grep -E -m1 -- "$2") || return 0
    e2e_fail "unexpected journal line of $1: $hit"
}

# ---------------------------------------------------------------- cases

# Load tests/e2e/cases/*.sh (and $E2E_EXTRA_CASES_DIR/*.sh if set).
e2e_load_cases() {
    local f
    for f in "$E2E_DIR"/cases/*.sh ${E2E_EXTRA_CASES_DIR:+"$E2E_EXTRA_CASES_DIR"/*.sh}; do
        [ -f "$f" ] || continue
        # shellcheck disable=SC1090
        source "$f" || e2e_die "cannot load $f"
    done
}

# Names of the loaded cases (without case_), sorted, filtered by an ERE.
e2e_list_cases() {
    local re=${1:-}
    declare -F | awk '{ print $3 }' | sed -n 's/^case_//p' | sort | { if [ -n "$re" ]; then grep -E -- "$re"; else cat; fi; }
}

E2E_PASSED=0 E2E_FAILED=0 E2E_SKIPPED=0
E2E_FAILED_NAMES=() E2E_SKIPPED_NAMES=()

# e2e_run_case NAME: run case_NAME in a subshell under `set -eEuo pipefail`
# with a $E2E_CASE_TIMEOUT watchdog; print PASS/FAIL/SKIP; clean up its units.
e2e_run_case() {
    local name=$1 t0 rc log label deadline
    label="$name on $E2E_SYSTEMD_VERSION"
    t0=$(_e2e_now)
    log=$E2E_TMP/case-$name.log
    E2E__CASE_UNITS=$E2E_TMP/case-$name.units
    : >"$E2E__CASE_UNITS"
    E2E_CASE=$name
    _e2e_lock_case
    # (The case's time starts now: waiting above for another version's exclusive case is
    # reported apart.)
    local locked_wait
    locked_wait=$(_e2e_elapsed "$t0")
    t0=$(_e2e_now)
    E2E_CASE_SINCE="@${EPOCHREALTIME/,/.}"
    (
        # Only the main harness process holds the lifeline.
        [ -n "$E2E_LIFELINE_FD" ] && exec {E2E_LIFELINE_FD}>&-
        E2E_LIFELINE_FD=""
        set -eEuo pipefail
        trap '_e2e_err_trap $?' ERR
        "case_$name"
    ) >"$log" 2>&1 &
    E2E__CASE_PID=$!
    # Watchdog by polling (no helper process that could outlive us). While the case waits
    # for the machine (e2e_exclusive: the file $log.waiting exists) its clock stands still.
    local left=""
    deadline=$(_e2e_deadline "$E2E_CASE_TIMEOUT")
    while kill -0 "$E2E__CASE_PID" 2>/dev/null; do
        if [ -e "$log.waiting" ]; then
            [ -n "$left" ] || left=$((deadline - $(_e2e_now)))
            deadline=$(($(_e2e_now) + left))
        else
            left=""
        fi
        if ! _e2e_before "$deadline"; then
            echo "e2e: case timed out after ${E2E_CASE_TIMEOUT}s" >>"$log"
            kill -TERM "$E2E__CASE_PID" 2>/dev/null
            break
        fi
        _e2e_sleep 0.02
    done
    wait "$E2E__CASE_PID"
    rc=$?
    E2E__CASE_PID=""
    _e2e_unlock_case
    rm -f "$log.waiting"

    if [ "$rc" = 0 ]; then
        E2E_PASSED=$((E2E_PASSED + 1))
        echo "PASS: $label ($(_e2e_elapsed "$t0")s$(_e2e_lock_note "$locked_wait"))"
        [ "$E2E_VERBOSE" = 1 ] && sed 's/^/    | /' "$log"
    elif [ "$rc" = 77 ]; then
        E2E_SKIPPED=$((E2E_SKIPPED + 1))
        E2E_SKIPPED_NAMES+=("$label")
        echo "SKIP: $label: $(sed -n 's/^e2e: SKIP: //p' "$log" | tail -n 1)"
    else
        E2E_FAILED=$((E2E_FAILED + 1))
        E2E_FAILED_NAMES+=("$label")
        echo "FAIL: $label (exit $rc, $(_e2e_elapsed "$t0")s$(_e2e_lock_note "$locked_wait"))"
        sed 's/^/    | /' "$log"
        _e2e_case_journal_tail | sed 's/^/    j /'
    fi
    _e2e_case_cleanup
    # shellcheck disable=SC2034
    E2E_CASE="" E2E_CASE_SINCE="" E2E__CASE_UNITS=""
    return 0
}

# Versions run side by side (run --jobs N) share E2E_LOCK_DIR: every case holds a shared
# lock on "share" while it runs; e2e_exclusive (in a case) lets go of its share, takes
# "turnstile" (so no other worker starts a case) and then an exclusive lock on "share"
# (waiting for the cases running elsewhere to end; two cases calling e2e_exclusive at once
# take turns, since the one waiting for the turnstile holds no share). Both are released
# after the case. Without E2E_LOCK_DIR (one version at a time) all of this is a no-op.
E2E__TURN_FD="" E2E__SHARE_FD=""
_e2e_lock_case() {
    [ -n "${E2E_LOCK_DIR:-}" ] || return 0
    if [ -z "$E2E__TURN_FD" ]; then
        exec {E2E__TURN_FD}>>"$E2E_LOCK_DIR/turnstile" {E2E__SHARE_FD}>>"$E2E_LOCK_DIR/share" ||
            e2e_die "cannot open the locks in $E2E_LOCK_DIR"
    fi
    flock -x "$E2E__TURN_FD" && flock -s "$E2E__SHARE_FD" && flock -u "$E2E__TURN_FD" ||
        e2e_die "cannot lock $E2E_LOCK_DIR"
}
# ", after N s waiting for an exclusive case elsewhere" when that wait was noticeable.
_e2e_lock_note() {
    awk -v w="$1" 'BEGIN { if (w >= 0.5) printf ", after %.1f s waiting for an exclusive case of another version", w }'
}
_e2e_unlock_case() {
    [ -n "$E2E__SHARE_FD" ] || return 0
    flock -u "$E2E__SHARE_FD"
    flock -u "$E2E__TURN_FD"
}

# e2e_exclusive [WHY]: call first in a case that must have the machine to itself (CPU
# hogs, timing under load): when versions run side by side (run --jobs N), wait until the
# cases running for the other versions have ended and start no other until this one ends.
# The wait does not count against E2E_CASE_TIMEOUT. One version at a time: no-op.
e2e_exclusive() {
    [ -n "$E2E__SHARE_FD" ] || return 0
    local t0 mark=$E2E_TMP/case-$E2E_CASE.log.waiting
    t0=$(_e2e_now)
    : >"$mark"
    flock -u "$E2E__SHARE_FD" && flock -x "$E2E__TURN_FD" && flock -x "$E2E__SHARE_FD" ||
        { rm -f "$mark"; e2e_fail "cannot take the exclusive lock"; }
    rm -f "$mark"
    echo "  [e2e] exclusive${1:+ ($1)}: waited $(_e2e_elapsed "$t0")s for the other versions' running cases"
}

# ERR trap of a case: where in the case file it failed (first frame outside
# harness.sh), e.g. "e2e: failed at cases/foo.sh:12 (case_foo), status 1: cmd".
_e2e_err_trap() {
    local st=$1 i=1 n=${#BASH_SOURCE[@]}
    while [ "$i" -lt "$n" ] && [ "${BASH_SOURCE[$i]}" = "${BASH_SOURCE[0]}" ]; do i=$((i + 1)); done
    [ "$i" -lt "$n" ] || i=1
    echo "e2e: failed at ${BASH_SOURCE[$i]#"$E2E_DIR"/}:${BASH_LINENO[$((i - 1))]} (${FUNCNAME[$i]}), status $st${BASH_COMMAND:+: $BASH_COMMAND}" >&2
}

_e2e_case_journal_tail() {
    local u
    sort -u "$E2E__CASE_UNITS" | while read -r u; do
        [ -n "$u" ] || continue
        echo "---- journal of $u (last ${E2E_FAIL_JOURNAL_LINES:-40} lines)"
        e2e_journal "$u" | tail -n "${E2E_FAIL_JOURNAL_LINES:-40}"
    done
}

# Stop, remove and forget every unit the case installed, and stop whatever
# else it left running (transient units of systemd-run, ...): in this
# manager every service, scope, socket, timer and path unit is a case's.
_e2e_case_cleanup() {
    local u any=0 left
    while read -r u; do
        [ -n "$u" ] || continue
        any=1
        e2e_remove_unit "$u"
    done < <(sort -u "$E2E__CASE_UNITS")
    mapfile -t left < <(e2e_systemctl list-units --all --plain --no-legend \
        --type=service,scope,socket,timer,path 2>/dev/null |
        awk '$1 !~ /^(init\.scope|dbus\.service|dbus\.socket)$/ && $3 != "inactive" { print $1 }')
    if [ ${#left[@]} -gt 0 ]; then
        e2e_log "stopping units left by the case: ${left[*]}"
        e2e_systemctl stop "${left[@]}" >/dev/null 2>&1
    fi
    e2e_systemctl reset-failed >/dev/null 2>&1
    if [ "$any" = 1 ]; then e2e_daemon_reload >/dev/null 2>&1; fi
    rm -f "$E2E__CASE_UNITS"
    # Scratch files are per case, too.
    find "$E2E_SCRATCH" -mindepth 1 -delete 2>/dev/null
    return 0
}

# e2e_summary: the skipped and failed cases, then the closing line
# "N passed, N failed, N skipped"; status 1 if any failed.
e2e_summary() {
    [ "$E2E_SKIPPED" -gt 0 ] && printf 'skipped: %s\n' "${E2E_SKIPPED_NAMES[@]}"
    [ "$E2E_FAILED" -gt 0 ] && printf 'failed case: %s\n' "${E2E_FAILED_NAMES[@]}"
    echo "$E2E_PASSED passed, $E2E_FAILED failed, $E2E_SKIPPED skipped"
    [ "$E2E_FAILED" = 0 ]
}
