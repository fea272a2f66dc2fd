# SPDX-License-Identifier: Apache-2.0
"""Connections and calls: bearer tokens, TLS, client certificates, the
environment, traceparent, 100 concurrent asyncio calls, retries across a
kernel restart, waiting until ready. The client-certificate identities
are the kernel's CAM_TLS_CLIENT_CA_FILE, CAM_TLS_CLIENT_AUTH and
CAM_TLS_TRUST_DOMAIN (spiffe://<domain>/agent/<caller>).
"""
import asyncio
import os
import subprocess
import sys
import threading
import time
import unittest

import camos
import camos.aio
import kernel
from kernel import Pki
from support import Scenarios, both_clients

HERE = os.path.dirname(os.path.abspath(__file__))


@both_clients
class Credentials(Scenarios):
    @classmethod
    def setUpClass(cls):
        cls.auth = kernel.auth_kernel()
        cls.tls = kernel.tls_kernel()
        cls.pki = kernel.pki()

    async def test_bearer_token(self):
        w = await self.client(self.auth.address, token=kernel.ADMIN_TOKEN).whoami()
        self.assertEqual((w.caller_id, w.authenticated), ("admin-1", True))
        self.assertIn("admin", w.scopes)

    async def test_token_file(self):
        path = os.path.join(kernel.TMP, "reader.token")
        with open(path, "w") as f:
            f.write(kernel.READER_TOKEN + "\n")
        w = await self.client(self.auth.address, token_file=path).whoami()
        self.assertEqual((w.caller_id, w.scopes), ("reader-1", ("read",)))

    async def test_tls_with_token(self):
        cam = self.client(self.tls.address, token=kernel.ADMIN_TOKEN,
                          ca_file=self.pki.path("ca.pem"), server_name=Pki.SERVER_NAME)
        self.assertEqual((await cam.whoami()).caller_id, "admin-1")

    async def test_tls_refuses_an_unknown_ca_and_a_wrong_name(self):
        other = self.client(self.tls.address, token=kernel.ADMIN_TOKEN,
                            ca_file=self.pki.path("other-ca.pem"),
                            server_name=Pki.SERVER_NAME, retry=camos.NO_RETRY)
        with self.assertRaises(camos.UnavailableError):
            await other.ping()
        wrong = self.client(self.tls.address, token=kernel.ADMIN_TOKEN,
                            ca_file=self.pki.path("ca.pem"), retry=camos.NO_RETRY)
        with self.assertRaises(camos.UnavailableError):  # 127.0.0.1 is not cam.test
            await wrong.ping()
        plain = self.client(self.tls.address, token=kernel.ADMIN_TOKEN, retry=camos.NO_RETRY)
        with self.assertRaises(camos.UnavailableError):
            await plain.ping()

    async def test_client_certificate_identifies_the_caller(self):
        cam = self.client(self.tls.address, ca_file=self.pki.path("ca.pem"),
                          cert_file=self.pki.path("client.pem"),
                          key_file=self.pki.path("client-key.pem"),
                          server_name=Pki.SERVER_NAME)
        w = await cam.whoami()
        self.assertEqual((w.caller_id, w.authenticated, w.identified_by),
                         (Pki.CLIENT, True, "certificate"))

    async def test_environment(self):
        env = {"CAM_GRPC_LISTEN": "0.0.0.0:%d" % self.tls.port, "CAM_TOKEN": kernel.ADMIN_TOKEN,
               "CAM_TLS_CA_FILE": self.pki.path("ca.pem"),
               "CAM_TLS_SERVER_NAME": Pki.SERVER_NAME}
        saved = {k: os.environ.get(k) for k in list(env) + ["CAM_ADDR"]}
        os.environ.update(env)
        os.environ.pop("CAM_ADDR", None)
        try:
            cam = self.client(None)
            self.assertEqual(cam.address, "127.0.0.1:%d" % self.tls.port)
            self.assertEqual((await cam.whoami()).caller_id, "admin-1")
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


class ClientCertificateRequired(unittest.IsolatedAsyncioTestCase):
    """CAM_TLS_CLIENT_AUTH=require: no certificate, no connection."""

    @classmethod
    def setUpClass(cls):
        cls.pki = kernel.pki()
        cls.k = kernel.mtls_kernel()

    async def test_refused_without_a_certificate(self):
        async with camos.aio.Client(self.k.address, ca_file=self.pki.path("ca.pem"),
                                    server_name=Pki.SERVER_NAME, retry=camos.NO_RETRY) as cam:
            with self.assertRaises(camos.UnavailableError):
                await cam.ping()
        async with camos.aio.Client(self.k.address, ca_file=self.pki.path("ca.pem"),
                                    cert_file=self.pki.path("client.pem"),
                                    key_file=self.pki.path("client-key.pem"),
                                    server_name=Pki.SERVER_NAME) as cam:
            self.assertEqual((await cam.whoami()).caller_id, Pki.CLIENT)


class Concurrency(unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls):
        cls.k = kernel.main_kernel()  # 16 workers

    async def test_100_concurrent_calls(self):
        async with camos.aio.Client(self.k.address) as cam:
            t0 = time.monotonic()
            # 100 calls of 50 ms each: 5 s one after another, about 0.35 s
            # when they are all in flight at once on 16 workers.
            rs = await asyncio.gather(*(cam.ping({"i": i}, delay_ms=50) for i in range(100)))
            took = time.monotonic() - t0
        self.assertEqual([r.echo["i"] for r in rs], [str(i) for i in range(100)])
        self.assertEqual(len({r.request_id for r in rs}), 100)
        self.assertLess(took, 2.5, "the calls did not run concurrently")


class Traceparent(unittest.TestCase):
    """With an OpenTelemetry span current, calls carry its traceparent and
    the kernel's span joins that trace. opentelemetry-api is neither in
    Debian nor reachable here, so otel_standin/ provides the calls
    camos.tracing makes (same names and types); run in a child process so
    only that process sees it."""

    def test_kernel_joins_the_agents_trace(self):
        k = kernel.main_kernel()
        env = dict(os.environ, PYTHONPATH=os.path.join(HERE, "otel_standin"))
        out = subprocess.run([sys.executable, os.path.join(HERE, "traceparent_check.py"),
                              k.address], env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("joined", out.stdout)


class Retries(unittest.TestCase):
    """A kernel restarted on the same port while calls are failing."""

    def setUp(self):
        self.k = kernel.Kernel(port=kernel.free_port()).start()
        self.addCleanup(self.k.stop)
        self.retries = []
        policy = camos.RetryPolicy(max_attempts=60, initial_backoff=0.05, max_backoff=0.25,
                                   on_retry=lambda n, e, d: self.retries.append(e.code))
        self.cam = camos.Client(self.k.address, retry=policy, timeout=20)
        self.addCleanup(self.cam.close)

    def call_during_restart(self, fn):
        """Stops the kernel, runs fn in a thread, starts the kernel again
        (from this thread: see kernel.py) a second later; fn's outcome."""
        first = self.cam.observe().instance_id
        self.k.stop()
        box = {}

        def run():
            try:
                box["result"] = fn()
            except Exception as e:  # handed to the test below
                box["error"] = e
        t = threading.Thread(target=run)
        t.start()
        time.sleep(1.0)
        self.k.start()
        t.join(30)
        box["retries"] = list(self.retries)  # before observe() below adds its own
        if "error" in box and not isinstance(box["error"], camos.UnavailableError):
            raise box["error"]
        self.assertNotEqual(self.cam.observe().instance_id, first)
        return box

    def test_idempotent_call_survives_a_restart(self):
        box = self.call_during_restart(lambda: self.cam.ping({"after": "restart"}))
        self.assertEqual(dict(box["result"].echo), {"after": "restart"})
        self.assertGreaterEqual(len(box["retries"]), 1)
        self.assertEqual(set(box["retries"]), {camos.Status.UNAVAILABLE})

    def test_compare_and_set_write_is_retried(self):
        box = self.call_during_restart(
            lambda: self.cam.context_write("retry-ns", "fresh", "v", expected_version=0))
        self.assertEqual(box["result"].size, 1)
        self.assertGreaterEqual(len(box["retries"]), 1)

    def test_plain_write_is_never_sent_twice(self):
        box = self.call_during_restart(lambda: self.cam.context_write("retry-ns", "k", "v"))
        self.assertIsInstance(box.get("error"), camos.UnavailableError)
        self.assertEqual(box["retries"], [])


class WaitUntilReady(unittest.TestCase):
    def test_waits_for_a_kernel_that_starts_later(self):
        k = kernel.Kernel(port=kernel.free_port())
        self.addCleanup(k.stop)
        with camos.Client(k.address) as cam:
            box = {}
            t = threading.Thread(target=lambda: box.update(h=cam.wait_until_ready(timeout=20)))
            t.start()
            time.sleep(0.7)
            k.start()
            t.join(25)
            self.assertTrue(box["h"].serving)

    def test_gives_up_after_its_timeout(self):
        with camos.Client("127.0.0.1:%d" % kernel.free_port()) as cam:
            t0 = time.monotonic()
            with self.assertRaises(camos.DeadlineExceededError) as cm:
                cam.wait_until_ready(timeout=1.0)
            self.assertLess(time.monotonic() - t0, 3.0)
            self.assertIn("not ready within 1 s", cm.exception.message)


if __name__ == "__main__":
    unittest.main()
