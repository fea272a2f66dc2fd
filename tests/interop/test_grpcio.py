# SPDX-License-Identifier: Apache-2.0
"""Interop tests with an independent Python client: Debian's grpcio.

Stubs are generated at test time from the repository's .proto files with
python3 -m grpc_tools.protoc into a temporary folder. The reflection tests
rebuild message types from the descriptors the server sends, so they use no
.proto of cam at all. Run with /usr/bin/python3 -m unittest.
"""
import concurrent.futures
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
SERVER_BIN = os.environ.get('CAM_GRPC_SERVER_BIN') or os.path.join(
    ROOT, 'build', 'tests', 'tools', 'grpc_test_server')
PROTOS = ['cam.proto', 'grpc/health/v1/health.proto',
          'grpc/reflection/v1/reflection.proto']
SERVICES = {'cam.SyscallService', 'grpc.health.v1.Health',
            'grpc.reflection.v1.ServerReflection',
            'grpc.reflection.v1alpha.ServerReflection'}

_gen_dir = tempfile.mkdtemp(prefix='cam-grpcio-')
subprocess.run([sys.executable, '-m', 'grpc_tools.protoc',
                '-I' + os.path.join(ROOT, 'proto'),
                '--python_out=' + _gen_dir, '--grpc_python_out=' + _gen_dir]
               + PROTOS, check=True)
for sub in ('grpc', 'grpc/health', 'grpc/health/v1', 'grpc/reflection',
            'grpc/reflection/v1'):
    open(os.path.join(_gen_dir, sub, '__init__.py'), 'a').close()
# The generated "grpc" package would shadow grpcio: load the modules by path.
import importlib.util  # noqa: E402


def _load(name, rel):
    spec = importlib.util.spec_from_file_location(name, os.path.join(_gen_dir, rel))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


sys.path.insert(0, _gen_dir)
cam_pb2 = _load('cam_pb2', 'cam_pb2.py')
cam_pb2_grpc = _load('cam_pb2_grpc', 'cam_pb2_grpc.py')
health_pb2 = _load('health_pb2', 'grpc/health/v1/health_pb2.py')
refl_pb2 = _load('reflection_pb2', 'grpc/reflection/v1/reflection_pb2.py')
sys.path.remove(_gen_dir)


class Server:
    """The server under test on a free loopback port, killed by PID."""
    serial = 0

    def __init__(self, host='127.0.0.1', extra=()):
        listen = '[%s]:0' % host if ':' in host else '%s:0' % host
        Server.serial += 1
        # A bus address of its own, for servers that publish (cam-kernel).
        # and a data directory of its own (cam-kernel's durable store).
        env = dict(os.environ, CAM_GRPC_LISTEN=listen,
                   CAM_BUS_ADDR='ipc://%s/bus-%d.ipc' % (_gen_dir, Server.serial),
                   CAM_DATA_DIR='%s/data-%d' % (_gen_dir, Server.serial))
        self.proc = subprocess.Popen([SERVER_BIN, '--grpc-listen', listen] + list(extra),
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env=env)
        deadline = time.time() + 10
        out = b''
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            out += line
            # "listening on HOST:PORT" (grpc_test_server) or a JSON log
            # line with "grpc_port" (cam-kernel).
            m = re.search(rb'listening on \S+:(\d+)', line) or re.search(rb'"grpc_port":\s*(\d+)', line)
            if m:
                port = int(m.group(1))
                self.host, self.port = host, port
                self.addr = '[%s]:%d' % (host, port) if ':' in host else '%s:%d' % (host, port)
                threading.Thread(target=self._drain, daemon=True).start()
                return
        self.stop()
        raise RuntimeError('server did not start: %r' % out)

    def _drain(self):
        for _ in self.proc.stdout:
            pass

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()


def _rpc(channel, path, req_cls=None, resp_cls=None):
    return channel.unary_unary(
        path,
        request_serializer=(lambda m: m.SerializeToString()) if req_cls is None else req_cls.SerializeToString,
        response_deserializer=resp_cls.FromString if resp_cls else (lambda b: b))


class GrpcioInterop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()
        cls.channel = grpc.insecure_channel(cls.srv.addr)
        cls.stub = cam_pb2_grpc.SyscallServiceStub(cls.channel)
        # grpc_test_server has verbs for tests (sleep, big, stats); cam-kernel
        # may not: the tests that need them check what they can without.
        try:
            cls.stub.Execute(cam_pb2.SyscallRequest(verb='stats'), timeout=10)
            cls.test_verbs = True
        except grpc.RpcError:
            cls.test_verbs = False

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.srv.stop()

    def ping(self, payload='k:v', stub=None, **kw):
        r = (stub or self.stub).Execute(cam_pb2.SyscallRequest(verb='ping', payload=payload),
                                        timeout=10, **kw)
        self.assertTrue(r.success)
        return r.result

    def assertCode(self, code, fn, *a, **kw):
        with self.assertRaises(grpc.RpcError) as cm:
            fn(*a, **kw)
        self.assertEqual(cm.exception.code(), code, cm.exception.details())

    def test_ping(self):
        self.assertEqual(self.ping('msg:hello,labels:app=x,env=y'), 'msg:hello,labels:app=x,env=y')

    def test_unknown_verb(self):
        self.assertCode(grpc.StatusCode.UNIMPLEMENTED, self.stub.Execute,
                        cam_pb2.SyscallRequest(verb='nope'), timeout=10)

    def test_unknown_method(self):
        m = self.channel.unary_unary('/cam.SyscallService/NoSuchMethod')
        self.assertCode(grpc.StatusCode.UNIMPLEMENTED, m, b'', timeout=10)

    def test_health_check(self):
        check = _rpc(self.channel, '/grpc.health.v1.Health/Check',
                     health_pb2.HealthCheckRequest, health_pb2.HealthCheckResponse)
        serving = health_pb2.HealthCheckResponse.SERVING
        self.assertEqual(check(health_pb2.HealthCheckRequest(service=''), timeout=10).status, serving)
        self.assertEqual(check(health_pb2.HealthCheckRequest(service='cam.SyscallService'),
                               timeout=10).status, serving)
        self.assertCode(grpc.StatusCode.NOT_FOUND, check,
                        health_pb2.HealthCheckRequest(service='no.Such'), timeout=10)

    def reflect(self, requests, version='v1'):
        call = self.channel.stream_stream(
            '/grpc.reflection.%s.ServerReflection/ServerReflectionInfo' % version,
            request_serializer=refl_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=refl_pb2.ServerReflectionResponse.FromString)
        return list(call(iter(requests), timeout=10))

    def test_reflection_list(self):
        for version in ('v1', 'v1alpha'):
            resp = self.reflect([refl_pb2.ServerReflectionRequest(list_services='')], version)
            self.assertEqual(len(resp), 1)
            names = {s.name for s in resp[0].list_services_response.service}
            self.assertTrue(SERVICES <= names, names)

    def test_reflection_several_requests_one_stream(self):
        resp = self.reflect([
            refl_pb2.ServerReflectionRequest(list_services=''),
            refl_pb2.ServerReflectionRequest(file_by_filename='cam.proto'),
            refl_pb2.ServerReflectionRequest(file_containing_symbol='no.Such'),
            refl_pb2.ServerReflectionRequest(all_extension_numbers_of_type='cam.SyscallRequest'),
            refl_pb2.ServerReflectionRequest(
                file_containing_extension=refl_pb2.ExtensionRequest(
                    containing_type='cam.SyscallRequest', extension_number=100)),
        ])
        self.assertEqual([r.WhichOneof('message_response') for r in resp],
                         ['list_services_response', 'file_descriptor_response',
                          'error_response', 'all_extension_numbers_response',
                          'error_response'])
        self.assertEqual(resp[2].error_response.error_code, grpc.StatusCode.NOT_FOUND.value[0])
        self.assertEqual(resp[1].original_request.file_by_filename, 'cam.proto')

    def load_by_reflection(self, symbol):
        resp = self.reflect([refl_pb2.ServerReflectionRequest(file_containing_symbol=symbol)])
        pool = descriptor_pool.DescriptorPool()
        files = [descriptor_pb2.FileDescriptorProto.FromString(b)
                 for b in resp[0].file_descriptor_response.file_descriptor_proto]
        added = set()
        while len(added) < len(files):  # dependencies first
            for f in files:
                if f.name not in added and all(d in added for d in f.dependency):
                    pool.Add(f)
                    added.add(f.name)
        return pool

    def test_reflection_describe_and_invoke(self):
        pool = self.load_by_reflection('cam.SyscallService')
        svc = pool.FindServiceByName('cam.SyscallService')
        self.assertEqual({m.name for m in svc.methods}, {'Execute', 'HealthCheck'})
        req_desc = pool.FindMessageTypeByName('cam.SyscallRequest')
        self.assertEqual([(f.name, f.number) for f in req_desc.fields][:3],
                         [('verb', 1), ('payload', 2), ('caller_id', 3)])
        factory = message_factory.MessageFactory(pool)
        req_cls = factory.GetPrototype(req_desc)
        resp_cls = factory.GetPrototype(svc.FindMethodByName('Execute').output_type)
        execute = _rpc(self.channel, '/cam.SyscallService/Execute', req_cls, resp_cls)
        r = execute(req_cls(verb='ping', payload='dyn:1'), timeout=10)
        self.assertEqual(r.result, 'dyn:1')

    def test_too_large(self):
        self.assertCode(grpc.StatusCode.RESOURCE_EXHAUSTED, self.stub.Execute,
                        cam_pb2.SyscallRequest(verb='ping', data=b'x' * (5 << 20)), timeout=10)
        self.ping()

    def test_large_both_ways(self):
        r = self.stub.Execute(cam_pb2.SyscallRequest(verb='ping', data=b'y' * (3 << 20)), timeout=10)
        self.assertTrue(r.success)
        if self.test_verbs:
            self.assertEqual(len(r.data), 3 << 20)
            r = self.stub.Execute(cam_pb2.SyscallRequest(verb='big', payload=str(3 << 20)),
                                  timeout=10)
            self.assertEqual(len(r.data), 3 << 20)

    def test_gzip(self):
        r = self.stub.Execute(cam_pb2.SyscallRequest(verb='ping', payload='g:' + 'z' * 5000),
                              timeout=10, compression=grpc.Compression.Gzip)
        self.assertEqual(len(r.result), 5002)

    def test_deadline(self):
        if not self.test_verbs:
            self.assertCode(grpc.StatusCode.DEADLINE_EXCEEDED, self.stub.Execute,
                            cam_pb2.SyscallRequest(verb='ping'), timeout=-1)
            self.ping()
            return
        self.assertCode(grpc.StatusCode.DEADLINE_EXCEEDED, self.stub.Execute,
                        cam_pb2.SyscallRequest(verb='sleep', payload='2000'), timeout=0.1)
        self.ping()

    def test_1000_concurrent_streams(self):
        futs = [self.stub.Execute.future(cam_pb2.SyscallRequest(verb='ping', payload='i:%d' % i),
                                         timeout=30) for i in range(1000)]
        self.assertEqual([f.result().result for f in futs], ['i:%d' % i for i in range(1000)])

    def stats(self):
        r = self.stub.Execute(cam_pb2.SyscallRequest(verb='stats'), timeout=10)
        return dict(kv.split(':') for kv in r.result.split(','))

    def test_cancel(self):
        if not self.test_verbs:
            futs = [self.stub.Execute.future(cam_pb2.SyscallRequest(verb='ping'), timeout=10)
                    for _ in range(50)]
            for f in futs:
                f.cancel()
            self.ping()
            return
        f = self.stub.Execute.future(cam_pb2.SyscallRequest(verb='sleep', payload='3000'), timeout=10)
        time.sleep(0.2)
        self.assertTrue(f.cancel())
        for _ in range(50):
            if self.stats()['streams'] == '1':  # the stats call itself
                break
            time.sleep(0.1)
        self.assertEqual(self.stats()['streams'], '1')
        self.ping()

    def raw_closed(self, data):
        with socket.create_connection((self.srv.host, self.srv.port), timeout=3) as s:
            s.sendall(data)
            while s.recv(4096):
                pass  # until the server closes (a timeout raises)

    def test_garbage(self):
        self.raw_closed(os.urandom(256) + b'\r\n\r\n')
        self.ping()

    def test_http1(self):
        self.raw_closed(b'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n')
        self.ping()

    def test_ipv6(self):
        s6 = Server('::1')
        try:
            with grpc.insecure_channel(s6.addr) as ch:
                self.assertEqual(self.ping('v:6', stub=cam_pb2_grpc.SyscallServiceStub(ch)), 'v:6')
        finally:
            s6.stop()

    def test_sigterm_under_load(self):
        s = Server(extra=['--drain-ms', '3000'] if self.test_verbs else [])
        try:
            with grpc.insecure_channel(s.addr) as ch:
                stub = cam_pb2_grpc.SyscallServiceStub(ch)
                self.ping(stub=stub)
                if not self.test_verbs:
                    # Every call is answered OK, or refused as UNAVAILABLE
                    # when it came after the GOAWAY; nothing else.
                    futs = [stub.Execute.future(cam_pb2.SyscallRequest(verb='ping'), timeout=10)
                            for _ in range(500)]
                    s.proc.send_signal(signal.SIGTERM)
                    for f in futs:
                        try:
                            f.result()
                        except grpc.RpcError as e:
                            self.assertEqual(e.code(), grpc.StatusCode.UNAVAILABLE, e.details())
                    self.assertEqual(s.proc.wait(timeout=10), 0)
                    return
                futs = [stub.Execute.future(cam_pb2.SyscallRequest(verb='sleep', payload='300'),
                                            timeout=10) for _ in range(4)]
                time.sleep(0.1)
                s.proc.send_signal(signal.SIGTERM)
                self.assertEqual([f.result().result for f in futs], ['slept'] * 4)
                self.assertEqual(s.proc.wait(timeout=5), 0)
        finally:
            s.stop()


def tearDownModule():
    shutil.rmtree(_gen_dir, ignore_errors=True)


if __name__ == '__main__':
    unittest.main()
