#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A grpcurl stand-in built on Debian's python3-grpcio, for tests.

It knows nothing of CAM-OS: like `grpcurl -plaintext`, it learns every
service and message from the server's reflection service, turns the JSON
given with -d into the request, and prints the response as JSON.

usage: grpcurl.py [-plaintext] [-H 'name: value']... [-d JSON] ADDR list
       grpcurl.py [-d JSON] ADDR describe SYMBOL
       grpcurl.py -d JSON ADDR SERVICE/METHOD
On an RPC error it prints "ERROR: CODE: details" and exits 1.
"""
import os
import subprocess
import sys
import tempfile

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format
from google.protobuf import message_factory

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))


def main():
    args = sys.argv[1:]
    data = None
    metadata = []
    while len(args) >= 2 and args[0] in ("-d", "-H", "-plaintext"):
        if args[0] == "-plaintext":  # grpcurl's flag; this client only speaks cleartext
            args = args[1:]
            continue
        if args[0] == "-d":
            data = args[1]
        else:
            name, _, value = args[1].partition(":")
            metadata.append((name.strip().lower(), value.strip()))
        args = args[2:]
    addr, verb = args[0], args[1]
    channel = grpc.insecure_channel(addr)
    pb2, pb2_grpc = load_reflection()
    stub = pb2_grpc.ServerReflectionStub(channel)

    def ask(**kw):
        resp = list(stub.ServerReflectionInfo(iter([pb2.ServerReflectionRequest(**kw)]), timeout=10))
        return resp[0]

    if verb == "list":
        r = ask(list_services="")
        for s in r.list_services_response.service:
            print(s.name)
        return 0
    symbol = args[2] if verb == "describe" else verb.rsplit("/", 1)[0]
    r = ask(file_containing_symbol=symbol)
    if r.HasField("error_response"):
        print("ERROR: reflection: %s" % r.error_response.error_message)
        return 1
    pool = descriptor_pool.DescriptorPool()
    protos = [descriptor_pb2.FileDescriptorProto.FromString(b)
              for b in r.file_descriptor_response.file_descriptor_proto]
    added = set()
    while len(added) < len(protos):
        for fd in protos:
            if fd.name not in added and all(d in added for d in fd.dependency):
                pool.Add(fd)
                added.add(fd.name)
    if verb == "describe":
        try:
            d = pool.FindServiceByName(symbol)
            print("%s is a service:" % symbol)
            for m in d.methods:
                print("  rpc %s(%s) returns (%s)" % (m.name, m.input_type.full_name, m.output_type.full_name))
        except KeyError:
            d = pool.FindMessageTypeByName(symbol)
            print("%s is a message:" % symbol)
            for f in d.fields:
                print("  %s = %d" % (f.name, f.number))
        return 0
    service, method = verb.rsplit("/", 1)
    m = pool.FindServiceByName(service).methods_by_name[method]
    factory = message_factory.MessageFactory(pool)
    req_cls = factory.GetPrototype(m.input_type)
    resp_cls = factory.GetPrototype(m.output_type)
    req = json_format.Parse(data or "{}", req_cls())
    call = channel.unary_unary("/%s/%s" % (service, method),
                               request_serializer=lambda x: x.SerializeToString(),
                               response_deserializer=resp_cls.FromString)
    try:
        resp = call(req, timeout=10, metadata=metadata or None)
    except grpc.RpcError as e:
        print("ERROR: %s: %s" % (e.code().name, e.details()))
        return 1
    print(json_format.MessageToJson(resp))
    return 0


def load_reflection():
    """Stubs for grpc.reflection.v1alpha, generated from our copy of the
    upstream proto. The file goes under another folder name so the module
    does not collide with the grpc package; the proto package (and so the
    method path on the wire) is unchanged."""
    import hashlib
    import shutil
    src = os.path.join(ROOT, "proto/grpc/reflection/v1alpha/reflection.proto")
    with open(src, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    # Generated once per proto version and reused; built aside, then renamed.
    out = os.path.join(tempfile.gettempdir(), "camrefl-%d-%s" % (os.getuid(), digest))
    if not os.path.isdir(out):
        work = tempfile.mkdtemp(prefix="camrefl-")
        os.makedirs(os.path.join(work, "camrefl"))
        shutil.copy(src, os.path.join(work, "camrefl/reflection.proto"))
        subprocess.check_call([sys.executable, "-m", "grpc_tools.protoc", "-I" + work,
                               "--python_out=" + work, "--grpc_python_out=" + work,
                               "camrefl/reflection.proto"])
        try:
            os.rename(work, out)
        except OSError:
            shutil.rmtree(work, ignore_errors=True)  # another run won the race
    sys.path.insert(0, out)
    from camrefl import reflection_pb2, reflection_pb2_grpc
    return reflection_pb2, reflection_pb2_grpc


if __name__ == "__main__":
    sys.exit(main())
