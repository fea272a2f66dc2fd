#!/usr/bin/python3
"""Decodes a delimited io.prometheus.client.MetricFamily stream with an
independent decoder: Debian's python3-protobuf, with our schema compiled
by protoc into a temporary folder. Prints each message in protobuf text
format, one blank line between messages, so a test can compare it field by
field with what it expects; exits 1 on anything left over or undecodable.

usage: decode_metrics_pb.py FILE [SCHEMA]

SPDX-License-Identifier: Apache-2.0
"""
import importlib
import os
import subprocess
import sys
import tempfile

from google.protobuf import text_format
from google.protobuf.internal.decoder import _DecodeVarint32


def load_schema(schema):
    out = tempfile.mkdtemp(prefix="cam-pb-")
    subprocess.run(["protoc", "--proto_path=" + os.path.dirname(schema),
                    "--python_out=" + out, schema], check=True)
    sys.path.insert(0, out)
    return importlib.import_module(os.path.basename(schema)[:-6] + "_pb2")


def decode(data, pb):
    pos, families = 0, []
    while pos < len(data):
        size, pos = _DecodeVarint32(data, pos)
        if pos + size > len(data):
            raise ValueError("message of %d bytes past the end at %d" % (size, pos))
        mf = pb.MetricFamily()
        mf.ParseFromString(data[pos:pos + size])
        families.append(mf)
        pos += size
    return families


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    schema = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        here, "..", "..", "proto", "prometheus", "metrics.proto")
    pb = load_schema(os.path.abspath(schema))
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    try:
        families = decode(data, pb)
    except Exception as e:  # noqa: BLE001 - any decode failure fails the test
        print("decode error: %s" % e)
        return 1
    print("\n".join(text_format.MessageToString(mf) for mf in families), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
