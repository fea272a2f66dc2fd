# SPDX-License-Identifier: Apache-2.0
"""An agent on CAM-OS: it registers, remembers its goal, thinks about a
task, reports a metric and a span, and reads its memory back.

    CAM_ADDR=127.0.0.1:50051 CAM_TOKEN=<an admin token> python3 agent.py
"""
import os
import secrets
import time

import camos

name = "agent-%d" % os.getpid()
with camos.Client() as admin:  # address and admin token from the environment
    admin.wait_until_ready(timeout=10)
    token = admin.agent_register(name, ["read", "write"]).token

with camos.Client(token=token) as cam:  # from now on, the agent itself
    me = cam.whoami().caller_id  # its own namespace is its caller id
    start = time.monotonic()
    cam.context_write_json(me, "goal", {"task": "find food", "steps": ["look", "eat"]})
    plan = cam.think(urgency=0.9, importance=0.8, task="find food")
    cam.emit_metric("agent_tasks_total", 1, {"agent": me})
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    cam.emit_trace(trace_id, span_id, "plan", service=me, status="ok",
                   duration_ms=(time.monotonic() - start) * 1000,
                   attributes={"priority": plan.priority})
    goal = cam.context_read(me, "goal").json()
    print("%s: goal %r, priority %d (%s), trace %s"
          % (me, goal["task"], plan.priority, plan.priority_class, trace_id))
