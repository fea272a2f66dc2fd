#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes a gRPC request body (5-byte prefix + SyscallRequest) for h2load.

Usage: make_ping_body.py OUT [VERB] [PAYLOAD]   (default: ping, msg:hello)
Then, for example:
  h2load -n 200000 -c 16 -m 32 -d OUT -H 'content-type: application/grpc' \
    -H 'te: trailers' http://127.0.0.1:50051/cam.SyscallService/Execute
Hand-encoded (fields 1 verb and 2 payload, both strings) so it needs no
generated code.
"""
import struct
import sys


def field(num, data):
    out = bytes([num << 3 | 2])
    n = len(data)
    while n >= 0x80:
        out += bytes([n & 0x7f | 0x80])
        n >>= 7
    return out + bytes([n]) + data


def request_bytes(verb, payload):
    """A serialized SyscallRequest (no gRPC prefix)."""
    return field(1, verb.encode()) + field(2, payload.encode())


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    verb = sys.argv[2] if len(sys.argv) > 2 else 'ping'
    payload = sys.argv[3] if len(sys.argv) > 3 else 'msg:hello'
    msg = request_bytes(verb, payload)
    with open(sys.argv[1], 'wb') as f:
        f.write(struct.pack('>BI', 0, len(msg)) + msg)


if __name__ == '__main__':
    main()
