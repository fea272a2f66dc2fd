// Issue 26's matrix from node's @grpc/grpc-js (an independent client: the
// messages come from proto/cam.proto through @grpc/proto-loader).
//
//   node isolation_client.js matrix SPEC.json RUN
//       the cases of SPEC (isolation_matrix.py makes it), as
//       isolation_client.py runs them: "  ok   js ..." / "  FAIL js ..."
//       lines, then "node matrix: N passed, N failed"
//   node isolation_client.js call ADDR CA [CERT KEY|- -] [TOKEN|-] VERB [PAYLOAD]
//       one call; prints "CODE result" or "CODE details"
//
// Modules come from tests/interop/node_modules (NODE_PATH).
//
// SPDX-License-Identifier: Apache-2.0
'use strict';
const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const def = loader.loadSync(path.join(__dirname, '../../proto/cam.proto'), { keepCase: true });
const cam = grpc.loadPackageDefinition(def).cam;

function client(t) {
  let creds;
  if (t.ca) {
    creds = grpc.credentials.createSsl(fs.readFileSync(t.ca),
      t.key ? fs.readFileSync(t.key) : null, t.cert ? fs.readFileSync(t.cert) : null);
  } else {
    creds = grpc.credentials.createInsecure();
  }
  return new cam.SyscallService(t.addr, creds, { 'grpc.enable_retries': 0 });
}

// Resolves to { code, result, data, details } (code: the status name).
function call(c, token, verb, payload, data) {
  const md = new grpc.Metadata();
  if (token) md.set('authorization', `Bearer ${token}`);
  return new Promise((resolve) => {
    c.Execute({ verb, payload, data: Buffer.from(data || '') }, md,
      { deadline: Date.now() + 10000 }, (err, res) => {
        if (err) {
          resolve({ code: grpc.status[err.code] || String(err.code), result: '', data: Buffer.alloc(0),
            details: err.details || '' });
        } else {
          resolve({ code: 'OK', result: res.result, data: res.data, details: '' });
        }
      });
  });
}

// The payload grammar: a token without ':' continues the last value.
function parse(result) {
  const out = {};
  let last = null;
  for (const tok of result ? result.split(',') : []) {
    const i = tok.indexOf(':');
    if (i >= 0) {
      last = tok.slice(0, i);
      out[last] = tok.slice(i + 1);
    } else if (last !== null) {
      out[last] += `,${tok}`;
    }
  }
  return out;
}

function subst(s, run, saved) {
  let r = s.split('${run}').join(run);
  for (const [k, v] of Object.entries(saved)) r = r.split('${' + k + '}').join(v);
  return r;
}

async function matrix(specPath, run) {
  const spec = JSON.parse(fs.readFileSync(specPath, 'utf8'));
  const clients = {};
  for (const [name, t] of Object.entries(spec.targets)) clients[name] = client(t);
  const saved = {};
  let passed = 0;
  let failed = 0;
  for (const c of spec.cases) {
    const payload = subst(c.payload || '', run, saved);
    const data = c.data !== undefined ? subst(c.data, run, saved) : '';
    let r;
    if (c.token !== undefined) { // a token handed out during the run
      const one = client(spec.targets.root);
      r = await call(one, subst(c.token, run, saved), c.verb, payload, data);
      one.close();
    } else {
      r = await call(clients[c.as], spec.targets[c.as].token, c.verb, payload, data);
    }
    const text = r.code === 'OK' ? r.result : r.details;
    let good = r.code === c.code;
    for (const h of c.has || []) good = good && text.includes(subst(h, run, saved));
    for (const h of c.lacks || []) good = good && !text.includes(subst(h, run, saved));
    for (const [v, key] of Object.entries(c.save || {})) {
      saved[v] = r.code === 'OK' ? (parse(r.result)[key] || '') : '';
    }
    if (c.save_data) saved[c.save_data] = r.data.toString();
    let name = `${c.as}: ${c.verb} ${payload.slice(0, 80)} -> ${c.code}`.split(/\s+/).join(' ');
    if (c.note) name += ` (${c.note})`;
    if (good) {
      passed++;
      console.log(`  ok   js ${name}`);
    } else {
      failed++;
      console.log(`  FAIL js ${name}\n       got ${r.code} ${text.slice(0, 300)}`);
    }
  }
  for (const c of Object.values(clients)) c.close();
  console.log(`node matrix: ${passed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

async function one(args) {
  const [addr, ca, cert, key, token, verb, payload] = args;
  const t = { addr, ca: ca === '-' ? null : ca, cert: cert === '-' ? null : cert,
    key: key === '-' ? null : key };
  const c = client(t);
  const r = await call(c, token === '-' ? null : token, verb, payload || '', '');
  console.log(`${r.code} ${r.code === 'OK' ? r.result : r.details}`);
  c.close();
  return 0;
}

const [cmd, ...args] = process.argv.slice(2);
(cmd === 'matrix' ? matrix(args[0], args[1]) : one(args)).then((rc) => { process.exitCode = rc; },
  (e) => { console.log(`FAIL js: ${e.stack}`); process.exitCode = 1; });
