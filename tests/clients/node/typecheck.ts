// Compiled (never run) by surface.test.js against the built declarations:
// what an application writes type-checks, and what it must not does not.
//
// SPDX-License-Identifier: Apache-2.0
import { Client, ContextValue, NotFoundError, Status, Thought } from '../../../clients/node/dist/esm/index.mjs';

async function agent(cam: Client): Promise<number> {
  const v: ContextValue = await cam.contextRead('ns', 'k', { version: 2, timeoutMs: 100 });
  const doc = v.json<{ task: string }>();
  const t: Thought = await cam.think({ urgency: 0.9 }, { priority: 7 });
  const when: Date = v.timestamp;
  try {
    await cam.contextWrite('ns', 'k', new Uint8Array([0, 1]), { expectedVersion: v.version });
  } catch (e) {
    if (e instanceof NotFoundError && e.code === Status.NOT_FOUND) return 0;
  }
  // @ts-expect-error the value is required
  await cam.contextWrite('ns', 'k');
  // @ts-expect-error versions are numbers
  await cam.contextRead('ns', 'k', { version: '2' });
  // @ts-expect-error a result's fields are typed
  const s: string = t.priority;
  // @ts-expect-error no such verb
  await cam.contextWipe('ns');
  return doc.task.length + t.priority + when.getTime() + s.length;
}

export { agent };
