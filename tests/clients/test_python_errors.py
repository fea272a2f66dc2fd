# SPDX-License-Identifier: Apache-2.0
"""Every gRPC status maps to its own exception class, carrying the
message and the request id, through both Python clients.

The codes a kernel answers are provoked on real kernels; the codes no
kernel call can be made to answer (UNKNOWN, INTERNAL, DATA_LOSS, and
CANCELLED, which a blocking call cannot cause) come from a gRPC server of
the test's own that fails each call with the status its payload names, a
message, and the `cam-request-id` trailer.
"""
import asyncio
import concurrent.futures
import time
import unittest

import grpc

import camos
import kernel
from support import Scenarios, both_clients

from camos._proto import cam_pb2

EXPECTED = {
    1: camos.CancelledError, 2: camos.UnknownError, 3: camos.InvalidArgumentError,
    4: camos.DeadlineExceededError, 5: camos.NotFoundError, 6: camos.AlreadyExistsError,
    7: camos.PermissionDeniedError, 8: camos.ResourceExhaustedError,
    9: camos.FailedPreconditionError, 10: camos.AbortedError, 11: camos.OutOfRangeError,
    12: camos.UnimplementedError, 13: camos.InternalError, 14: camos.UnavailableError,
    15: camos.DataLossError, 16: camos.UnauthenticatedError,
}


class FailingServer:
    """Execute fails with status N for payload "code:N"."""

    def __init__(self):
        def execute(request, context):
            code = int(request.payload.split(":")[1])
            context.set_trailing_metadata((("cam-request-id", "fake-%d" % code),))
            status = next(s for s in grpc.StatusCode if s.value[0] == code)
            context.abort(status, "fake failure %d, with: punctuation" % code)

        handler = grpc.method_handlers_generic_handler("cam.SyscallService", {
            "Execute": grpc.unary_unary_rpc_method_handler(
                execute, request_deserializer=cam_pb2.SyscallRequest.FromString,
                response_serializer=cam_pb2.SyscallResponse.SerializeToString)})
        self.server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=4))
        self.server.add_generic_rpc_handlers((handler,))
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()


@both_clients
class StatusCodes(Scenarios):
    @classmethod
    def setUpClass(cls):
        cls.fake = kernel.shared("failing-server", FailingServer)
        cls.main = kernel.main_kernel()
        cls.auth = kernel.auth_kernel()

    async def assertFails(self, cls, message, coro):
        with self.assertRaises(cls) as cm:
            await coro
        self.assertIs(type(cm.exception), cls)
        if message is not None:
            self.assertEqual(cm.exception.message, message)
        return cm.exception

    async def test_every_code_from_a_server(self):
        cam = self.client("127.0.0.1:%d" % self.fake.port, retry=camos.NO_RETRY)
        for code, cls in EXPECTED.items():
            e = await self.assertFails(cls, "fake failure %d, with: punctuation" % code,
                                       cam.execute("fail", "code:%d" % code))
            self.assertEqual((int(e.code), e.request_id, e.verb), (code, "fake-%d" % code, "fail"))
            self.assertIsInstance(e, camos.CamError)
            self.assertIn(e.code.name, str(e))

    async def test_kernel_invalid_argument(self):
        cam = self.client(self.main.address)
        await self.assertFails(camos.InvalidArgumentError,
                               "invalid payload key 'Bad' (keys match [a-z_][a-z0-9_]*)",
                               cam.execute("ping", "Bad:1"))

    async def test_kernel_not_found(self):
        cam = self.client(self.main.address)
        await self.assertFails(camos.NotFoundError, "no key nope in namespace errors-ns",
                               cam.context_read("errors-ns", "nope"))

    async def test_kernel_already_exists(self):
        cam = self.client(self.main.address)
        await self.assertFails(camos.AlreadyExistsError,
                               "driver text_transform is already loaded",
                               cam.driver_load("text_transform"))

    async def test_kernel_failed_precondition(self):
        cam = self.client(self.main.address)
        e = await self.assertFails(camos.FailedPreconditionError, None,
                                   cam.driver_load("badabi"))
        self.assertIn("ABI", e.message)

    async def test_kernel_aborted(self):
        cam = self.client(self.main.address)
        ns = "errors-aborted-" + self.kind
        await cam.context_write(ns, "k", "v", expected_version=0)
        e = await self.assertFails(camos.AbortedError, None,
                                   cam.context_write(ns, "k", "w", expected_version=0))
        self.assertIn("expected version 0", e.message)
        await cam.context_delete(ns)

    async def test_kernel_out_of_range(self):
        cam = self.client(self.main.address)
        name = "errors_huge_%s_total" % self.kind.lower()
        await cam.emit_metric(name, 1.7e308)
        e = await self.assertFails(camos.OutOfRangeError, None, cam.emit_metric(name, 1.7e308))
        self.assertIn("largest finite number", e.message)

    async def test_kernel_unimplemented(self):
        cam = self.client(self.main.address)
        e = await self.assertFails(camos.UnimplementedError, "unknown verb 'no_such_verb'",
                                   cam.execute("no_such_verb"))
        # the kernel's own request id, from the failure's cam-request-id trailer
        self.assertRegex(e.request_id, r"^[0-9a-f]{8}-\d+$")

    async def test_kernel_unavailable(self):
        cam = self.client(self.auth.address, token=kernel.ADMIN_TOKEN, retry=camos.NO_RETRY)
        e = await self.assertFails(camos.UnavailableError, None, cam.tpm_random(8))
        self.assertIn("no TPM configured", e.message)
        down = self.client("127.0.0.1:%d" % kernel.free_port(), retry=camos.NO_RETRY)
        await self.assertFails(camos.UnavailableError, None, down.ping())

    async def test_kernel_deadline_exceeded(self):
        cam = self.client(self.main.address)
        t0 = time.monotonic()
        await self.assertFails(camos.DeadlineExceededError, None,
                               cam.ping(delay_ms=1000, timeout=0.2))
        self.assertLess(time.monotonic() - t0, 0.9)

    async def test_kernel_resource_exhausted(self):
        cam = self.client(self.main.address)
        ns = "errors-snaps-" + self.kind
        await cam.context_write(ns, "k", "v")
        try:
            for _ in range(16):  # CAM_MEMCTX_MAX_SNAPSHOTS
                await cam.context_snapshot(ns)
            e = await self.assertFails(camos.ResourceExhaustedError, None,
                                       cam.context_snapshot(ns))
            self.assertIn("snapshot", e.message)
        finally:
            await cam.context_delete(ns)

    async def test_kernel_permission_denied(self):
        cam = self.client(self.auth.address, token=kernel.READER_TOKEN)
        await self.assertFails(camos.PermissionDeniedError, None,
                               cam.context_write("reader-1", "k", "v"))

    async def test_kernel_unauthenticated(self):
        cam = self.client(self.auth.address)
        await self.assertFails(camos.UnauthenticatedError, None, cam.ping())
        bad = self.client(self.auth.address, token="not-a-token")
        await self.assertFails(camos.UnauthenticatedError, None, bad.ping())

    async def test_payload_error_sends_nothing(self):
        cam = self.client(self.main.address)
        with self.assertRaises(camos.PayloadError):
            await cam.ping({"plan": "eat, then: sleep"})
        with self.assertRaises(camos.PayloadError):
            await cam.ping({"Bad": "key"})
        with self.assertRaises(camos.PayloadError):
            await cam.emit_metric("m", 1, {"url": "a,b"})


class AsyncioCancel(unittest.IsolatedAsyncioTestCase):
    """Cancelling a coroutine is asyncio's own CancelledError, and the
    kernel's call is cancelled with it."""

    @classmethod
    def setUpClass(cls):
        cls.k = kernel.main_kernel()

    async def test_cancel(self):
        async with camos.aio.Client(self.k.address) as cam:
            task = asyncio.ensure_future(cam.ping(delay_ms=1000))
            await asyncio.sleep(0.1)
            task.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await task


if __name__ == "__main__":
    unittest.main()
