// A steady stream of Execute(ping) calls from @grpc/grpc-js, for the
// connection-lifetime and fleet tests: K concurrent callers for D seconds
// over one client, every failure counted by status code.
//
// usage: node steady_client.js TARGET SECONDS [CALLERS]
// Prints one JSON object: calls, ok, failed, codes.
//
// SPDX-License-Identifier: Apache-2.0
'use strict';

const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const [target, seconds, callers = '4'] = process.argv.slice(2);
const pkgDef = protoLoader.loadSync(path.join(__dirname, '..', '..', 'proto', 'cam.proto'), {
  keepCase: true, longs: String, enums: String, defaults: true, oneofs: true,
});
const cam = grpc.loadPackageDefinition(pkgDef).cam;
const client = new cam.SyscallService(target, grpc.credentials.createInsecure());
const stopAt = Date.now() + Number(seconds) * 1000;
const stats = { calls: 0, ok: 0, failed: 0, codes: {} };

function one() {
  return new Promise((resolve) => {
    client.Execute({ verb: 'ping', payload: 'msg:steady' }, new grpc.Metadata(),
      { deadline: new Date(Date.now() + 5000), waitForReady: true }, (err) => {
        stats.calls++;
        if (err) {
          stats.failed++;
          const name = grpc.status[err.code] || String(err.code);
          stats.codes[name] = (stats.codes[name] || 0) + 1;
        } else {
          stats.ok++;
        }
        resolve();
      });
  });
}

async function caller() {
  while (Date.now() < stopAt) await one();
}

Promise.all(Array.from({ length: Number(callers) }, caller)).then(() => {
  client.close();
  console.log(JSON.stringify(stats));
});
