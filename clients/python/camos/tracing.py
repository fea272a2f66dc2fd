# SPDX-License-Identifier: Apache-2.0
"""The W3C `traceparent` of the current OpenTelemetry span, so an agent's
spans and the kernel's `syscall <verb>` spans join one trace.

opentelemetry-api is optional and never a dependency: when it cannot be
imported, no header is sent and nothing else changes.
"""
from __future__ import annotations

from typing import Any, Optional

_trace: Any = None
try:
    from opentelemetry import trace as _otel_trace
    _trace = _otel_trace
except ImportError:  # no OpenTelemetry in this environment
    pass

available = _trace is not None


def current_traceparent() -> Optional[str]:
    """00-<trace id>-<span id>-<flags> of the active span, or None."""
    if _trace is None:
        return None
    ctx = _trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return "00-%032x-%016x-%02x" % (ctx.trace_id, ctx.span_id, int(ctx.trace_flags))
