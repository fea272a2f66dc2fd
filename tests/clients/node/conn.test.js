// Connections and calls: bearer tokens, TLS, client certificates, the
// environment, traceparent from the active OpenTelemetry span (the real
// @opentelemetry/api with its async-hooks context manager), 100 concurrent
// calls, retries across a kernel restart, waiting until ready.
//
// SPDX-License-Identifier: Apache-2.0
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { lib, libRequire, fixtures, stopFixtures, startKernel, freePort } = require('./harness');

const { Client, UnavailableError, UnauthenticatedError, DeadlineExceededError, Status } = lib;
let fx;
const clients = [];

function client(opts) {
  const c = new Client(opts);
  clients.push(c);
  return c;
}

before(async () => {
  fx = await fixtures('main', 'auth', 'tls', 'mtls');
});

after(() => {
  clients.forEach((c) => c.close());
  stopFixtures();
});

const tlsOpts = () => ({ caFile: fx.pki.ca, serverName: fx.pki.server_name });

test('bearer token and token file', async () => {
  const w = await client({ address: fx.auth.address, token: fx.tokens.admin }).whoami();
  assert.deepEqual([w.callerId, w.authenticated], ['admin-1', true]);
  const file = path.join(fx.tmp, `node-reader-${process.pid}.token`);
  fs.writeFileSync(file, `${fx.tokens.reader}\n`);
  const r = await client({ address: fx.auth.address, tokenFile: file }).whoami();
  assert.deepEqual([r.callerId, r.scopes], ['reader-1', ['read']]);
});

test('TLS with a token', async () => {
  const w = await client({ address: fx.tls.address, token: fx.tokens.admin, ...tlsOpts() }).whoami();
  assert.equal(w.callerId, 'admin-1');
});

test('TLS refuses an unknown CA, a wrong name, cleartext', async () => {
  const base = { address: fx.tls.address, token: fx.tokens.admin, retry: false };
  await assert.rejects(client({ ...base, caFile: fx.pki['other-ca'], serverName: fx.pki.server_name }).ping(),
    UnavailableError);
  await assert.rejects(client({ ...base, caFile: fx.pki.ca }).ping(), UnavailableError);
  await assert.rejects(client(base).ping(), UnavailableError);
});

test('a client certificate identifies the caller', async () => {
  const cam = client({ address: fx.tls.address, ...tlsOpts(), certFile: fx.pki.client, keyFile: fx.pki['client-key'] });
  const w = await cam.whoami();
  assert.deepEqual([w.callerId, w.authenticated, w.identifiedBy], [fx.pki.client_name, true, 'certificate']);
});

test('CAM_TLS_CLIENT_AUTH=require refuses a client without a certificate', async () => {
  await assert.rejects(client({ address: fx.mtls.address, ...tlsOpts(), retry: false }).ping(), UnavailableError);
  const w = await client({ address: fx.mtls.address, ...tlsOpts(), certFile: fx.pki.client,
    keyFile: fx.pki['client-key'] }).whoami();
  assert.equal(w.callerId, fx.pki.client_name);
});

test('settings from the environment', async () => {
  const port = fx.tls.address.split(':')[1];
  const env = { CAM_GRPC_LISTEN: `0.0.0.0:${port}`, CAM_TOKEN: fx.tokens.admin, CAM_TLS_CA_FILE: fx.pki.ca,
    CAM_TLS_SERVER_NAME: fx.pki.server_name };
  const cam = client({ env });
  assert.equal(cam.address, `127.0.0.1:${port}`);
  assert.equal((await cam.whoami()).callerId, 'admin-1');
  await assert.rejects(client({ address: fx.auth.address, env: {} }).ping(), UnauthenticatedError);
});

test('traceparent: the kernel joins the active span\'s trace', async () => {
  const api = libRequire('@opentelemetry/api');
  const { AsyncLocalStorageContextManager } = libRequire('@opentelemetry/context-async-hooks');
  api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  try {
    const cam = client({ address: fx.main.address });
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const span = api.trace.wrapSpanContext({ traceId, spanId: '00f067aa0ba902b7', traceFlags: 1 });
    const r = await api.context.with(api.trace.setSpan(api.context.active(), span),
      async () => { await Promise.resolve(); return cam.ping({ traced: 'node' }); });
    const e = await cam.explainAction({ traceId });
    assert.equal(e.explainedRequestId, r.requestId);
    const plain = await cam.ping({ traced: 'no' }); // outside the span: no header
    await assert.rejects(cam.explainAction({ traceId: '4bf92f3577b34da6a3ce929d0e0e4737' }), lib.NotFoundError);
    assert.notEqual(plain.requestId, r.requestId);
  } finally {
    api.context.disable();
  }
});

test('100 concurrent calls', async () => {
  const cam = client({ address: fx.main.address });
  const t0 = Date.now();
  // 100 calls of 50 ms: 5 s one after another, ~0.35 s all at once on 16 workers.
  const rs = await Promise.all(Array.from({ length: 100 }, (_, i) => cam.ping({ i }, { delayMs: 50 })));
  const took = Date.now() - t0;
  assert.deepEqual(rs.map((r) => r.echo.i), Array.from({ length: 100 }, (_, i) => String(i)));
  assert.equal(new Set(rs.map((r) => r.requestId)).size, 100);
  assert.ok(took < 2500, `took ${took} ms: the calls did not run concurrently`);
});

async function duringRestart(fn) {
  const port = await freePort();
  const dir = path.join(fx.tmp, `node-restart-${process.pid}-${port}`);
  let k = await startKernel(port, dir);
  const retries = [];
  const cam = client({ address: k.address, timeoutMs: 20000,
    retry: { maxAttempts: 60, initialBackoffMs: 50, maxBackoffMs: 250, onRetry: (n, e) => retries.push(e.code) } });
  const first = (await cam.observe()).instanceId;
  await k.stop();
  const outcome = fn(cam).then((result) => ({ result }), (error) => ({ error }));
  await new Promise((res) => setTimeout(res, 1000));
  k = await startKernel(port, dir);
  try {
    const out = await outcome;
    out.retries = [...retries];
    assert.notEqual((await cam.observe()).instanceId, first);
    return out;
  } finally {
    await k.stop();
  }
}

test('an idempotent call is retried across a kernel restart', async () => {
  const out = await duringRestart((cam) => cam.ping({ after: 'restart' }));
  assert.deepEqual(out.result.echo, { after: 'restart' });
  assert.ok(out.retries.length >= 1);
  assert.deepEqual([...new Set(out.retries)], [Status.UNAVAILABLE]);
});

test('a compare-and-set write is retried', async () => {
  const out = await duringRestart((cam) => cam.contextWrite('retry-ns', 'fresh', 'v', { expectedVersion: 0 }));
  assert.equal(out.result.size, 1);
  assert.ok(out.retries.length >= 1);
});

test('a plain write is never sent twice', async () => {
  const out = await duringRestart((cam) => cam.contextWrite('retry-ns', 'k', 'v'));
  assert.ok(out.error instanceof UnavailableError, String(out.error));
  assert.deepEqual(out.retries, []);
});

test('waitUntilReady waits for a kernel that starts later, and gives up', async () => {
  const port = await freePort();
  const cam = client({ address: `127.0.0.1:${port}` });
  const ready = cam.waitUntilReady(20000);
  await new Promise((res) => setTimeout(res, 700));
  const k = await startKernel(port, path.join(fx.tmp, `node-ready-${process.pid}`));
  try {
    assert.equal((await ready).serving, true);
  } finally {
    await k.stop();
  }
  const t0 = Date.now();
  const e = await client({ address: `127.0.0.1:${await freePort()}` }).waitUntilReady(1000).catch((x) => x);
  assert.ok(e instanceof DeadlineExceededError);
  assert.match(e.message, /not ready within 1000 ms/);
  assert.ok(Date.now() - t0 < 3000);
});
