// CPU per call of @cam-os/client against bare grpc-js calls making the same
// Execute (ping, msg:hello), side by side, one call at a time and 32 in
// flight. Two bare sides: grpc-js's makeUnaryRequest with the library's own
// generated codec (the least a call can cost: the target is against it), and
// the usual proto-loader client (for reference). CPU is this process's
// user+system time (process.cpuUsage); the kernel runs in another process.
// Rounds alternate the order; each ratio is taken within a round, and the
// median and range of the rounds are printed.
//
// usage: node clients_node.js HOST:PORT [ROUNDS] [CALLS]
//
// SPDX-License-Identifier: Apache-2.0
'use strict';

const path = require('node:path');
const { createRequire } = require('node:module');

const LIB_DIR = path.resolve(__dirname, '..', '..', 'clients', 'node');
const lib = require(LIB_DIR);
const libRequire = createRequire(path.join(LIB_DIR, 'package.json'));
const grpc = libRequire('@grpc/grpc-js');
const protoLoader = libRequire('@grpc/proto-loader');
const { SyscallRequest, SyscallResponse } = require(path.join(LIB_DIR, 'dist', 'cjs', 'gen', 'cam.js'));

const [addr, roundsArg, callsArg] = process.argv.slice(2);
const ROUNDS = Number(roundsArg || 15);
const CALLS = Number(callsArg || 1000);
const CONCURRENCY = 32;

function sides() {
  const lean = new grpc.Client(addr, grpc.credentials.createInsecure());
  const ser = (m) => { const u = SyscallRequest.encode(m).finish(); return Buffer.from(u.buffer, u.byteOffset, u.byteLength); };
  const de = (b) => SyscallResponse.decode(b);
  const leanCall = () => new Promise((resolve, reject) => {
    lean.makeUnaryRequest('/cam.SyscallService/Execute', ser, de,
      { verb: 'ping', payload: 'msg:hello', callerId: '', data: Buffer.alloc(0) },
      new grpc.Metadata(), { deadline: Date.now() + 10000 }, (e, r) => (e ? reject(e) : resolve(r)));
  });
  const def = protoLoader.loadSync(path.join(LIB_DIR, '..', '..', 'proto', 'cam.proto'),
    { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  const Stub = grpc.loadPackageDefinition(def).cam.SyscallService;
  const stub = new Stub(addr, grpc.credentials.createInsecure());
  const loaderCall = () => new Promise((resolve, reject) => {
    stub.Execute({ verb: 'ping', payload: 'msg:hello' }, { deadline: Date.now() + 10000 },
      (e, r) => (e ? reject(e) : resolve(r)));
  });
  const cam = new lib.Client({ address: addr });
  return { 'grpc-js, same codec': leanCall, '@cam-os/client': () => cam.ping({ msg: 'hello' }),
    'grpc-js + proto-loader': loaderCall };
}

async function run(call, n, inFlight) {
  const worker = async (k) => { for (let i = 0; i < k; i++) await call(); };
  await Promise.all(Array.from({ length: inFlight }, () => worker(Math.floor(n / inFlight))));
}

async function measure(call, n, inFlight) {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await run(call, n, inFlight);
  const c = process.cpuUsage(c0);
  return [(c.user + c.system) / n, Number(process.hrtime.bigint() - t0) / 1e3 / n];
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function compare(title, all, inFlight) {
  const names = Object.keys(all);
  for (const name of names) await run(all[name], CALLS, inFlight); // warm up: JIT, connections
  const rows = Object.fromEntries(names.map((n) => [n, []]));
  const ratios = { lean: [], loader: [] };
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 ? [...names].reverse() : names;
    const got = {};
    for (const name of order) got[name] = await measure(all[name], CALLS, inFlight);
    for (const name of names) rows[name].push(got[name]);
    ratios.lean.push(got['@cam-os/client'][0] / got['grpc-js, same codec'][0]);
    ratios.loader.push(got['@cam-os/client'][0] / got['grpc-js + proto-loader'][0]);
  }
  console.log(`-- ${title}: ${ROUNDS} rounds of ${CALLS} calls`);
  for (const [name, xs] of Object.entries(rows)) {
    const cpus = xs.map((x) => x[0]);
    console.log(`   ${name.padEnd(24)} CPU ${median(cpus).toFixed(1).padStart(6)} us/call (range ` +
      `${Math.min(...cpus).toFixed(1)}-${Math.max(...cpus).toFixed(1)}), wall ${median(xs.map((x) => x[1])).toFixed(1)} us/call`);
  }
  const show = (xs) => `median ${median(xs).toFixed(3)} (range ${Math.min(...xs).toFixed(3)}-${Math.max(...xs).toFixed(3)})`;
  console.log(`   ratio @cam-os/client / grpc-js same codec: ${show(ratios.lean)}; target <= 1.2`);
  console.log(`   ratio @cam-os/client / grpc-js + proto-loader: ${show(ratios.loader)}`);
}

(async () => {
  const all = sides();
  await compare('TypeScript, one call at a time', all, 1);
  await compare(`TypeScript, ${CONCURRENCY} calls in flight`, all, CONCURRENCY);
  process.exit(0);
})();
