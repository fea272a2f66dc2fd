# SPDX-License-Identifier: Apache-2.0
"""Child of test_python_conn.Traceparent: calls made inside an OpenTelemetry
span (blocking and asyncio) carry its traceparent, and the kernel files
each call under that trace id (explain_action trace_id:...). Prints
"joined" on success; usage: traceparent_check.py HOST:PORT."""
import asyncio
import sys

import camos
import camos.aio
from opentelemetry import trace


def span(trace_id, span_id):
    ctx = trace.SpanContext(trace_id, span_id, is_remote=False,
                            trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED))
    return trace.NonRecordingSpan(ctx)


def check(cam_explain, trace_id, request_id, what):
    e = cam_explain(trace_id="%032x" % trace_id)
    if e.explained_request_id != request_id:
        sys.exit("%s: the kernel filed %s under the trace, not %s"
                 % (what, e.explained_request_id, request_id))


def blocking(address):
    tid = 0x4bf92f3577b34da6a3ce929d0e0e4736
    with camos.Client(address) as cam:
        with trace.use_span(span(tid, 0x00f067aa0ba902b7)):
            r = cam.ping({"traced": "blocking"})
        check(cam.explain_action, tid, r.request_id, "blocking")
        try:
            cam.explain_action(trace_id="%032x" % (tid + 1))
            sys.exit("a trace id no call carried was found")
        except camos.NotFoundError:
            pass


async def asyncio_client(address):
    tid = 0x0af7651916cd43dd8448eb211c80319c
    async with camos.aio.Client(address) as cam:
        with trace.use_span(span(tid, 0xb7ad6b7169203331)):
            r = await cam.ping({"traced": "asyncio"})
        e = await cam.explain_action(trace_id="%032x" % tid)
        if e.explained_request_id != r.request_id:
            sys.exit("asyncio: the kernel filed %s under the trace, not %s"
                     % (e.explained_request_id, r.request_id))


blocking(sys.argv[1])
asyncio.run(asyncio_client(sys.argv[1]))
print("joined")
