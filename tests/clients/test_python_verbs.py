# SPDX-License-Identifier: Apache-2.0
"""Every verb through camos.Client and camos.aio.Client, against a real
cam-kernel (drivers, a software TPM, bearer tokens for the admin verbs)
and the typed results they give.
"""
import hashlib
import os
import subprocess
import tempfile
import unittest

import camos
import kernel
from support import Scenarios, both_clients

_ns_serial = [0]


def fresh_ns(kind):
    _ns_serial[0] += 1
    return "verbs-%s-%d-%d" % (kind.lower(), os.getpid(), _ns_serial[0])


@both_clients
class Verbs(Scenarios):
    @classmethod
    def setUpClass(cls):
        cls.k = kernel.main_kernel()

    async def asyncSetUp(self):
        self.cam = self.client(self.k.address, caller_id="verbs-agent")

    async def test_ping_echoes_pairs(self):
        r = await self.cam.ping({"msg": "hi, there", "n": 3, "ok": True, "emoji": "\U0001F600"})
        self.assertEqual(dict(r.echo), {"msg": "hi, there", "n": "3", "ok": "true",
                                        "emoji": "\U0001F600"})
        self.assertRegex(r.request_id, r"^[0-9a-f]+-\d+$")
        self.assertEqual(dict((await self.cam.ping(priority=8)).echo), {"pong": "true"})

    async def test_observe(self):
        o = await self.cam.observe()
        h = await self.cam.health()
        self.assertEqual(o.version, h.version)
        self.assertEqual(o.instance_id, h.instance_id)
        self.assertEqual(o.workers, 16)
        self.assertGreaterEqual(o.calls_total, 1)
        self.assertEqual(set(o.queues), {"high", "normal", "low"})

    async def test_whoami(self):
        w = await self.cam.whoami()
        self.assertEqual(w.caller_id, "verbs-agent")
        self.assertFalse(w.authenticated)
        self.assertIn("read", w.scopes)

    async def test_emit_metric(self):
        m = await self.cam.emit_metric("client_jobs_total", 2, {"app": "clients",
                                                                "kind": self.kind})
        self.assertEqual((m.metric_name, m.type, m.accepted), ("client_jobs_total", "counter", True))
        g = await self.cam.emit_metric("client_queue_depth", 0.25, type="gauge",
                                       help="depth of a test queue")
        self.assertEqual(g.type, "gauge")
        h = await self.cam.emit_metric("client_job_seconds", 0.042, type="histogram", native=True)
        self.assertEqual(h.type, "histogram")

    async def test_emit_trace(self):
        t = await self.cam.emit_trace("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331",
                                      "client_test", parent_span_id="00f067aa0ba902b7",
                                      duration_ms=1.5, service="clients", status="ok",
                                      attributes={"kind": self.kind})
        self.assertEqual((t.trace_id, t.span_id, t.parent_span_id, t.accepted),
                         ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331",
                          "00f067aa0ba902b7", True))

    async def test_think(self):
        t = await self.cam.think(urgency=0.9, importance=0.8, efficiency=0.6, energy=0.4,
                                 trust=0.7, task="eat")
        self.assertAlmostEqual(t.score, 0.74)
        self.assertEqual((t.priority, t.priority_class), (7, "high"))
        self.assertAlmostEqual(t.contributions["urgency"], 0.27)
        self.assertEqual(t.defaulted, ())
        half = await self.cam.think(urgency=1)
        self.assertEqual(set(half.defaulted), {"importance", "efficiency", "energy", "trust"})
        self.assertEqual(half.factors["trust"], 0.5)

    async def test_explain_action(self):
        t = await self.cam.think(urgency=0.2, priority=8)
        e = await self.cam.explain_action(t.request_id)
        self.assertEqual((e.explained_request_id, e.verb, e.priority, e.priority_class,
                          e.source), (t.request_id, "think", 8, "high", "priority_field"))
        self.assertIn("priority 8", e.reason)
        self.assertGreaterEqual(e.wait_ms, 0)

    async def test_tune_system(self):
        s = await self.cam.tune_system()
        self.assertEqual((s.weights, s.workers, s.changed), ((8, 4, 1), 16, False))
        c = await self.cam.tune_system(stall_ms=s.stall_ms + 1000)
        self.assertEqual((c.stall_ms, c.changed), (s.stall_ms + 1000, True))
        back = await self.cam.tune_system(stall_ms=s.stall_ms, weights=s.weights)
        self.assertEqual((back.stall_ms, back.weights), (s.stall_ms, s.weights))

    async def test_context_verbs(self):
        ns = fresh_ns(self.kind)
        w1 = await self.cam.context_write(ns, "goal", "find food")
        w2 = await self.cam.context_write_json(ns, "goal", {"x": 1, "y": [2, "a,b:c"]},
                                               expected_version=w1.version)
        self.assertEqual((w1.namespace, w1.key, w1.size), (ns, "goal", 9))
        self.assertGreater(w2.version, w1.version)
        latest = await self.cam.context_read(ns, "goal")
        self.assertEqual(latest.json(), {"x": 1, "y": [2, "a,b:c"]})
        self.assertEqual(latest.version, w2.version)
        first = await self.cam.context_read(ns, "goal", version=w1.version)
        self.assertEqual(first.text(), "find food")
        self.assertLessEqual(first.timestamp, latest.timestamp)
        vs = await self.cam.context_versions(ns, "goal")
        self.assertEqual((vs.count, vs.latest), (2, w2.version))
        self.assertEqual([x.version for x in vs.versions], [w1.version, w2.version])
        self.assertEqual([x.size for x in vs.versions], [9, w2.size])
        snap = await self.cam.context_snapshot(ns)
        self.assertRegex(snap.snapshot_id, r"^[0-9a-f]{24}$")
        self.assertEqual((snap.namespace, snap.keys), (ns, 1))
        gone = await self.cam.context_delete(ns, "goal")
        self.assertEqual((gone.namespace, gone.key, gone.removed_versions), (ns, "goal", 2))
        with self.assertRaises(camos.NotFoundError):
            await self.cam.context_read(ns, "goal")
        back = await self.cam.context_restore(snap.snapshot_id)
        self.assertEqual((back.namespace, back.keys), (ns, 1))
        self.assertEqual((await self.cam.context_read(ns, "goal")).json()["x"], 1)
        dropped = await self.cam.context_delete(snapshot_id=snap.snapshot_id)
        self.assertEqual(dropped.snapshot_id, snap.snapshot_id)
        whole = await self.cam.context_delete(ns)
        self.assertEqual((whole.namespace, whole.key, whole.removed_versions), (ns, None, 2))

    async def test_tpm_verbs(self):
        rnd = await self.cam.tpm_random(16)
        self.assertEqual(len(rnd.data), 16)
        data = b"sign me, please: \x00\xff"
        sig = await self.cam.tpm_sign(data)
        self.assertEqual((sig.algorithm, sig.signer), ("ecdsa-p256-sha256", "verbs-agent"))
        self.assertEqual(sig.digest, hashlib.sha256(data).hexdigest())
        self.assertEqual(sig.signature[0], 0x30)  # DER SEQUENCE
        ok = await self.cam.tpm_verify(sig.signature, data)
        self.assertEqual((ok.valid, ok.signer), (True, "verbs-agent"))
        self.assertFalse((await self.cam.tpm_verify(sig.signature, data + b"!")).valid)
        self.assertTrue((await self.cam.tpm_verify(sig.signature.hex(), digest=sig.digest)).valid)
        # Bound to its signer: it is not another caller's signature.
        self.assertFalse((await self.cam.tpm_verify(sig.signature, data, signer="agent-b")).valid)
        by_digest = await self.cam.tpm_sign(digest=sig.digest)
        self.assertEqual(by_digest.digest, sig.digest)
        pcrs = await self.cam.tpm_pcr_read([0, 1, 7])
        self.assertEqual((pcrs.bank, sorted(pcrs.values)), ("sha256", [0, 1, 7]))
        self.assertRegex(pcrs.values[7], r"^[0-9a-f]{64}$")
        key = await self.cam.tpm_public_key()
        self.assertTrue(key.pem.startswith("-----BEGIN PUBLIC KEY-----"))
        # Any tool checks the signature with the public key, over the bound
        # message (what the TPM signed names the signer).
        bound = b"cam-os tpm_sign v1\n" + sig.signer.encode() + b"\n" + hashlib.sha256(data).digest()
        self.assertEqual(sig.signed_digest, hashlib.sha256(bound).hexdigest())
        with tempfile.TemporaryDirectory() as d:
            for name, body in (("pub.pem", key.pem.encode()), ("sig.der", sig.signature),
                               ("data", bound)):
                with open(os.path.join(d, name), "wb") as f:
                    f.write(body)
            out = subprocess.run(["openssl", "dgst", "-sha256", "-verify", d + "/pub.pem",
                                  "-signature", d + "/sig.der", d + "/data"],
                                 capture_output=True, text=True)
            self.assertIn("Verified OK", out.stdout)

    async def test_driver_verbs(self):
        drivers = await self.cam.driver_list()
        self.assertIn("text_transform", drivers.drivers)
        self.assertEqual(set(drivers.available), {"text_transform", "kv_cache", "badabi"})
        loaded = await self.cam.driver_load("kv_cache")
        try:
            self.assertEqual((loaded.driver, loaded.version, loaded.instances),
                             ("kv_cache", "1.0.0", 1))
            self.assertRegex(loaded.sha256, r"^[0-9a-f]{64}$")
            st = (await self.cam.driver_list()).drivers["kv_cache"]
            self.assertEqual((st.instances_up, st.instances), (1, 1))
            self.assertIn(st.health, ("unknown", "healthy"))  # probed every 2 s
            out = await self.cam.driver_invoke("kv_cache", "set", b"k=v, with: commas")
            self.assertEqual((out.driver, out.operation), ("kv_cache", "set"))
        finally:
            gone = await self.cam.driver_unload("kv_cache")
        self.assertEqual((gone.driver, gone.unloaded), ("kv_cache", True))
        up = await self.cam.driver_invoke("text_transform", "upper",
                                          "a,b: c, d:e \U0001F600", timeout_ms=2000)
        self.assertEqual(up.output, "A,B: C, D:E \U0001F600")

    async def test_execute_any_verb(self):
        r = await self.cam.execute("ping", "a:1,b:x,y")
        self.assertEqual((r.verb, r.result), ("ping", "a:1,b:x,y"))
        self.assertEqual(dict(r.pairs), {"a": "1", "b": "x,y"})
        d = await self.cam.execute("ping", {"z": 1}, idempotent=True)
        self.assertEqual(d.result, "z:1")

    async def test_health(self):
        h = await self.cam.health(detailed=True)
        self.assertTrue(h.serving)
        self.assertLessEqual({"Redis Backend", "TPM Security", "Driver Runtime", "Scheduler"},
                             {c.name for c in h.components})
        tpm = next(c for c in h.components if c.name == "TPM Security")
        self.assertEqual(tpm.status, "healthy")
        self.assertGreaterEqual(tpm.latency_ms, 0)
        self.assertEqual((await self.cam.wait_until_ready(timeout=5)).status, "SERVING")


@both_clients
class AdminVerbs(Scenarios):
    """policy_* and agent_* (issue: agents kept apart), as admin."""

    @classmethod
    def setUpClass(cls):
        cls.k = kernel.auth_kernel()

    async def asyncSetUp(self):
        self.admin = self.client(self.k.address, token=kernel.ADMIN_TOKEN)

    async def test_agent_register_list_revoke(self):
        name = "reg-%s-%d" % (self.kind.lower(), os.getpid())
        reg = await self.admin.agent_register(name, ["read", "write"], rate=50, burst=100)
        self.assertEqual((reg.agent, set(reg.scopes)), (name, {"read", "write"}))
        self.assertGreater(len(reg.token), 16)
        agent = self.client(self.k.address, token=reg.token)
        self.assertEqual((await agent.whoami()).caller_id, name)
        self.assertEqual((reg.expires_ms, reg.expires), (0, None))
        listed = await self.admin.agent_list()
        self.assertEqual(listed.count, len(listed.agents))
        mine = next(a for a in listed.agents if a.name == name)
        self.assertEqual((set(mine.scopes), mine.tokens, mine.expires), ({"read", "write"}, 1, None))
        self.assertIn(name, listed.names)
        rev = await self.admin.agent_revoke(name)
        self.assertEqual((rev.agent, rev.revoked), (name, 1))
        with self.assertRaises(camos.UnauthenticatedError):
            await agent.whoami()

    async def test_store_backup(self):
        name = "clients-%s-%d" % (self.kind.lower(), os.getpid())
        b = await self.admin.store_backup(name)
        self.assertTrue(b.path.endswith("/backups/%s/store" % name), b.path)
        self.assertGreater(b.bytes, 0)
        self.assertEqual(os.path.getsize(os.path.join(b.path, "data.mdb")), b.bytes)
        with self.assertRaises(camos.InvalidArgumentError):
            await self.admin.store_backup("../escape")

    async def test_policy_update_and_query(self):
        policy = {"name": "clients-test",
                  "allow_rules": [{"name": "team-shared-read",
                                   "source": {"principals": ["reader-*"]},
                                   "request": {"verbs": ["context_read"],
                                               "resources": ["namespace:shared/team-*"]}}]}
        up = await self.admin.policy_update(policy)
        self.assertGreater(up.policy_version, 0)
        yes = await self.admin.policy_query("context_read", "namespace:shared/team-1",
                                            caller="reader-1")
        self.assertEqual((yes.allowed, yes.rule, yes.policy_version, yes.caller, yes.resource),
                         (True, "team-shared-read", up.policy_version, "reader-1",
                          "namespace:shared/team-1"))
        no = await self.admin.policy_query("context_read", "namespace:shared/team-1",
                                           caller="slow-1")
        self.assertEqual((no.allowed, no.rule), (False, "default"))
        # A caller asks about itself without admin.
        me = self.client(self.k.address, token=kernel.READER_TOKEN)
        self.assertTrue((await me.policy_query("context_read", "namespace:shared/team-9")).allowed)


if __name__ == "__main__":
    unittest.main()
