#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Runs one program as systemd would with Type=notify and checks what it says.

usage: sd_notify_check.py HOST PORT CMD...

Listens on a unix datagram socket given to CMD as NOTIFY_SOCKET (and asks
for watchdog pings with WATCHDOG_USEC), then checks:
  - READY=1 arrives, and at that moment HOST:PORT accepts a TCP connection;
  - WATCHDOG=1 pings keep coming at about half of WATCHDOG_USEC;
  - after SIGTERM, STOPPING=1 arrives and CMD exits with status 0.
Prints one "ok"/"FAIL" line per check; exits 1 if any failed.
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

WATCHDOG_USEC = 400000


def connectable(host, port):
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def receive(sock, proc, deadline):
    """Next datagram as a list of lines, or None at the deadline/exit."""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, min(0.2, deadline - time.monotonic())))
        try:
            data = sock.recv(4096)
        except socket.timeout:
            if proc.poll() is not None:
                return None
            continue
        return data.decode("utf-8", "replace").split("\n")
    return None


def main():
    host, port, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    failed = 0

    def check(ok, what):
        nonlocal failed
        print(("      ok   " if ok else "      FAIL ") + what, flush=True)
        failed += 0 if ok else 1

    tmp = tempfile.mkdtemp(prefix="cam-notify-")
    path = os.path.join(tmp, "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC=str(WATCHDOG_USEC))
    env.pop("WATCHDOG_PID", None)
    name = os.path.basename(cmd[0])
    check(not connectable(host, port), f"{name}: port {port} closed before start")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(tmp, "log"), "w"))
    try:
        ready = port_up = False
        status = None
        pings = 0
        deadline = time.monotonic() + 15
        while not ready:
            lines = receive(sock, proc, deadline)
            if lines is None:
                break
            if "READY=1" in lines:
                ready = True
                port_up = connectable(host, port)
            for line in lines:
                if line.startswith("STATUS="):
                    status = line[7:]
        check(ready, f"{name}: READY=1 sent (STATUS={status!r})")
        check(port_up, f"{name}: port {port} accepts connections when READY=1 arrives")

        # Pings at half the period: about 5 in 1.2 s after READY (the first
        # one comes at once).
        deadline = time.monotonic() + 1.2
        while True:
            lines = receive(sock, proc, deadline)
            if lines is None:
                break
            pings += lines.count("WATCHDOG=1")
        check(3 <= pings <= 8, f"{name}: {pings} WATCHDOG=1 pings in 1.2 s at WATCHDOG_USEC={WATCHDOG_USEC}")

        proc.send_signal(signal.SIGTERM)
        stopping = False
        deadline = time.monotonic() + 15
        while not stopping:
            lines = receive(sock, proc, deadline)
            if lines is None:
                break
            stopping = "STOPPING=1" in lines
        check(stopping, f"{name}: STOPPING=1 sent on SIGTERM")
        try:
            rc = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            rc = None
        check(rc == 0, f"{name}: exits 0 after SIGTERM (status {rc})")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if failed:
            with open(os.path.join(tmp, "log")) as f:
                sys.stdout.write(f.read()[-3000:])
        os.unlink(path)
        os.unlink(os.path.join(tmp, "log"))
        os.rmdir(tmp)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
