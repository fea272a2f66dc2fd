# SPDX-License-Identifier: Apache-2.0
"""The `cam` command: each command against real kernels, its output (for
people and --json), and exit codes that follow the gRPC status.
"""
import base64
import json
import os
import subprocess
import sys
import unittest

import kernel
from kernel import Pki

CAM = os.path.join(os.path.dirname(sys.executable), "cam")  # the console script


class Cam(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.k = kernel.main_kernel()
        cls.ns = "cli-%d" % os.getpid()

    def cam(self, *args, env=None, stdin=None, addr=True, module=False):
        argv = [sys.executable, "-m", "camos"] if module else [CAM]
        if addr:
            argv += ["--addr", self.k.address]
        e = {k: v for k, v in os.environ.items() if not k.startswith("CAM_")}
        e.update(env or {})
        return subprocess.run(argv + list(args), input=stdin, capture_output=True, env=e,
                              timeout=60)

    def ok(self, *args, **kw):
        r = self.cam(*args, **kw)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        return r.stdout.decode()

    def js(self, *args, **kw):
        return json.loads(self.ok("--json", *args, **kw))

    def test_ping(self):
        self.assertIn("pong (pong=true", self.ok("ping"))
        self.assertEqual(self.js("ping", "msg=hi, there")["echo"], {"msg": "hi, there"})
        self.assertIn("pong", self.ok("ping", module=True))  # python3 -m camos

    def test_version(self):
        self.assertEqual(self.ok("--version", addr=False).strip(),
                         "cam " + self.js("health")["version"])

    def test_context_commands(self):
        ns = self.ns
        w = self.js("context", "write", ns, "goal", "find food")
        self.assertEqual((w["namespace"], w["key"], w["size"]), (ns, "goal", 9))
        self.assertEqual(self.ok("context", "read", ns, "goal"), "find food")
        binary = bytes(range(256)) * 4
        self.js("context", "write", ns, "bin", "-", stdin=binary)
        self.assertEqual(self.cam("context", "read", ns, "bin").stdout, binary)
        path = os.path.join(kernel.TMP, "cli-value.json")
        with open(path, "w") as f:
            f.write('{"x": 1, "y": 2}')
        self.js("context", "write", ns, "j", "--file", path)
        self.assertEqual(json.loads(self.js("context", "read", ns, "j")["text"]), {"x": 1, "y": 2})
        v2 = self.js("context", "write", ns, "goal", "sleep", "--expected-version",
                     str(w["version"]))
        vs = self.js("context", "versions", ns, "goal")
        self.assertEqual([x["version"] for x in vs["versions"]], [w["version"], v2["version"]])
        self.assertEqual(self.ok("context", "read", ns, "goal", "--version", str(w["version"])),
                         "find food")
        snap = self.js("context", "snapshot", ns)
        self.assertEqual(self.js("context", "delete", ns, "goal")["removed_versions"], 2)
        self.assertEqual(self.js("context", "restore", snap["snapshot_id"])["keys"], 3)
        self.assertEqual(self.js("context", "delete", "--snapshot", snap["snapshot_id"])
                         ["snapshot_id"], snap["snapshot_id"])
        self.js("context", "delete", ns)

    def test_metric_trace_think_explain_tune(self):
        self.assertTrue(self.js("metric", "emit", "cli_custom_counter", "1", "app=myapp")
                        ["accepted"])
        self.assertEqual(self.js("metric", "emit", "cli_depth", "0.5", "--type", "gauge")["type"],
                         "gauge")
        t = self.js("trace", "emit", "abc123", "def456", "syscall_execution", "k=v")
        self.assertRegex(t["trace_id"], r"^[0-9a-f]{32}$")
        th = self.js("think", "--urgency", "0.9", "--importance", "0.8", "--efficiency", "0.6",
                     "--energy", "0.4", "--trust", "0.7")
        self.assertEqual((th["priority"], th["priority_class"]), (7, "high"))
        ex = self.js("explain", th["request_id"])
        self.assertEqual((ex["explained_request_id"], ex["verb"]), (th["request_id"], "think"))
        self.assertEqual(self.js("tune")["weights"], [8, 4, 1])
        self.assertIn("caller_id: anonymous", self.ok("whoami"))
        self.assertEqual(self.js("observe")["workers"], 16)

    def test_tpm_commands(self):
        rnd = self.js("tpm", "random", "8")
        self.assertEqual(len(base64.b64decode(rnd["data_base64"])), 8)
        sig = self.js("tpm", "sign", "hello, world")
        sig_hex = base64.b64decode(sig["signature_base64"]).hex()
        self.assertTrue(self.js("tpm", "verify", sig_hex, "hello, world")["valid"])
        r = self.cam("--json", "tpm", "verify", sig_hex, "hello, world!")
        self.assertEqual((r.returncode, json.loads(r.stdout)["valid"]), (0, False))
        self.assertFalse(self.js("tpm", "verify", sig_hex, "hello, world", "--signer",
                                 "agent-b")["valid"])
        self.assertEqual(sorted(self.js("tpm", "pcr-read", "0,7")["values"]), ["0", "7"])
        self.assertIn("BEGIN PUBLIC KEY", self.ok("tpm", "public-key"))

    def test_driver_commands(self):
        self.assertIn("text_transform", self.js("driver", "list")["drivers"])
        self.assertEqual(self.js("driver", "invoke", "text_transform", "upper", "hello, world: x")
                         ["output"], "HELLO, WORLD: X")
        self.assertEqual(self.js("driver", "load", "kv_cache")["driver"], "kv_cache")
        self.assertTrue(self.js("driver", "unload", "kv_cache")["unloaded"])

    def test_health(self):
        self.assertIn("status: SERVING", self.ok("health"))
        h = self.js("health", "--detailed")
        self.assertTrue(h["serving"])
        self.assertIn("Scheduler", [c["name"] for c in h["components"]])
        self.assertIn("SERVING", self.ok("wait", "5"))

    def test_exec(self):
        self.assertEqual(self.js("exec", "ping", "a:1,b:x,y")["result"], "a:1,b:x,y")

    def test_exit_codes_follow_the_status(self):
        def code(*args, **kw):
            r = self.cam(*args, **kw)
            self.assertEqual(r.stdout, b"")
            return r.returncode, r.stderr.decode()
        rc, err = code("context", "read", self.ns, "nope")
        self.assertEqual(rc, 5)
        self.assertRegex(err, r"^cam: NOT_FOUND: no key nope in namespace %s \(verb "
                         r"context_read, request [0-9a-f]{8}-\d+\)\n$" % self.ns)
        self.assertEqual(code("exec", "no_such_verb")[0], 12)
        self.assertEqual(code("exec", "ping", "Bad:1")[0], 3)
        self.assertEqual(code("--timeout", "0.2", "ping", "delay_ms=1000")[0], 4)
        self.assertEqual(code("driver", "load", "text_transform")[0], 6)
        self.assertEqual(code("driver", "load", "badabi")[0], 9)
        rc, err = code("--no-retry", "--addr", "127.0.0.1:%d" % kernel.free_port(), "ping",
                       addr=False)
        self.assertEqual(rc, 14)
        self.assertTrue(err.startswith("cam: UNAVAILABLE: "), err)
        # Refused before anything is sent: the grammar cannot carry it.
        rc, err = code("ping", "plan=eat, then: sleep")
        self.assertEqual(rc, 3)
        self.assertIn("nothing was sent", err)
        self.assertEqual(code("bogus")[0], 64)
        self.assertEqual(code("context", "write", self.ns, "k", "--file", "/nonexistent")[0], 66)
        r = self.cam("--json", "context", "read", self.ns, "nope")
        self.assertEqual(json.loads(r.stderr)["error"]["code"], "NOT_FOUND")

    def test_auth_and_tls_flags_and_environment(self):
        auth = kernel.auth_kernel()
        r = self.cam("--addr", auth.address, "whoami", addr=False)
        self.assertEqual(r.returncode, 16)
        self.assertIn("caller_id: admin-1", self.ok("--addr", auth.address, "--token",
                                                     kernel.ADMIN_TOKEN, "whoami", addr=False))
        self.assertEqual(self.cam("--addr", auth.address, "--token", kernel.READER_TOKEN,
                                  "context", "write", "reader-1", "k", "v",
                                  addr=False).returncode, 7)
        tls, pki = kernel.tls_kernel(), kernel.pki()
        env = {"CAM_GRPC_LISTEN": "0.0.0.0:%d" % tls.port, "CAM_TOKEN": kernel.ADMIN_TOKEN}
        self.assertIn("caller_id: admin-1", self.ok(
            "--cacert", pki.path("ca.pem"), "--server-name", Pki.SERVER_NAME, "whoami",
            env=env, addr=False))
        self.assertEqual(self.cam("--no-retry", "whoami", env=env, addr=False).returncode, 14)

    def test_policy_agent_and_store_commands(self):
        auth = kernel.auth_kernel()
        env = {"CAM_ADDR": auth.address, "CAM_TOKEN": kernel.ADMIN_TOKEN}
        reg = self.js("agent", "register", "cli-agent", "--scopes", "read,write", env=env,
                      addr=False)
        self.assertEqual(reg["agent"], "cli-agent")
        self.assertIn("cli-agent", [a["name"] for a in
                                    self.js("agent", "list", env=env, addr=False)["agents"]])
        self.assertEqual(self.js("agent", "revoke", "cli-agent", env=env, addr=False)["revoked"], 1)
        b = self.js("store", "backup", "cli-%d" % os.getpid(), env=env, addr=False)
        self.assertTrue(os.path.exists(os.path.join(b["path"], "data.mdb")))
        path = os.path.join(kernel.TMP, "cli-policy.json")
        with open(path, "w") as f:
            json.dump({"name": "cli", "allow_rules": []}, f)
        self.assertGreater(self.js("policy", "update", path, env=env, addr=False)
                           ["policy_version"], 0)
        q = self.js("policy", "query", "context_read", "namespace:admin-1", env=env, addr=False)
        self.assertTrue(q["allowed"])


if __name__ == "__main__":
    unittest.main()
