# SPDX-License-Identifier: Apache-2.0
"""Stubs generated from proto/cam.proto when the package is built (setup.py)."""
