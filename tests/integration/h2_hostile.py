#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Hostile HTTP/2 clients for the tests (raw frames, h2raw.py).

  window0 PORT N PAYLOAD        one connection with a flow-control window of 0
                                sends N Execute(context_read) calls and never
                                reads an answer; prints what the server did
  unfinished PORT CONNS MSGS SIZE HOLD [NAME=VALUE ...]
                                CONNS connections each start MSGS messages of
                                SIZE bytes, send all but the last byte (as flow
                                control allows), then hold for HOLD seconds;
                                prints the refusals seen
  silent PORT N HOLD            N connections that never send the preface;
                                prints how many the server closed, and when

Every loop is bounded in count and time. Output: one JSON object per line.
"""
import json
import select
import selectors
import socket
import sys
import time

from h2raw import (ERR, Conn, DataFrame, GoAwayFrame, HeadersFrame, RstStreamFrame,
                   SettingsFrame, WindowUpdateFrame, execute_body)


def say(**kw):
    print(json.dumps(kw), flush=True)


def window0(port, n, payload):
    c = Conn(int(port), timeout=10)
    c.handshake({4: 0})  # SETTINGS_INITIAL_WINDOW_SIZE = 0: no DATA may come
    body = execute_body("context_read", payload.encode())
    sent = 0
    t0 = time.monotonic()
    goaway = None
    refused = 0
    try:
        for i in range(int(n)):
            sid = 1 + 2 * i
            c.send(c.grpc_request(sid, end_stream=False), DataFrame(sid, body, flags=["END_STREAM"]))
            sent += 1
            # Read what came without blocking, as a client that only reads frames
            # (never DATA: the window is 0) would.
            while c.buffered_frame() or select.select([c.sock], [], [], 0)[0]:
                f = c.recv_frame(1)
                if f is None:
                    raise ConnectionError()
                if isinstance(f, GoAwayFrame):
                    goaway = ERR.get(f.error_code, f.error_code)
                if isinstance(f, RstStreamFrame):
                    refused += 1
            if goaway:
                break
    except (ConnectionError, BrokenPipeError, ConnectionResetError, OSError):
        pass
    deadline = time.monotonic() + 10
    while not c.closed and time.monotonic() < deadline:
        try:
            f = c.recv_frame(max(0.1, deadline - time.monotonic()))
        except socket.timeout:
            break
        except OSError:
            break
        if isinstance(f, GoAwayFrame):
            goaway = ERR.get(f.error_code, f.error_code)
        if isinstance(f, RstStreamFrame):
            refused += 1
    say(sent=sent, goaway=goaway, refused_streams=refused, closed=c.closed,
        seconds=round(time.monotonic() - t0, 2))


class Sender:
    """A connection that sends message bodies as the server's flow control allows."""

    def __init__(self, port, headers):
        self.c = Conn(int(port), timeout=10)
        self.c.handshake()
        self.conn_window = 65535 + self.c.conn_window_granted
        self.init_window = self.c.settings.get(4, 65535)
        self.windows = {}
        self.left = {}
        self.headers = headers
        self.refusals = []
        self.closed = False

    def start(self, sid, size):
        self.c.send(self.c.grpc_request(sid, extra=self.headers, end_stream=False))
        self.windows[sid] = self.init_window
        prefix = b"\x00" + size.to_bytes(4, "big")
        self.left[sid] = [prefix, size - 1]  # header bytes to send, then body bytes

    def pump(self, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.closed:
            progressed = self.send_some()
            self.read_some(0 if progressed else 0.05)

    def send_some(self):
        progressed = False
        for sid, (prefix, body) in list(self.left.items()):
            if sid not in self.windows:
                continue
            room = min(self.windows[sid], self.conn_window, 16384)
            if room <= 0:
                continue
            chunk = prefix[:room]
            room -= len(chunk)
            k = min(room, body)
            data = chunk + b"x" * k
            if not data:
                del self.left[sid]
                continue
            try:
                self.c.send(DataFrame(sid, data))
            except OSError:
                self.closed = True
                return False
            self.windows[sid] -= len(data)
            self.conn_window -= len(data)
            self.left[sid] = [prefix[len(chunk):], body - k]
            progressed = True
        return progressed

    def read_some(self, wait):
        while not self.closed and (self.c.buffered_frame() or
                                   select.select([self.c.sock], [], [], wait)[0]):
            wait = 0
            try:
                f = self.c.recv_frame(1)
            except (socket.timeout, OSError):
                return
            if f is None:
                self.closed = True
                return
            if isinstance(f, WindowUpdateFrame):
                if f.stream_id == 0:
                    self.conn_window += f.window_increment
                elif f.stream_id in self.windows:
                    self.windows[f.stream_id] += f.window_increment
            elif isinstance(f, RstStreamFrame):
                self.windows.pop(f.stream_id, None)
                self.left.pop(f.stream_id, None)
            elif isinstance(f, HeadersFrame):
                h = dict(f.decoded)
                if "grpc-status" in h:
                    self.refusals.append("%s %s" % (h.get("grpc-status"), h.get("grpc-message", "")))
                    self.windows.pop(f.stream_id, None)
                    self.left.pop(f.stream_id, None)
            elif isinstance(f, GoAwayFrame):
                self.refusals.append("GOAWAY " + ERR.get(f.error_code, str(f.error_code)))


def unfinished(port, conns, msgs, size, hold, *hdrs):
    headers = [tuple(h.split("=", 1)) for h in hdrs]
    senders = [Sender(port, headers) for _ in range(int(conns))]
    for s in senders:
        for m in range(int(msgs)):
            s.start(1 + 2 * m, int(size))
    deadline = time.monotonic() + float(hold)
    while time.monotonic() < deadline:
        for s in senders:
            s.pump(0.05)
    refusals = [r for s in senders for r in s.refusals]
    say(connections=len(senders), refusals=len(refusals),
        kinds=sorted(set(r.split(" ", 1)[1] if " " in r else r for r in refusals)),
        bytes_left=sum(b for s in senders for (_p, b) in s.left.values()))


def silent(port, n, hold):
    socks = []
    t0 = time.monotonic()
    for _ in range(int(n)):
        try:
            socks.append(socket.create_connection(("127.0.0.1", int(port)), timeout=5))
        except OSError:
            break
    opened = len(socks)
    closed_at = []
    sel = selectors.DefaultSelector()  # epoll: no FD_SETSIZE limit
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    live = len(socks)
    deadline = t0 + float(hold)
    while live and time.monotonic() < deadline:
        for key, _ev in sel.select(0.2):
            s = key.fileobj
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if not data:
                closed_at.append(time.monotonic() - t0)
                sel.unregister(s)
                s.close()
                live -= 1
    say(opened=opened, closed=len(closed_at), still_open=live,
        last_closed_s=round(max(closed_at), 2) if closed_at else None)
    for key in list(sel.get_map().values()):
        key.fileobj.close()


if __name__ == "__main__":
    {"window0": window0, "unfinished": unfinished, "silent": silent}[sys.argv[1]](*sys.argv[2:])
