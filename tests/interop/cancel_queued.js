// A client that gives up on a queued driver invoke, with @grpc/grpc-js
// (a client that can cancel a call, which grpcio's blocking stubs cannot):
// call A holds the only instance of the hang driver (sleep MS), call B
// waits behind it and is cancelled after 200 ms. Prints one JSON line:
// { a: code, b: code, a_ms, b_ms }. The kernel side (B never reaches the
// driver, B is logged CANCELLED) is checked by the calling test.
// usage: node cancel_queued.js HOST:PORT SLEEP_MS
//
// SPDX-License-Identifier: Apache-2.0
'use strict';

const grpc = require('@grpc/grpc-js');

// SyscallRequest: verb = 1, payload = 2 (strings), encoded by hand.
function field(num, s) {
  const b = Buffer.from(s);
  return Buffer.concat([Buffer.from([(num << 3) | 2, b.length]), b]);
}
function request(verb, payload) {
  return Buffer.concat([field(1, verb), field(2, payload)]);
}

const [addr, sleepMs] = process.argv.slice(2);
const client = new grpc.Client(addr, grpc.credentials.createInsecure());
const path = '/cam.SyscallService/Execute';
const id = (x) => x;
const t0 = Date.now();
const out = {};

function invoke(name, payload) {
  return new Promise((resolve) => {
    const call = client.makeUnaryRequest(path, id, id, request('driver_invoke', payload),
      new grpc.Metadata(), { deadline: Date.now() + 20000 }, (err) => {
        out[name] = err ? grpc.status[err.code] : 'OK';
        out[`${name}_ms`] = Date.now() - t0;
        resolve();
      });
    if (name === 'b')
      setTimeout(() => call.cancel(), 200);
  });
}

(async () => {
  const a = invoke('a', `driver:hang,operation:sleep,payload:${sleepMs}`);
  await new Promise((r) => setTimeout(r, 50));
  const b = invoke('b', 'driver:hang,operation:echo,payload:never');
  await Promise.all([a, b]);
  console.log(JSON.stringify(out));
  client.close();
})();
