#!/usr/bin/python3
"""Stand-alone sd_notify client for the harness's self-tests (no project code).

Usage: sdnotify-helper.py ACTION [ACTION...]   (run in order)
  send MSG            send MSG as one datagram to $NOTIFY_SOCKET; the two
                      characters backslash-n in MSG become a newline
  sleep SECS          sleep
  wait-file PATH SECS block until PATH exists (exit 3 after SECS)
  exit CODE           exit with CODE now
  serve               run until stopped (its handlers are installed at start,
                      before any action):
                        SIGHUP  -> reload handshake of Type=notify-reload:
                                   "RELOADING=1\\nMONOTONIC_USEC=<now>" in ONE
                                   datagram, then "READY=1\\nSTATUS=reloaded N"
                        SIGTERM -> "STOPPING=1", exit 0
Every step is echoed to stdout (the unit's journal).
"""
import os
import select
import signal
import socket
import sys
import time


def log(msg):
    print(f"sdnotify-helper[{os.getpid()}]: {msg}", flush=True)


def notify(msg):
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        log(f"NOTIFY_SOCKET unset, not sending {msg!r}")
        return
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    elif not addr.startswith("/"):
        sys.exit(f"unsupported NOTIFY_SOCKET {addr!r}")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
        s.sendto(msg.encode(), addr)
    log(f"sent {msg!r}")


def monotonic_usec():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


# The signals "serve" handles, with real handlers installed before the first action runs:
# systemd 262 refuses to start a Type=notify-reload service whose main process has no
# handler for the reload signal when READY=1 arrives ("lacks handler for reload signal
# HUP, refusing service startup"); a blocked signal (sigwait) does not count.
PENDING = []


def on_signal(sig, _frame):
    PENDING.append(sig)


WAKEUP = None


def install_handlers():
    global WAKEUP
    # The C-level handler also writes to this pipe: a signal that arrives after serve()
    # looked at PENDING still wakes its select().
    WAKEUP, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(w)
    for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)


def serve():
    reloads = 0
    log("serving")
    while True:
        while not PENDING:
            select.select([WAKEUP], [], [])
            try:
                os.read(WAKEUP, 64)
            except BlockingIOError:
                pass
        sig = PENDING.pop(0)
        if sig == signal.SIGHUP:
            reloads += 1
            notify(f"RELOADING=1\nMONOTONIC_USEC={monotonic_usec()}")
            notify(f"READY=1\nSTATUS=reloaded {reloads}")
        else:
            notify("STOPPING=1")
            log(f"exiting on signal {sig}")
            sys.exit(0)


def main(argv):
    if "serve" in argv:
        install_handlers()
    i = 0
    while i < len(argv):
        act = argv[i]
        i += 1
        if act == "send":
            notify(argv[i].replace("\\n", "\n"))
            i += 1
        elif act == "sleep":
            time.sleep(float(argv[i]))
            i += 1
        elif act == "wait-file":
            path, limit = argv[i], float(argv[i + 1])
            i += 2
            deadline = time.monotonic() + limit
            while not os.path.exists(path):
                if time.monotonic() > deadline:
                    log(f"timeout waiting for {path}")
                    sys.exit(3)
                time.sleep(0.02)
            log(f"found {path}")
        elif act == "exit":
            code = int(argv[i])
            log(f"exit {code}")
            sys.exit(code)
        elif act == "serve":
            serve()
        else:
            sys.exit(f"unknown action {act!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
