#!/usr/bin/env node
// A test OTLP/HTTP receiver on loopback. Decodes POST /v1/metrics and
// /v1/logs bodies (protobuf, gzip or not) with the protobufjs code the
// OpenTelemetry JS project generated from the official opentelemetry-proto
// files (npm @opentelemetry/otlp-transformer, tests/integration/otlp/), so
// no field number here is ours. Keeps the decoded requests (the last 500
// per signal) and serves them back as JSON:
//   GET  /requests?signal=metrics|logs   [{t_ms, headers, body}, ...]
//   GET  /stats                          {metrics: {ok, refused, bytes}, ...}
//   POST /fail {"status":429,"retry_after":"2","count":3}
//        the next `count` export requests get that status (and Retry-After)
// An undecodable body is answered 400 and counted as `bad`.
//
// usage: otlp_receiver.js PORT [--tls CERT KEY] [--keep N]  (N requests kept per signal)
//
// SPDX-License-Identifier: Apache-2.0
'use strict';
const path = require('path');
const zlib = require('zlib');
const root = require(path.join(__dirname, 'otlp', 'node_modules',
  '@opentelemetry', 'otlp-transformer', 'build', 'src', 'generated', 'root'));

const TYPES = {
  '/v1/metrics': ['metrics', root.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest],
  '/v1/logs': ['logs', root.opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest],
  '/v1/traces': ['traces', root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest],
};
const keepArg = process.argv.indexOf('--keep');
const KEEP = keepArg > 0 ? Number(process.argv[keepArg + 1]) : 500;
const kept = { metrics: [], logs: [], traces: [] };
const stats = {};
for (const s of Object.keys(kept)) stats[s] = { ok: 0, refused: 0, bad: 0, bytes: 0, refused_at: [] };
let fail = { status: 0, retryAfter: null, count: 0 };

// bytes as lower-case hex (trace and span ids), 64-bit integers as strings.
function plain(msg, type) {
  return type.toObject(msg, { longs: String, enums: Number, bytes: Array, defaults: false,
    arrays: true, oneofs: true });
}
function hexify(v) {
  if (Array.isArray(v)) return v.map(hexify);
  if (v && typeof v === 'object') {
    const o = {};
    for (const k of Object.keys(v))
      o[k] = (k === 'traceId' || k === 'spanId') ? Buffer.from(v[k]).toString('hex') : hexify(v[k]);
    return o;
  }
  return v;
}

function reply(res, status, body, headers) {
  res.writeHead(status, Object.assign({ 'content-type': 'application/json' }, headers || {}));
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

function handle(req, res) {
  const url = new URL(req.url, 'http://x');
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let raw = Buffer.concat(chunks);
    if (req.method === 'GET' && url.pathname === '/requests')
      return reply(res, 200, kept[url.searchParams.get('signal')] || []);
    if (req.method === 'GET' && url.pathname === '/stats') return reply(res, 200, stats);
    if (req.method === 'POST' && url.pathname === '/fail') {
      const f = JSON.parse(raw.toString() || '{}');
      fail = { status: f.status || 0, retryAfter: f.retry_after || null, count: f.count || 0 };
      return reply(res, 200, fail);
    }
    const t = TYPES[url.pathname];
    if (req.method !== 'POST' || !t) return reply(res, 404, { error: 'not found' });
    const [signal, type] = t;
    stats[signal].bytes += raw.length;
    if (fail.count > 0) {
      fail.count--;
      stats[signal].refused++;
      stats[signal].refused_at.push(Date.now());
      const h = fail.retryAfter ? { 'retry-after': String(fail.retryAfter) } : {};
      return reply(res, fail.status, { error: 'told to fail' }, h);
    }
    try {
      if (req.headers['content-encoding'] === 'gzip') raw = zlib.gunzipSync(raw);
      if (signal === 'traces' && /^application\/json/.test(req.headers['content-type'] || '')) {
        // Spans go out as OTLP/JSON (exporter/span_json.c): kept as sent.
        kept.traces.push({ t_ms: Date.now(), headers: req.headers, body: JSON.parse(raw) });
        if (kept.traces.length > KEEP) kept.traces.shift();
        stats.traces.ok++;
        return reply(res, 200, {});
      }
      if (!/^application\/x-protobuf/.test(req.headers['content-type'] || ''))
        throw new Error('content-type ' + req.headers['content-type']);
      const body = hexify(plain(type.decode(raw), type));
      kept[signal].push({ t_ms: Date.now(), headers: req.headers, body });
      while (kept[signal].length > KEEP) kept[signal].shift();
      stats[signal].ok++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' });
      res.end();
    } catch (e) {
      stats[signal].bad++;
      reply(res, 400, { error: String(e) });
    }
  });
}

const port = Number(process.argv[2]);
const tls = process.argv.indexOf('--tls');
const fs = require('fs');
const server = tls > 0
  ? require('https').createServer({ cert: fs.readFileSync(process.argv[tls + 1]),
    key: fs.readFileSync(process.argv[tls + 2]) }, handle)
  : require('http').createServer(handle);
server.listen(port, '127.0.0.1', () => console.log('otlp receiver on 127.0.0.1:' + port));
