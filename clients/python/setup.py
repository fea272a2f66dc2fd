# SPDX-License-Identifier: Apache-2.0
"""Build step of camos: what is made, not written, goes into the wheel here.

- camos/_proto/cam_pb2.py and cam_pb2_grpc.py, generated from the checkout's
  proto/cam.proto with grpc_tools (Debian's python3-grpc-tools), so the
  stubs always match the kernel they were built with;
- camos/_version.py, the kernel's version from common/version.h, so the
  library and the kernel move together (one source of truth).

Both are written into the build folder only, never into the source tree.
The rest of the metadata is in pyproject.toml.
"""
import os
import re

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKOUT = os.path.normpath(os.path.join(HERE, "..", ".."))
PROTO_DIR = os.path.join(CHECKOUT, "proto")
VERSION_H = os.path.join(CHECKOUT, "common", "version.h")


def kernel_version():
    """CAM_VERSION from common/version.h; the build fails without it."""
    try:
        with open(VERSION_H, encoding="utf-8") as f:
            m = re.search(r'#define\s+CAM_VERSION\s+"([^"]+)"', f.read())
    except OSError as e:
        raise SystemExit(
            "camos: %s not found (%s): build from a CAM-OS checkout, "
            "pip install --no-build-isolation ./clients/python" % (VERSION_H, e))
    if not m:
        raise SystemExit("camos: no CAM_VERSION in %s" % VERSION_H)
    return m.group(1)


def generate_stubs(out_dir):
    """cam_pb2 and cam_pb2_grpc under out_dir/camos/_proto.

    The proto path maps camos/_proto onto proto/, so the generated gRPC
    module imports its messages as camos._proto.cam_pb2.
    """
    from grpc_tools import protoc  # build-time only (python3-grpc-tools)

    if not os.path.exists(os.path.join(PROTO_DIR, "cam.proto")):
        raise SystemExit("camos: %s/cam.proto not found: build from a CAM-OS checkout"
                         % PROTO_DIR)
    args = ["grpc_tools.protoc", "-Icamos/_proto=" + PROTO_DIR,
            "--python_out=" + out_dir, "--grpc_python_out=" + out_dir,
            "camos/_proto/cam.proto"]
    if protoc.main(args) != 0:
        raise SystemExit("camos: protoc failed on %s/cam.proto" % PROTO_DIR)


class BuildPyWithStubs(build_py):
    def run(self):
        super().run()
        generate_stubs(self.build_lib)
        with open(os.path.join(self.build_lib, "camos", "_version.py"), "w",
                  encoding="utf-8") as f:
            f.write('"""Written by setup.py from common/version.h."""\n'
                    "__version__ = %r\n" % kernel_version())


setup(version=kernel_version(), cmdclass={"build_py": BuildPyWithStubs})
