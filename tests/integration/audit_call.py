#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""One Execute call with a bearer token, for the audit tests.

usage: audit_call.py ADDR TOKEN VERB PAYLOAD [--data]
Prints "OK <result>" or "<CODE> <message>"; with --data, prints the
response's data bytes instead (a PEM, say). Built on Debian's
python3-grpcio and the server's reflection (memctx_client.classes).
"""
import os
import sys

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from memctx_client import classes  # noqa: E402


def main():
    a = sys.argv[1:]
    if len(a) < 4:
        sys.exit(__doc__)
    addr, token, verb, payload = a[:4]
    req, resp = classes(addr)
    ch = grpc.insecure_channel(addr)
    call = ch.unary_unary("/cam.SyscallService/Execute",
                          request_serializer=lambda x: x.SerializeToString(),
                          response_deserializer=resp.FromString)
    try:
        r = call(req(verb=verb, payload=payload),
                 metadata=[("authorization", "Bearer " + token)], timeout=10)
    except grpc.RpcError as e:
        print(e.code().name, e.details())
        return 1
    if "--data" in a:
        sys.stdout.buffer.write(r.data)
    else:
        print("OK", r.result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
