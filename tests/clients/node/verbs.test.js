// Every verb through @cam-os/client against a real cam-kernel (drivers, a
// software TPM, bearer tokens for the admin verbs) and the typed results it
// gives.
//
// SPDX-License-Identifier: Apache-2.0
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { lib, fixtures, stopFixtures } = require('./harness');

const { Client, NotFoundError, UnauthenticatedError } = lib;
let fx;
let cam;
let admin;
const ns = `node-verbs-${process.pid}`;

before(async () => {
  fx = await fixtures('main', 'auth');
  cam = new Client({ address: fx.main.address, callerId: 'node-verbs' });
  admin = new Client({ address: fx.auth.address, token: fx.tokens.admin });
});

after(() => {
  cam?.close();
  admin?.close();
  stopFixtures();
});

test('ping echoes pairs', async () => {
  const r = await cam.ping({ msg: 'hi, there', n: 3, ok: true, emoji: '\u{1F600}' });
  assert.deepEqual(r.echo, { msg: 'hi, there', n: '3', ok: 'true', emoji: '\u{1F600}' });
  assert.match(r.requestId, /^[0-9a-f]+-\d+$/);
  assert.deepEqual((await cam.ping(undefined, { priority: 8 })).echo, { pong: 'true' });
});

test('observe', async () => {
  const o = await cam.observe();
  const h = await cam.health();
  assert.equal(o.version, h.version);
  assert.equal(o.instanceId, h.instanceId);
  assert.equal(o.workers, 16);
  assert.deepEqual(Object.keys(o.queues).sort(), ['high', 'low', 'normal']);
});

test('whoami', async () => {
  const w = await cam.whoami();
  assert.equal(w.callerId, 'node-verbs');
  assert.equal(w.authenticated, false);
  assert.ok(w.scopes.includes('read'));
});

test('emitMetric', async () => {
  const m = await cam.emitMetric('node_jobs_total', 2, { labels: { app: 'clients' } });
  assert.deepEqual([m.metricName, m.type, m.accepted], ['node_jobs_total', 'counter', true]);
  assert.equal((await cam.emitMetric('node_depth', 0.25, { type: 'gauge', help: 'depth' })).type, 'gauge');
  assert.equal((await cam.emitMetric('node_job_seconds', 0.042, { type: 'histogram', native: true })).type,
    'histogram');
});

test('emitTrace', async () => {
  const t = await cam.emitTrace('0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331', 'node_test', {
    parentSpanId: '00f067aa0ba902b7', durationMs: 1.5, service: 'clients', status: 'ok',
    attributes: { lang: 'ts' },
  });
  assert.deepEqual([t.traceId, t.spanId, t.parentSpanId, t.accepted],
    ['0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331', '00f067aa0ba902b7', true]);
});

test('think', async () => {
  const t = await cam.think({ urgency: 0.9, importance: 0.8, efficiency: 0.6, energy: 0.4, trust: 0.7, task: 'eat' });
  assert.equal(t.score, 0.74);
  assert.deepEqual([t.priority, t.priorityClass], [7, 'high']);
  assert.equal(t.contributions.urgency, 0.27);
  assert.deepEqual(t.defaulted, []);
  const half = await cam.think({ urgency: 1 });
  assert.deepEqual(half.defaulted.sort(), ['efficiency', 'energy', 'importance', 'trust']);
});

test('explainAction', async () => {
  const t = await cam.think({ urgency: 0.2 }, { priority: 8 });
  const e = await cam.explainAction(t.requestId);
  assert.deepEqual([e.explainedRequestId, e.verb, e.priority, e.priorityClass, e.source],
    [t.requestId, 'think', 8, 'high', 'priority_field']);
  assert.match(e.reason, /priority 8/);
});

test('tuneSystem', async () => {
  const s = await cam.tuneSystem();
  assert.deepEqual([s.weights, s.workers, s.changed], [[8, 4, 1], 16, false]);
  const c = await cam.tuneSystem({ stallMs: s.stallMs + 1000 });
  assert.deepEqual([c.stallMs, c.changed], [s.stallMs + 1000, true]);
  const back = await cam.tuneSystem({ stallMs: s.stallMs, weights: s.weights });
  assert.deepEqual([back.stallMs, back.weights], [s.stallMs, s.weights]);
});

test('context verbs', async () => {
  const w1 = await cam.contextWrite(ns, 'goal', 'find food');
  const w2 = await cam.contextWriteJson(ns, 'goal', { x: 1, y: [2, 'a,b:c'] }, { expectedVersion: w1.version });
  assert.deepEqual([w1.namespace, w1.key, w1.size], [ns, 'goal', 9]);
  const latest = await cam.contextRead(ns, 'goal');
  assert.deepEqual(latest.json(), { x: 1, y: [2, 'a,b:c'] });
  assert.equal(latest.version, w2.version);
  const first = await cam.contextRead(ns, 'goal', { version: w1.version });
  assert.equal(first.text(), 'find food');
  assert.ok(first.timestamp instanceof Date && first.timestamp <= latest.timestamp);
  const vs = await cam.contextVersions(ns, 'goal');
  assert.deepEqual([vs.count, vs.latest], [2, w2.version]);
  assert.deepEqual(vs.versions.map((x) => x.version), [w1.version, w2.version]);
  const snap = await cam.contextSnapshot(ns);
  assert.match(snap.snapshotId, /^[0-9a-f]{24}$/);
  assert.deepEqual([snap.namespace, snap.keys], [ns, 1]);
  const gone = await cam.contextDelete({ namespace: ns, key: 'goal' });
  assert.deepEqual([gone.namespace, gone.key, gone.removedVersions], [ns, 'goal', 2]);
  await assert.rejects(cam.contextRead(ns, 'goal'), NotFoundError);
  const back = await cam.contextRestore(snap.snapshotId);
  assert.deepEqual([back.namespace, back.keys], [ns, 1]);
  assert.equal((await cam.contextRead(ns, 'goal')).json().x, 1);
  assert.equal((await cam.contextDelete({ snapshotId: snap.snapshotId })).snapshotId, snap.snapshotId);
  const whole = await cam.contextDelete({ namespace: ns });
  assert.deepEqual([whole.namespace, whole.key, whole.removedVersions], [ns, undefined, 2]);
});

test('tpm verbs', async () => {
  assert.equal((await cam.tpmRandom(16)).data.length, 16);
  const data = Buffer.from('sign me, please: \0\xff', 'latin1');
  const sig = await cam.tpmSign(data);
  assert.deepEqual([sig.algorithm, sig.signer], ['ecdsa-p256-sha256', 'node-verbs']);
  assert.equal(sig.digest, crypto.createHash('sha256').update(data).digest('hex'));
  assert.equal(sig.signature[0], 0x30);
  const ok = await cam.tpmVerify(sig.signature, data);
  assert.deepEqual([ok.valid, ok.signer], [true, 'node-verbs']);
  // Bound to its signer: it is not another caller's signature.
  assert.equal((await cam.tpmVerify(sig.signature, data, { signer: 'agent-b' })).valid, false);
  assert.equal((await cam.tpmVerify(sig.signature, Buffer.concat([data, Buffer.from('!')]))).valid, false);
  assert.equal((await cam.tpmVerify(sig.signature.toString('hex'), { digest: sig.digest })).valid, true);
  assert.equal((await cam.tpmSign({ digest: sig.digest })).digest, sig.digest);
  const pcrs = await cam.tpmPcrRead([0, 1, 7]);
  assert.deepEqual([pcrs.bank, Object.keys(pcrs.values)], ['sha256', ['0', '1', '7']]);
  assert.match(pcrs.values[7], /^[0-9a-f]{64}$/);
  const key = await cam.tpmPublicKey();
  assert.ok(key.pem.startsWith('-----BEGIN PUBLIC KEY-----'));
  // openssl checks it over the bound message (what the TPM signed names the signer).
  const bound = Buffer.concat([Buffer.from(`cam-os tpm_sign v1\n${sig.signer}\n`),
    crypto.createHash('sha256').update(data).digest()]);
  assert.equal(sig.signedDigest, crypto.createHash('sha256').update(bound).digest('hex'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cam-node-tpm-'));
  try {
    fs.writeFileSync(path.join(dir, 'pub.pem'), key.pem);
    fs.writeFileSync(path.join(dir, 'sig.der'), sig.signature);
    fs.writeFileSync(path.join(dir, 'data'), bound);
    const out = execFileSync('openssl', ['dgst', '-sha256', '-verify', path.join(dir, 'pub.pem'),
      '-signature', path.join(dir, 'sig.der'), path.join(dir, 'data')]).toString();
    assert.match(out, /Verified OK/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('driver verbs', async () => {
  const list = await cam.driverList();
  assert.ok(list.drivers.text_transform);
  assert.deepEqual(list.available.sort(), ['badabi', 'kv_cache', 'text_transform']);
  const loaded = await cam.driverLoad('kv_cache');
  try {
    assert.deepEqual([loaded.driver, loaded.version, loaded.instances], ['kv_cache', '1.0.0', 1]);
    const st = (await cam.driverList()).drivers.kv_cache;
    assert.deepEqual([st.instancesUp, st.instances], [1, 1]);
    const out = await cam.driverInvoke('kv_cache', 'set', 'k=v, with: commas');
    assert.deepEqual([out.driver, out.operation], ['kv_cache', 'set']);
  } finally {
    const gone = await cam.driverUnload('kv_cache');
    assert.deepEqual([gone.driver, gone.unloaded], ['kv_cache', true]);
  }
  const up = await cam.driverInvoke('text_transform', 'upper', 'a,b: c, d:e \u{1F600}', { driverTimeoutMs: 2000 });
  assert.equal(up.output, 'A,B: C, D:E \u{1F600}');
});

test('execute any verb', async () => {
  const r = await cam.execute('ping', 'a:1,b:x,y');
  assert.deepEqual([r.verb, r.result, { ...r.pairs }], ['ping', 'a:1,b:x,y', { a: '1', b: 'x,y' }]);
  assert.equal((await cam.execute('ping', { z: 1 }, { idempotent: true })).result, 'z:1');
});

test('health and waitUntilReady', async () => {
  const h = await cam.health(true);
  assert.equal(h.serving, true);
  const names = h.components.map((c) => c.name);
  for (const n of ['Redis Backend', 'TPM Security', 'Driver Runtime', 'Scheduler']) assert.ok(names.includes(n), n);
  assert.equal((await cam.waitUntilReady(5000)).status, 'SERVING');
});

test('agentRegister, agentList, agentRevoke', async () => {
  const name = `node-reg-${process.pid}`;
  const reg = await admin.agentRegister(name, ['read', 'write'], { rate: 50, burst: 100 });
  assert.deepEqual([reg.agent, reg.scopes.sort(), reg.expiresMs, reg.expires], [name, ['read', 'write'], 0, undefined]);
  const agent = new Client({ address: fx.auth.address, token: reg.token });
  try {
    assert.equal((await agent.whoami()).callerId, name);
    const listed = await admin.agentList();
    assert.equal(listed.count, listed.agents.length);
    const mine = listed.agents.find((a) => a.name === name);
    assert.deepEqual([mine.scopes.sort(), mine.tokens], [['read', 'write'], 1]);
    assert.deepEqual([(await admin.agentRevoke(name)).revoked], [1]);
    await assert.rejects(agent.whoami(), UnauthenticatedError);
  } finally {
    agent.close();
  }
});

test('storeBackup', async () => {
  const name = `node-${process.pid}`;
  const b = await admin.storeBackup(name);
  assert.ok(b.path.endsWith(`/backups/${name}/store`), b.path);
  assert.equal(fs.statSync(path.join(b.path, 'data.mdb')).size, b.bytes);
  await assert.rejects(admin.storeBackup('../escape'), lib.InvalidArgumentError);
});

test('policyUpdate and policyQuery', async () => {
  const up = await admin.policyUpdate({
    name: 'node-test',
    allow_rules: [{ name: 'team-shared-read', source: { principals: ['reader-*'] },
      request: { verbs: ['context_read'], resources: ['namespace:shared/team-*'] } }],
  });
  assert.ok(up.policyVersion > 0);
  const yes = await admin.policyQuery('context_read', 'namespace:shared/team-1', { caller: 'reader-1' });
  assert.deepEqual([yes.allowed, yes.rule, yes.policyVersion, yes.caller, yes.resource],
    [true, 'team-shared-read', up.policyVersion, 'reader-1', 'namespace:shared/team-1']);
  const no = await admin.policyQuery('context_read', 'namespace:shared/team-1', { caller: 'slow-1' });
  assert.deepEqual([no.allowed, no.rule], [false, 'default']);
});
