# SPDX-License-Identifier: Apache-2.0
"""Values round-trip whole: binary, text and JSON with commas, colons, NUL
and 4-byte UTF-8, up to the kernel's 1 MiB limit, through both clients;
payload pairs that the grammar can carry round-trip too, and the ones it
cannot are refused before anything is sent."""
import hashlib
import json
import os
import unittest

import camos
import kernel
from camos import payload
from support import Scenarios, both_clients

MIB = 1 << 20
TRICKY = "a,b:c, d: e\x00f \U0001F600\U0001F680 key:value,"  # 4-byte UTF-8: the emoji


def exact_bytes(unit: bytes, size: int) -> bytes:
    return (unit * (size // len(unit) + 1))[:size]


def text_of_size(size: int) -> str:
    """TRICKY repeated, padded with ASCII to exactly size UTF-8 bytes."""
    unit = TRICKY.encode("utf-8")
    body = unit * (size // len(unit))
    return (body + b"x" * (size - len(body))).decode("utf-8")


def json_of_size(size: int) -> object:
    """A JSON document whose compact UTF-8 text is exactly size bytes."""
    doc = {"plan": "eat, then: sleep", "nul": "\x00", "emoji": "\U0001F600",
           "list": [1, 2.5, None, True], "pad": ""}
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    doc["pad"] = text_of_size(size - len(text.encode("utf-8"))).replace("\x00", "0")
    return doc


@both_clients
class Values(Scenarios):
    @classmethod
    def setUpClass(cls):
        cls.k = kernel.main_kernel()

    async def asyncSetUp(self):
        self.cam = self.client(self.k.address, timeout=30)
        self.ns = "values-%s-%d" % (self.kind.lower(), os.getpid())

    async def asyncTearDown(self):
        try:
            await self.cam.context_delete(self.ns)
        except camos.NotFoundError:
            pass

    async def roundtrip(self, key, value):
        w = await self.cam.context_write(self.ns, key, value)
        r = await self.cam.context_read(self.ns, key, version=w.version)
        return w, r

    async def test_binary_1mib(self):
        value = exact_bytes(bytes(range(256)) + b",:\x00", MIB)
        w, r = await self.roundtrip("bin", value)
        self.assertEqual((w.size, r.size), (MIB, MIB))
        self.assertEqual(hashlib.sha256(r.data).digest(), hashlib.sha256(value).digest())

    async def test_text_1mib(self):
        value = text_of_size(MIB)
        self.assertEqual(len(value.encode("utf-8")), MIB)
        w, r = await self.roundtrip("text", value)
        self.assertEqual(w.size, MIB)
        self.assertEqual(r.text(), value)

    async def test_json_1mib(self):
        doc = json_of_size(MIB)
        w = await self.cam.context_write_json(self.ns, "json", doc)
        self.assertEqual(w.size, MIB)
        r = await self.cam.context_read(self.ns, "json")
        self.assertEqual(r.json(), doc)

    async def test_short_tricky_text(self):
        w, r = await self.roundtrip("short", TRICKY)
        self.assertEqual(r.text(), TRICKY)
        self.assertEqual(w.size, len(TRICKY.encode("utf-8")))

    async def test_empty_value(self):
        w, r = await self.roundtrip("empty", b"")
        self.assertEqual((w.size, r.data), (0, b""))

    async def test_over_the_limit_is_refused(self):
        with self.assertRaises(camos.InvalidArgumentError):
            await self.cam.context_write(self.ns, "big", b"x" * (MIB + 1))

    async def test_driver_input_with_punctuation(self):
        text = "plan: eat, then: sleep \U0001F600"
        out = await self.cam.driver_invoke("text_transform", "upper", text)
        self.assertEqual(out.output, "PLAN: EAT, THEN: SLEEP \U0001F600")

    async def test_payload_pairs_roundtrip(self):
        pairs = {"a": "x,y,z", "b": "time: 12:30", "c": "\U0001F600,\U0001F680", "d": ""}
        self.assertEqual(dict((await self.cam.ping(pairs)).echo), pairs)


class PayloadGrammar(unittest.TestCase):
    """The encoder and the parser against the grammar's rules."""

    def test_numbers_are_plain_decimals(self):
        self.assertEqual(payload.format_value(1e-7), "0.0000001")
        self.assertEqual(payload.format_value(1.5e21), "1500000000000000000000")
        self.assertEqual(payload.format_value(0.25), "0.25")
        self.assertEqual(payload.format_value(True), "true")
        with self.assertRaises(camos.PayloadError):
            payload.format_value(float("inf"))

    def test_encode_refuses_what_would_not_parse_back(self):
        self.assertEqual(payload.encode([("a", "x,y"), ("b", None), ("c", "1:2")]), "a:x,y,c:1:2")
        for bad in ("x,y:z", "nul\x00"):
            with self.assertRaises(camos.PayloadError):
                payload.encode([("a", bad)])
        with self.assertRaises(camos.PayloadError):
            payload.encode([("A", "1")])

    def test_parse_tail_and_free_text(self):
        self.assertEqual(payload.parse("driver:d,operation:o,output:x, y: z", tail="output"),
                         {"driver": "d", "operation": "o", "output": "x, y: z"})
        self.assertEqual(payload.parse("reason:one, two: three,x"), {"reason": "one, two: three,x"})
        self.assertEqual(payload.parse(""), {})


if __name__ == "__main__":
    unittest.main()
