#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""TLS checks with Debian's python3-grpcio: usage tls_client.py ADDR CERT MODE.

MODE ping: one ping over TLS; big: a 3 MiB request over TLS; plain: a
cleartext call to the TLS port (must fail). Prints OK or the error."""
import os
import subprocess
import sys
import tempfile

import grpc

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
out = tempfile.mkdtemp(prefix="camtls-")
subprocess.check_call([sys.executable, "-m", "grpc_tools.protoc", "-I" + os.path.join(ROOT, "proto"),
                       "--python_out=" + out, "--grpc_python_out=" + out, "cam.proto"])
sys.path.insert(0, out)
import cam_pb2  # noqa: E402
import cam_pb2_grpc  # noqa: E402

addr, cert, mode = sys.argv[1:4]
if mode == "plain":
    channel = grpc.insecure_channel(addr)
else:
    creds = grpc.ssl_channel_credentials(root_certificates=open(cert, "rb").read())
    channel = grpc.secure_channel(addr, creds)
stub = cam_pb2_grpc.SyscallServiceStub(channel)
req = cam_pb2.SyscallRequest(verb="ping", payload="over:tls")
if mode == "big":
    req.data = b"x" * (3 * 1024 * 1024)
try:
    r = stub.Execute(req, timeout=10)
    print("OK", r.result)
except grpc.RpcError as e:
    print("ERROR", e.code().name, e.details())
