// TLS check with node's @grpc/grpc-js: usage node tls_client.js ADDR CA_PEM
// Prints "OK <result>" or "ERROR <code> <details>". Modules come from
// tests/interop/node_modules (NODE_PATH).
//
// SPDX-License-Identifier: Apache-2.0
'use strict';
const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const [addr, ca] = process.argv.slice(2);
const def = loader.loadSync(path.join(__dirname, '../../proto/cam.proto'), { keepCase: true });
const cam = grpc.loadPackageDefinition(def).cam;
const client = new cam.SyscallService(addr, grpc.credentials.createSsl(fs.readFileSync(ca)));
client.Execute({ verb: 'ping', payload: 'from:grpc-js' }, { deadline: Date.now() + 10000 }, (err, res) => {
  if (err) console.log(`ERROR ${err.code} ${err.details}`);
  else console.log(`OK ${res.result}`);
  client.close();
});
