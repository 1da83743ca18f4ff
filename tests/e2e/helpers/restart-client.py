#!/usr/bin/env python3
"""Connects to 127.0.0.1:PORT in a tight loop (THREADS threads, loopback only) until
STOP_FILE exists, MAX_SECONDS passed or MAX_CONNECTIONS attempts were made, and sorts
every attempt:

  ok          the answer `hello from <pid>` arrived, then the end of the stream
  refused     connect() failed with ECONNREFUSED (no socket listening on the port)
  reset       the connection was reset (ECONNRESET/EPIPE) before the whole answer came
  unanswered  the server closed the connection without answering (an accepted
              connection whose process died before writing)
  timeout     connect() or the answer took longer than TIMEOUT seconds
  other       any other error (printed)

Prints one line: `attempts=N ok=N refused=N reset=N unanswered=N timeout=N other=N
servers=N seconds=S` (servers: distinct PIDs that answered). Used by cases/restarts.sh.
"""

import os
import socket
import sys
import threading
import time

port = int(sys.argv[1])
stop_file = sys.argv[2]
max_seconds = float(sys.argv[3])
max_connections = int(sys.argv[4])
threads = int(sys.argv[5]) if len(sys.argv) > 5 else 2
TIMEOUT = 10.0

lock = threading.Lock()
counts = {k: 0 for k in ("attempts", "ok", "refused", "reset", "unanswered", "timeout", "other")}
pids = set()
start = time.monotonic()
deadline = start + max_seconds


def once():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    try:
        try:
            s.connect(("127.0.0.1", port))
        except ConnectionRefusedError:
            return "refused", None
        data = b""
        while True:
            chunk = s.recv(256)
            if not chunk:
                break
            data += chunk
        if data.startswith(b"hello from ") and data.endswith(b"\n"):
            return "ok", data[len(b"hello from "):].strip()
        if not data:
            return "unanswered", None
        return "other", data
    except (ConnectionResetError, BrokenPipeError):
        return "reset", None
    except socket.timeout:
        return "timeout", None
    except OSError as e:
        return "other", repr(e)
    finally:
        s.close()


def worker():
    while True:
        with lock:
            if counts["attempts"] >= max_connections:
                return
            counts["attempts"] += 1
        if time.monotonic() > deadline or os.path.exists(stop_file):
            with lock:
                counts["attempts"] -= 1
            return
        kind, detail = once()
        with lock:
            counts[kind] += 1
            if kind == "ok":
                pids.add(detail)
            elif kind == "other":
                print(f"other: {detail!r}", file=sys.stderr)
        # A tight loop, but one that leaves the manager and the service some of the 2 CPUs.
        time.sleep(0.001)


ts = [threading.Thread(target=worker) for _ in range(threads)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print(" ".join(f"{k}={v}" for k, v in counts.items()) + f" servers={len(pids)} seconds={time.monotonic() - start:.1f}")
