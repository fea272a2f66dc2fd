# SPDX-License-Identifier: Apache-2.0
"""Stand-in for opentelemetry-api in the client tests (see trace.py)."""
