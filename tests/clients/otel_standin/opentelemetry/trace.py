# SPDX-License-Identifier: Apache-2.0
"""Stand-in for opentelemetry.trace, for test_python_conn.Traceparent only.

opentelemetry-api is not packaged in Debian 12 and PyPI is out of reach
here, so this gives the part of its API that camos.tracing calls and the
test needs, with the same names, types and behaviour: the current span
lives in a contextvar (so it follows asyncio tasks), get_current_span()
returns it or an invalid span, SpanContext carries int ids and TraceFlags,
use_span() makes a span current for a block.
"""
import contextlib
import contextvars


class TraceFlags(int):
    SAMPLED = 0x01


class SpanContext:
    def __init__(self, trace_id, span_id, is_remote, trace_flags=TraceFlags(0)):
        self.trace_id = trace_id
        self.span_id = span_id
        self.is_remote = is_remote
        self.trace_flags = trace_flags

    @property
    def is_valid(self):
        return self.trace_id != 0 and self.span_id != 0


class NonRecordingSpan:
    def __init__(self, context):
        self._context = context

    def get_span_context(self):
        return self._context


INVALID_SPAN = NonRecordingSpan(SpanContext(0, 0, False))
_current = contextvars.ContextVar("current_span", default=INVALID_SPAN)


def get_current_span(context=None):
    return _current.get()


@contextlib.contextmanager
def use_span(span, end_on_exit=False):
    token = _current.set(span)
    try:
        yield span
    finally:
        _current.reset(token)
