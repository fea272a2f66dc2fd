#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A raw HTTP/2 client for tests: sends exactly the frames a test names
(hyperframe, hpack from Debian's python3-h2) and reads what comes back, so
a test can play a hostile or odd client that no gRPC library would be."""
import socket
import struct
import time

from hpack import Decoder, Encoder
from hyperframe.frame import (ContinuationFrame, DataFrame, Frame, GoAwayFrame,
                              HeadersFrame, PingFrame, PriorityFrame,
                              RstStreamFrame, SettingsFrame, WindowUpdateFrame)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
ERR = {0: "NO_ERROR", 1: "PROTOCOL_ERROR", 2: "INTERNAL_ERROR",
       3: "FLOW_CONTROL_ERROR", 4: "SETTINGS_TIMEOUT", 5: "STREAM_CLOSED",
       6: "FRAME_SIZE_ERROR", 7: "REFUSED_STREAM", 8: "CANCEL",
       9: "COMPRESSION_ERROR", 10: "CONNECT_ERROR", 11: "ENHANCE_YOUR_CALM",
       12: "INADEQUATE_SECURITY", 13: "HTTP_1_1_REQUIRED"}


class Conn:
    def __init__(self, port, host="127.0.0.1", timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.enc, self.dec = Encoder(), Decoder()
        self.buf = b""
        self.closed = False
        self.settings = {}
        self.timeout = timeout
        self.conn_window_granted = 0  # WINDOW_UPDATE on stream 0 seen in the handshake

    def send(self, *frames):
        self.sock.sendall(b"".join(f.serialize() if isinstance(f, Frame) else f
                                   for f in frames))

    def handshake(self, settings=None):
        """Preface and SETTINGS, then waits for the server's SETTINGS and
        the ACK of ours."""
        self.send(PREFACE, SettingsFrame(0, settings=settings or {}))
        got_settings = got_ack = False
        while not (got_settings and got_ack):
            f = self.recv_frame()
            if f is None:
                raise RuntimeError("connection closed during handshake")
            if isinstance(f, WindowUpdateFrame) and f.stream_id == 0:
                self.conn_window_granted += f.window_increment
            if isinstance(f, SettingsFrame):
                if "ACK" in f.flags:
                    got_ack = True
                else:
                    self.settings.update(f.settings)
                    self.send(SettingsFrame(0, flags=["ACK"]))
                    got_settings = True

    def headers(self, stream_id, headers, end_stream=True, end_headers=True):
        f = HeadersFrame(stream_id, self.enc.encode(headers))
        if end_headers:
            f.flags.add("END_HEADERS")
        if end_stream:
            f.flags.add("END_STREAM")
        return f

    def request(self, stream_id, path="/", method="GET", extra=(), **kw):
        h = [(":method", method), (":scheme", "http"), (":path", path),
             (":authority", "127.0.0.1")] + list(extra)
        return self.headers(stream_id, h, **kw)

    def grpc_request(self, stream_id, path="/cam.SyscallService/Execute", extra=(), **kw):
        return self.request(stream_id, path, "POST",
                            [("content-type", "application/grpc"), ("te", "trailers")]
                            + list(extra), **kw)

    def buffered_frame(self):
        """Whether a whole frame is already read and waits in the buffer."""
        return len(self.buf) >= 9 and len(self.buf) >= 9 + int.from_bytes(self.buf[:3], "big")

    def recv_frame(self, timeout=None):
        """The next frame, or None once the connection is closed; raises
        socket.timeout when nothing comes in time."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while True:
            if len(self.buf) >= 9:
                length = int.from_bytes(self.buf[:3], "big")
                if len(self.buf) >= 9 + length:
                    f, length = Frame.parse_frame_header(memoryview(self.buf[:9]))
                    f.parse_body(memoryview(self.buf[9:9 + length]))
                    self.buf = self.buf[9 + length:]
                    if isinstance(f, (HeadersFrame, ContinuationFrame)):
                        f.decoded = self.dec.decode(f.data) if isinstance(f, HeadersFrame) else None
                    return f
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout()
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.closed = True
                return None
            self.buf += chunk

    def frames(self, timeout=1.0):
        """Every frame until the connection closes or timeout passes quietly."""
        out = []
        while True:
            try:
                f = self.recv_frame(timeout)
            except socket.timeout:
                return out
            if f is None:
                return out
            out.append(f)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def grpc_message(payload: bytes) -> bytes:
    return b"\x00" + struct.pack(">I", len(payload)) + payload


def pb_string(field, s):
    b = s if isinstance(s, bytes) else s.encode()
    return bytes([field << 3 | 2]) + _varint(len(b)) + b


def _varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def execute_body(verb, payload=b"", caller=None, data=None):
    """A cam.SyscallRequest as a gRPC message (fields 1-3 fixed, 4 = data)."""
    msg = pb_string(1, verb) + pb_string(2, payload)
    if caller is not None:
        msg += pb_string(3, caller)
    if data is not None:
        msg += pb_string(4, data)
    return grpc_message(msg)
