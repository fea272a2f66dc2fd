// An agent on CAM-OS: it registers, remembers its goal, thinks about a
// task, reports a metric and a span, and reads its memory back.
//
//   CAM_ADDR=127.0.0.1:50051 CAM_TOKEN=<an admin token> node agent.js
//
// SPDX-License-Identifier: Apache-2.0
import { randomBytes } from 'node:crypto';
import { Client } from '@cam-os/client';

const name = `agent-${process.pid}`;
const admin = new Client(); // address and admin token from the environment
await admin.waitUntilReady(10_000);
const { token } = await admin.agentRegister(name, ['read', 'write']);
admin.close();

const cam = new Client({ token }); // from now on, the agent itself
const me = (await cam.whoami()).callerId; // its own namespace is its caller id
const start = performance.now();
await cam.contextWriteJson(me, 'goal', { task: 'find food', steps: ['look', 'eat'] });
const plan = await cam.think({ urgency: 0.9, importance: 0.8, task: 'find food' });
await cam.emitMetric('agent_tasks_total', 1, { labels: { agent: me } });
const traceId = randomBytes(16).toString('hex');
await cam.emitTrace(traceId, randomBytes(8).toString('hex'), 'plan', {
  service: me, status: 'ok', durationMs: performance.now() - start,
  attributes: { priority: plan.priority },
});
const goal = (await cam.contextRead(me, 'goal')).json<{ task: string }>();
console.log(`${me}: goal '${goal.task}', priority ${plan.priority} (${plan.priorityClass}), trace ${traceId}`);
cam.close();
