# SPDX-License-Identifier: Apache-2.0
"""What the Python client tests share: each scenario is written once, as a
coroutine, and runs through both camos.Client (blocking) and
camos.aio.Client (asyncio)."""
import sys
import unittest

import camos
import camos.aio


class Blocking:
    """camos.Client behind the awaitable interface the scenarios use: each
    method runs the blocking call, then hands back its result."""

    def __init__(self, client):
        self.client = client

    def __getattr__(self, name):
        attr = getattr(self.client, name)
        if not callable(attr):
            return attr

        async def call(*args, **kwargs):
            return attr(*args, **kwargs)
        return call


class Scenarios:
    """Mixin of a scenario class; both_clients() makes the TestCases."""
    kind = None

    def client(self, address, **kwargs):
        """A client of this case's kind, closed when the test ends."""
        if self.kind == "Blocking":
            c = camos.Client(address, **kwargs)
            self.addCleanup(c.close)
            return Blocking(c)
        c = camos.aio.Client(address, **kwargs)
        self.addAsyncCleanup(c.close)
        return c


def both_clients(cls):
    """Adds BlockingX and AsyncioX, TestCases of the scenarios of X, to X's
    module; X itself, not a TestCase, is not run."""
    mod = sys.modules[cls.__module__]
    for kind in ("Blocking", "Asyncio"):
        name = kind + cls.__name__
        case = type(name, (cls, unittest.IsolatedAsyncioTestCase), {"kind": kind})
        case.__module__ = cls.__module__
        setattr(mod, name, case)
    return cls
