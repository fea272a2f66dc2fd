# SPDX-License-Identifier: Apache-2.0
"""The Python library's surface: a method for every verb of the kernel's
registry (and of DESIGN.md's policy and agent verbs), the same methods on
the blocking and the asyncio client, type hints shipped, Python 3.9
syntax, and versions that move with the kernel's."""
import ast
import inspect
import json
import os
import re
import subprocess
import sys
import unittest

import camos
import camos.aio
import kernel

ROOT = kernel.ROOT
# DESIGN.md's verb table (the parse of the kernel's tables must find these)
# and, from "Identity, ownership and policy", the verbs another issue adds
# to the kernel: the library has them already.
DESIGN_TABLE = {"ping", "observe", "emit_metric", "emit_trace", "think", "explain_action",
                "tune_system", "context_write", "context_read", "context_versions",
                "context_delete", "context_snapshot", "context_restore", "whoami", "tpm_sign",
                "tpm_verify", "tpm_random", "tpm_pcr_read", "tpm_public_key", "driver_list",
                "driver_load", "driver_unload", "driver_invoke"}
DESIGN_VERBS = {"policy_query", "policy_update", "agent_register", "agent_revoke", "agent_list"}


def kernel_verbs():
    """Names of the rows of every verb table in kernel/syscall/."""
    names = set()
    folder = os.path.join(ROOT, "kernel", "syscall")
    for f in os.listdir(folder):
        if f.endswith(".c"):
            with open(os.path.join(folder, f)) as src:
                names |= set(re.findall(r'\{\s*\.name\s*=\s*"([a-z_0-9]+)",\s*\.fn\s*=',
                                        src.read()))
    return names


def kernel_version():
    with open(os.path.join(ROOT, "common", "version.h")) as f:
        return re.search(r'#define\s+CAM_VERSION\s+"([^"]+)"', f.read()).group(1)


class Surface(unittest.TestCase):
    def test_every_verb_has_a_method_on_both_clients(self):
        verbs = kernel_verbs()
        self.assertLessEqual(DESIGN_TABLE, verbs)  # the parse found the tables
        for verb in sorted(verbs | DESIGN_VERBS):
            with self.subTest(verb=verb):
                self.assertTrue(callable(getattr(camos.Client, verb, None)), verb)
                self.assertTrue(inspect.iscoroutinefunction(getattr(camos.aio.Client, verb, None)),
                                verb)

    def test_blocking_and_asyncio_clients_have_the_same_methods(self):
        def public(cls):
            return {n: inspect.signature(f) for n, f in vars(cls).items()
                    if callable(f) and not n.startswith("_")}
        sync, aio = public(camos.Client), public(camos.aio.Client)
        self.assertEqual(set(sync), set(aio))
        for name in sync:
            with self.subTest(method=name):
                self.assertEqual(sync[name], aio[name])

    def test_every_method_is_annotated(self):
        for cls in (camos.Client, camos.aio.Client):
            for name, f in vars(cls).items():
                if not callable(f) or name.startswith("_") and name != "__init__":
                    continue
                sig = inspect.signature(f)
                with self.subTest(cls=cls.__module__, method=name):
                    self.assertIsNot(sig.return_annotation, inspect.Signature.empty)
                    for p in list(sig.parameters.values())[1:]:
                        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                            self.assertIsNot(p.annotation, inspect.Parameter.empty, p.name)

    def test_typed_package(self):
        folder = os.path.dirname(camos.__file__)
        self.assertTrue(os.path.exists(os.path.join(folder, "py.typed")))
        for stub in ("cam_pb2.py", "cam_pb2_grpc.py"):  # generated at build time
            self.assertTrue(os.path.exists(os.path.join(folder, "_proto", stub)), stub)

    def test_mypy_strict_on_the_package_and_the_example(self):
        # The hints py.typed promises, checked as a user's type checker sees
        # them: the installed package, and the example agent using it.
        src = os.path.join(ROOT, "clients", "python")
        for target in (["-p", "camos"], [os.path.join(src, "examples", "agent.py")]):
            with self.subTest(target=target[-1]):
                out = subprocess.run(
                    [sys.executable, "-m", "mypy", "--config-file",
                     os.path.join(src, "pyproject.toml"), "--python-executable", sys.executable,
                     "--cache-dir", os.path.join(kernel.TMP, "mypy-cache")] + target,
                    capture_output=True, text=True, cwd=kernel.TMP, timeout=300)
                self.assertEqual(out.returncode, 0, out.stdout + out.stderr)

    def test_python_3_9_syntax(self):
        src = os.path.join(ROOT, "clients", "python")
        files = [os.path.join(d, f) for d, _, fs in os.walk(os.path.join(src, "camos"))
                 for f in fs if f.endswith(".py")]
        files += [os.path.join(src, "setup.py"), os.path.join(src, "examples", "agent.py")]
        for path in files:
            with self.subTest(file=os.path.relpath(path, src)):
                with open(path) as f:
                    text = f.read()
                ast.parse(text, path, feature_version=(3, 9))
                # Annotations are never evaluated (X | None would fail on 3.9).
                if re.search(r"(->|:)[^=\n]*\w\s*\|\s*\w", text) and "def " in text:
                    self.assertIn("from __future__ import annotations", text)

    def test_versions_move_together(self):
        version = kernel_version()
        self.assertEqual(camos.__version__, version)
        with open(os.path.join(ROOT, "debian", "changelog")) as f:
            self.assertEqual(re.match(r"cam-os \(([^)-]+)", f.readline()).group(1), version)
        for name in ("package.json", "package-lock.json"):
            with open(os.path.join(ROOT, "clients", "node", name)) as f:
                self.assertEqual(json.load(f)["version"], version, name)
        with camos.Client(kernel.main_kernel().address) as cam:
            self.assertEqual(cam.health().version, version)


if __name__ == "__main__":
    unittest.main()
