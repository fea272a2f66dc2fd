// Interop tests with independent node clients: @grpc/grpc-js, with
// @grpc/proto-loader (from proto/cam.proto) and grpc-js-reflection-client
// (descriptors from the server only, no .proto).
//
// SPDX-License-Identifier: Apache-2.0
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const { GrpcReflection } = require('grpc-js-reflection-client');
const { startServer, sendRawAndWaitClose, PROTO_DIR } = require('./helpers');

const pkgDef = protoLoader.loadSync(path.join(PROTO_DIR, 'cam.proto'), {
  keepCase: true, longs: String, enums: String, defaults: true, oneofs: true,
});
const cam = grpc.loadPackageDefinition(pkgDef).cam;

let srv;
let client;
// grpc_test_server has verbs for tests (sleep, big, stats); cam-kernel may
// not: the tests that need them then check what they can without.
let testVerbs = false;

before(async () => {
  srv = await startServer('127.0.0.1');
  client = new cam.SyscallService(srv.addr, grpc.credentials.createInsecure());
  testVerbs = await call(client, 'Execute', { verb: 'stats' }).then(() => true, () => false);
});

after(() => {
  if (client) client.close();
  if (srv) srv.stop();
});

function deadline(ms) {
  return new Date(Date.now() + ms);
}

function call(c, method, req, opts = {}) {
  return new Promise((resolve, reject) => {
    c[method](req, new grpc.Metadata(), { deadline: deadline(10000), ...opts },
      (err, res) => (err ? reject(err) : resolve(res)));
  });
}

async function stats() {
  const r = await call(client, 'Execute', { verb: 'stats' });
  return Object.fromEntries(r.result.split(',').map((kv) => kv.split(':')));
}

test('ping round trip', async () => {
  const r = await call(client, 'Execute', { verb: 'ping', payload: 'msg:hello,n:1' });
  assert.equal(r.success, true);
  assert.equal(r.result, 'msg:hello,n:1');
});

test('unknown verb is UNIMPLEMENTED', async () => {
  await assert.rejects(call(client, 'Execute', { verb: 'no_such_verb' }),
    (e) => e.code === grpc.status.UNIMPLEMENTED);
});

test('unknown method is UNIMPLEMENTED', async () => {
  const raw = new grpc.Client(srv.addr, grpc.credentials.createInsecure());
  try {
    await assert.rejects(new Promise((resolve, reject) => {
      raw.makeUnaryRequest('/cam.SyscallService/NoSuchMethod', (x) => x, (x) => x,
        Buffer.alloc(0), (err, res) => (err ? reject(err) : resolve(res)));
    }), (e) => e.code === grpc.status.UNIMPLEMENTED);
  } finally {
    raw.close();
  }
});

test('reflection lists every service (v1 and v1alpha)', async () => {
  for (const version of ['v1', 'v1alpha']) {
    const r = new GrpcReflection(srv.addr, grpc.credentials.createInsecure(), {}, version);
    const services = await r.listServices();
    for (const s of ['cam.SyscallService', 'grpc.health.v1.Health',
      'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection']) {
      assert.ok(services.includes(s), `${version}: ${s} in ${services}`);
    }
  }
});

test('reflection describes cam.SyscallService and cam.SyscallRequest', async () => {
  const r = new GrpcReflection(srv.addr, grpc.credentials.createInsecure());
  const methods = await r.listMethods('cam.SyscallService');
  const names = methods.map((m) => m.name);
  assert.ok(names.includes('Execute') && names.includes('HealthCheck'), names.join());
  const d = await r.getDescriptorBySymbol('cam.SyscallRequest');
  const msg = d.getProtobufJsRoot().lookupType('cam.SyscallRequest');
  assert.equal(msg.fieldsById[1].name, 'verb');
  assert.equal(msg.fieldsById[2].name, 'payload');
  assert.match(msg.fieldsById[3].name, /^caller_?[iI]d$/);
  await assert.rejects(r.getDescriptorBySymbol('cam.NoSuchThing'));
});

test('invoke Execute with reflection-loaded descriptors only', async () => {
  const r = new GrpcReflection(srv.addr, grpc.credentials.createInsecure());
  const d = await r.getDescriptorBySymbol('cam.SyscallService');
  const pkg = d.getPackageObject({ keepCase: true, defaults: true });
  const c = new pkg.cam.SyscallService(srv.addr, grpc.credentials.createInsecure());
  try {
    const res = await call(c, 'Execute', { verb: 'ping', payload: 'via:reflection' });
    assert.equal(res.result, 'via:reflection');
  } finally {
    c.close();
  }
});

test('health Check: "" and cam.SyscallService SERVING, unknown NOT_FOUND', async () => {
  const r = new GrpcReflection(srv.addr, grpc.credentials.createInsecure());
  const d = await r.getDescriptorBySymbol('grpc.health.v1.Health');
  const pkg = d.getPackageObject({ keepCase: true, enums: String, defaults: true });
  const h = new pkg.grpc.health.v1.Health(srv.addr, grpc.credentials.createInsecure());
  try {
    assert.equal((await call(h, 'Check', { service: '' })).status, 'SERVING');
    assert.equal((await call(h, 'Check', { service: 'cam.SyscallService' })).status, 'SERVING');
    await assert.rejects(call(h, 'Check', { service: 'nope.Service' }),
      (e) => e.code === grpc.status.NOT_FOUND);
    // Watch: the current status first, then the stream stays open.
    const w = h.Watch({ service: '' });
    const first = await new Promise((resolve, reject) => {
      w.once('data', resolve);
      w.once('error', reject);
    });
    assert.equal(first.status, 'SERVING');
    w.on('error', () => {});
    w.cancel();
  } finally {
    h.close();
  }
});

test('5 MiB message is RESOURCE_EXHAUSTED, then the server still answers', async () => {
  await assert.rejects(
    call(client, 'Execute', { verb: 'ping', data: Buffer.alloc(5 << 20, 7) }),
    (e) => e.code === grpc.status.RESOURCE_EXHAUSTED);
  assert.equal((await call(client, 'Execute', { verb: 'ping', payload: 'a:1' })).result, 'a:1');
});

test('3 MiB request and 3 MiB response (flow control both ways)', async () => {
  const r = await call(client, 'Execute', { verb: 'ping', data: Buffer.alloc(3 << 20, 9) });
  assert.equal(r.success, true);
  if (!testVerbs) return;
  assert.equal(r.data.length, 3 << 20);
  const b = await call(client, 'Execute', { verb: 'big', payload: String(3 << 20) });
  assert.equal(b.data.length, 3 << 20);
});

test('gzip-compressed request', async () => {
  const c = new cam.SyscallService(srv.addr, grpc.credentials.createInsecure(),
    { 'grpc.default_compression_algorithm': 2 });
  try {
    const r = await call(c, 'Execute', { verb: 'ping', payload: 'z:'.padEnd(4000, 'z') });
    assert.equal(r.result.length, 4000);
  } finally {
    c.close();
  }
});

test('short deadline is DEADLINE_EXCEEDED', async () => {
  await assert.rejects(call(client, 'Execute', { verb: 'ping', payload: 'late:1' },
    { deadline: deadline(-1000) }), (e) => e.code === grpc.status.DEADLINE_EXCEEDED);
  if (testVerbs) {
    await assert.rejects(call(client, 'Execute', { verb: 'sleep', payload: '2000' },
      { deadline: deadline(100) }), (e) => e.code === grpc.status.DEADLINE_EXCEEDED);
  }
  assert.equal((await call(client, 'Execute', { verb: 'ping', payload: 'b:1' })).result, 'b:1');
});

test('1000 concurrent streams on one connection all answered', async () => {
  const calls = [];
  for (let i = 0; i < 1000; i++) {
    calls.push(call(client, 'Execute', { verb: 'ping', payload: `i:${i}` }, { deadline: deadline(30000) }));
  }
  const res = await Promise.all(calls);
  res.forEach((r, i) => assert.equal(r.result, `i:${i}`));
});

test('cancel mid-call: server stays healthy, streams return to idle', async () => {
  if (!testVerbs) {
    for (let i = 0; i < 50; i++) {
      const c = client.Execute({ verb: 'ping', payload: 'x:1' }, () => {});
      setImmediate(() => c.cancel());
    }
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await call(client, 'Execute', { verb: 'ping', payload: 'e:1' })).result, 'e:1');
    return;
  }
  const p = new Promise((resolve) => {
    const c = client.Execute({ verb: 'sleep', payload: '3000' }, (err) => resolve(err));
    setTimeout(() => c.cancel(), 200);
  });
  const err = await p;
  assert.equal(err.code, grpc.status.CANCELLED);
  let s;
  for (let i = 0; i < 50; i++) {
    s = await stats();
    if (s.streams === '1') break; // the stats call itself
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(s.streams, '1');
});

test('garbage bytes: connection closed, next call works', async () => {
  await sendRawAndWaitClose(srv.host, srv.port, Buffer.from('\x00\xffgarbage\r\n\r\nmore garbage'.repeat(10)));
  assert.equal((await call(client, 'Execute', { verb: 'ping', payload: 'c:1' })).result, 'c:1');
});

test('HTTP/1.1 request: connection closed, next call works', async () => {
  await sendRawAndWaitClose(srv.host, srv.port,
    Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n'));
  assert.equal((await call(client, 'Execute', { verb: 'ping', payload: 'd:1' })).result, 'd:1');
});

test('IPv6 [::1]', async () => {
  const s6 = await startServer('::1');
  const c6 = new cam.SyscallService(s6.addr, grpc.credentials.createInsecure());
  try {
    assert.equal((await call(c6, 'Execute', { verb: 'ping', payload: 'v:6' })).result, 'v:6');
  } finally {
    c6.close();
    s6.stop();
  }
});

test('health Watch: SERVING, then NOT_SERVING when the server shuts down', async () => {
  const s = await startServer('127.0.0.1');
  const r = new GrpcReflection(s.addr, grpc.credentials.createInsecure());
  let h;
  try {
    const d = await r.getDescriptorBySymbol('grpc.health.v1.Health');
    const pkg = d.getPackageObject({ keepCase: true, enums: String, defaults: true });
    h = new pkg.grpc.health.v1.Health(s.addr, grpc.credentials.createInsecure());
    const w = h.Watch({ service: 'cam.SyscallService' });
    const seen = [];
    const ended = new Promise((resolve) => {
      w.on('data', (m) => {
        seen.push(m.status);
        if (seen.length === 1) s.proc.kill('SIGTERM');
      });
      w.on('error', (e) => resolve(e.code));
      w.on('end', () => resolve('end'));
    });
    const how = await ended;
    assert.deepEqual(seen, ['SERVING', 'NOT_SERVING']);
    assert.equal(how, grpc.status.UNAVAILABLE);
  } finally {
    if (h) h.close();
    s.stop();
  }
});

test('SIGTERM drains: the in-flight call finishes, the process exits', async () => {
  const s = await startServer('127.0.0.1', testVerbs ? ['--drain-ms', '3000'] : []);
  const c = new cam.SyscallService(s.addr, grpc.credentials.createInsecure());
  try {
    if (testVerbs) {
      const inflight = call(c, 'Execute', { verb: 'sleep', payload: '500' });
      await new Promise((r) => setTimeout(r, 100));
      s.proc.kill('SIGTERM');
      const r = await inflight;
      assert.equal(r.result, 'slept');
    } else {
      // Under load: every call is answered OK, or refused as UNAVAILABLE
      // when it came after the GOAWAY; nothing else.
      await call(c, 'Execute', { verb: 'ping', payload: 'w:1' });
      const calls = [];
      for (let i = 0; i < 500; i++) {
        calls.push(call(c, 'Execute', { verb: 'ping', payload: `i:${i}` })
          .then(() => 0, (e) => e.code));
      }
      s.proc.kill('SIGTERM');
      const codes = await Promise.all(calls);
      assert.ok(codes.every((x) => x === 0 || x === grpc.status.UNAVAILABLE), codes.join());
    }
    const t0 = Date.now();
    const ex = await s.exited;
    assert.equal(ex.code, 0);
    assert.ok(Date.now() - t0 < 5000);
  } finally {
    c.close();
    s.stop();
  }
});
