// Every gRPC status maps to its own error class, carrying the message and
// the request id. The codes a kernel answers are provoked on real kernels;
// the others (UNKNOWN, INTERNAL, DATA_LOSS...) come from a grpc-js server
// of the test's own that fails each call with the status its payload names,
// a message, and the `cam-request-id` trailer. CANCELLED also comes from an
// AbortSignal on a real call.
//
// SPDX-License-Identifier: Apache-2.0
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { lib, libRequire, LIB_DIR, fixtures, stopFixtures, freePort } = require('./harness');

const grpc = libRequire('@grpc/grpc-js');
const { SyscallRequest, SyscallResponse } = require(path.join(LIB_DIR, 'dist', 'cjs', 'gen', 'cam.js'));
const L = lib;
const EXPECTED = {
  1: L.CancelledError, 2: L.UnknownError, 3: L.InvalidArgumentError, 4: L.DeadlineExceededError,
  5: L.NotFoundError, 6: L.AlreadyExistsError, 7: L.PermissionDeniedError, 8: L.ResourceExhaustedError,
  9: L.FailedPreconditionError, 10: L.AbortedError, 11: L.OutOfRangeError, 12: L.UnimplementedError,
  13: L.InternalError, 14: L.UnavailableError, 15: L.DataLossError, 16: L.UnauthenticatedError,
};

let fx;
let server;
let fakePort;
const clients = [];

function client(address, opts = {}) {
  const c = new L.Client({ address, ...opts });
  clients.push(c);
  return c;
}

before(async () => {
  fx = await fixtures('main', 'auth');
  server = new grpc.Server();
  server.addService({
    Execute: {
      path: '/cam.SyscallService/Execute', requestStream: false, responseStream: false,
      requestDeserialize: (b) => SyscallRequest.decode(b),
      responseSerialize: (m) => Buffer.from(SyscallResponse.encode(m).finish()),
    },
  }, {
    Execute(call, cb) {
      const code = Number(call.request.payload.split(':')[1]);
      const md = new grpc.Metadata();
      md.set('cam-request-id', `fake-${code}`);
      cb({ code, details: `fake failure ${code}, with: punctuation`, metadata: md });
    },
  });
  fakePort = await new Promise((res, rej) => server.bindAsync('127.0.0.1:0',
    grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
});

after(() => {
  clients.forEach((c) => c.close());
  server?.forceShutdown();
  stopFixtures();
});

async function fails(cls, message, promise) {
  const e = await promise.then(() => assert.fail('no error'), (err) => err);
  assert.equal(e.constructor, cls, `${e}`);
  assert.ok(e instanceof L.CamError);
  if (message !== undefined) assert.equal(e.message, message);
  return e;
}

test('every code from a server: class, message, request id', async () => {
  const cam = client(`127.0.0.1:${fakePort}`, { retry: false });
  for (const [code, cls] of Object.entries(EXPECTED)) {
    const e = await fails(cls, `fake failure ${code}, with: punctuation`, cam.execute('fail', `code:${code}`));
    assert.deepEqual([e.code, e.requestId, e.verb], [Number(code), `fake-${code}`, 'fail']);
    assert.equal(e.codeName, L.Status[Number(code)]);
    assert.ok(String(e).startsWith(`${e.codeName}: fake failure`));
  }
});

test('kernel: INVALID_ARGUMENT', async () => {
  await fails(L.InvalidArgumentError, "invalid payload key 'Bad' (keys match [a-z_][a-z0-9_]*)",
    client(fx.main.address).execute('ping', 'Bad:1'));
});

test('kernel: NOT_FOUND', async () => {
  await fails(L.NotFoundError, 'no key nope in namespace node-errors', client(fx.main.address).contextRead('node-errors', 'nope'));
});

test('kernel: ALREADY_EXISTS', async () => {
  await fails(L.AlreadyExistsError, 'driver text_transform is already loaded',
    client(fx.main.address).driverLoad('text_transform'));
});

test('kernel: FAILED_PRECONDITION', async () => {
  const e = await fails(L.FailedPreconditionError, undefined, client(fx.main.address).driverLoad('badabi'));
  assert.match(e.message, /ABI/);
});

test('kernel: ABORTED', async () => {
  const cam = client(fx.main.address);
  const ns = `node-aborted-${process.pid}`;
  await cam.contextWrite(ns, 'k', 'v', { expectedVersion: 0 });
  const e = await fails(L.AbortedError, undefined, cam.contextWrite(ns, 'k', 'w', { expectedVersion: 0 }));
  assert.match(e.message, /expected version 0/);
  await cam.contextDelete({ namespace: ns });
});

test('kernel: OUT_OF_RANGE', async () => {
  const cam = client(fx.main.address);
  await cam.emitMetric('node_huge_total', 1.7e308);
  const e = await fails(L.OutOfRangeError, undefined, cam.emitMetric('node_huge_total', 1.7e308));
  assert.match(e.message, /largest finite number/);
});

test('kernel: UNIMPLEMENTED', async () => {
  await fails(L.UnimplementedError, "unknown verb 'no_such_verb'", client(fx.main.address).execute('no_such_verb'));
});

test('kernel: UNAVAILABLE (no TPM; nobody listening)', async () => {
  const e = await fails(L.UnavailableError, undefined,
    client(fx.auth.address, { token: fx.tokens.admin, retry: false }).tpmRandom(8));
  assert.match(e.message, /no TPM configured/);
  await fails(L.UnavailableError, undefined, client(`127.0.0.1:${await freePort()}`, { retry: false }).ping());
});

test('kernel: DEADLINE_EXCEEDED', async () => {
  const t0 = Date.now();
  await fails(L.DeadlineExceededError, undefined, client(fx.main.address).ping({}, { delayMs: 1000, timeoutMs: 200 }));
  assert.ok(Date.now() - t0 < 900);
});

test('kernel: RESOURCE_EXHAUSTED', async () => {
  const cam = client(fx.main.address);
  const ns = `node-snaps-${process.pid}`;
  await cam.contextWrite(ns, 'k', 'v');
  try {
    for (let i = 0; i < 16; i++) await cam.contextSnapshot(ns);
    const e = await fails(L.ResourceExhaustedError, undefined, cam.contextSnapshot(ns));
    assert.match(e.message, /snapshot/);
  } finally {
    await cam.contextDelete({ namespace: ns });
  }
});

test('kernel: PERMISSION_DENIED', async () => {
  await fails(L.PermissionDeniedError, undefined,
    client(fx.auth.address, { token: fx.tokens.reader }).contextWrite('reader-1', 'k', 'v'));
});

test('kernel: UNAUTHENTICATED', async () => {
  await fails(L.UnauthenticatedError, undefined, client(fx.auth.address).ping());
  await fails(L.UnauthenticatedError, undefined, client(fx.auth.address, { token: 'not-a-token' }).ping());
});

test('CANCELLED: an AbortSignal cancels the call', async () => {
  const ac = new AbortController();
  const p = client(fx.main.address).ping({}, { delayMs: 1000, signal: ac.signal });
  setTimeout(() => ac.abort(), 100);
  const t0 = Date.now();
  await fails(L.CancelledError, undefined, p);
  assert.ok(Date.now() - t0 < 800);
});

test('a value the payload cannot carry rejects, nothing sent', async () => {
  const cam = client(fx.main.address);
  await assert.rejects(cam.ping({ plan: 'eat, then: sleep' }), L.PayloadError);
  await assert.rejects(cam.ping({ Bad: 'key' }), L.PayloadError);
  await assert.rejects(cam.emitMetric('m', 1, { labels: { url: 'a,b' } }), L.PayloadError);
  await assert.rejects(cam.ping({}, { priority: 12 }), L.InvalidArgumentError);
});
