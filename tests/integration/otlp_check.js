#!/usr/bin/env node
// Checks what tests/integration/otlp_receiver.js received from cam-exporter
// against the exporter's own Prometheus protobuf exposition of the same
// snapshots (decoded with protobufjs and proto/prometheus/metrics.proto) and
// against the calls the test made. The OTLP side was decoded by the
// receiver with the OpenTelemetry project's generated code. Prints one
// "ok ..." or "FAIL ..." line per check; exits 1 on any failure.
//
//   otlp_check.js mapping RECV EXPORTER TRACE_ID ATTRS_JSON
//   otlp_check.js logs RECV TRACE_ID
//   otlp_check.js restart RECV OLD_INSTANCE_ID
//   otlp_check.js retry-after RECV SIGNAL MIN_MS
//   otlp_check.js ordered RECV              (points' times never go back)
// RECV and EXPORTER are http://host:port; ATTRS_JSON the resource
// attributes the kernel's resource must carry ({"k8s.pod.name": ...}).
//
// SPDX-License-Identifier: Apache-2.0
'use strict';
const http = require('http');
const path = require('path');
const protobuf = require(path.join(__dirname, 'otlp', 'node_modules', 'protobufjs'));

let failures = 0;
function ok(what) { console.log('ok   ' + what); }
function fail(what, detail) { failures++; console.log('FAIL ' + what + (detail ? ': ' + detail : '')); }
function expect(cond, what, detail) { if (cond) ok(what); else fail(what, detail); }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function get(url, headers) {
  return new Promise((resolve, reject) => {
    http.get(url, { headers: headers || {} }, (res) => {
      const c = [];
      res.on('data', (d) => c.push(d));
      res.on('end', () => resolve(Buffer.concat(c)));
    }).on('error', reject);
  });
}
const requests = async (recv, signal) => JSON.parse(await get(recv + '/requests?signal=' + signal));

let MF;
async function scrape(exporter) {
  if (!MF) {
    const root = await protobuf.load(path.join(__dirname, '..', '..', 'proto', 'prometheus', 'metrics.proto'));
    MF = root.lookupType('io.prometheus.client.MetricFamily');
  }
  const buf = await get(exporter + '/metrics', {
    Accept: 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited',
  });
  const r = protobuf.Reader.create(buf), fams = {};
  while (r.pos < r.len) {
    const f = MF.toObject(MF.decodeDelimited(r), { longs: Number, enums: Number, defaults: false });
    fams[f.name] = f;
  }
  return fams;
}

const EXPORTER_OWNED = /^(cam_os_kernel_up|cam_os_exporter_|cam_os_otlp_)/;
const str = (kv) => (kv.value || {}).stringValue;
function attrs(list) {
  const o = {};
  for (const kv of list || []) o[kv.key] = str(kv) !== undefined ? str(kv) : kv.value;
  return o;
}
function x_prev(rec) { return rec.a.prev || ''; }
function promKey(labels) {
  return (labels || []).filter((l) => l.value).map((l) => l.name + '=' + l.value).sort().join(',');
}
function otlpKey(attributes) {
  return (attributes || []).map((kv) => kv.key + '=' + str(kv)).sort().join(',');
}
function resourceOf(req, service) {
  return (req.body.resourceMetrics || []).find((rm) => attrs(rm.resource.attributes)['service.name'] === service);
}
function metricsOf(rm) {
  const m = {};
  for (const sm of rm.scopeMetrics || []) for (const x of sm.metrics || []) m[x.name] = x;
  return m;
}
function pointsOf(m) {
  const d = m.sum || m.gauge || m.histogram || m.exponentialHistogram || {};
  const o = {};
  for (const p of d.dataPoints || []) o[otlpKey(p.attributes)] = p;
  return o;
}
const num = (v) => (v === undefined ? 0 : Number(v));

// Native buckets of a Prometheus histogram as {index: count}.
function promNative(spans, deltas) {
  const out = {};
  let idx = 0, k = 0, c = 0;
  for (const s of spans || []) {
    idx += s.offset || 0;
    for (let j = 0; j < (s.length || 0); j++, idx++) {
      c += Number(deltas[k++]);
      if (c) out[idx] = c;
    }
  }
  return out;
}
// OTLP exponential buckets as {prometheus index: count}: OTel bucket i is
// Prometheus bucket i + 1 at the same scale/schema.
function otlpNative(b) {
  const out = {};
  const counts = (b && b.bucketCounts) || [];
  for (let k = 0; k < counts.length; k++)
    if (Number(counts[k])) out[num(b.offset) + k + 1] = Number(counts[k]);
  return out;
}
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
function sorted(o) { const r = {}; for (const k of Object.keys(o).sort((x, y) => x - y)) r[k] = o[k]; return r; }

function isNative(h) { return h && (h.schema !== undefined || h.positiveSpan || h.zeroThreshold !== undefined); }

// One family: type, temporality, unit, description; values when stable.
function checkFamily(pf, pfB, m, startNs, problems, counts) {
  const name = pf.name;
  const stable = same(pf.metric, pfB && pfB.metric);
  if (m.description !== (pf.help || '')) problems.push(name + ': description');
  const base = name.replace(/_total$/, '');
  if (/_seconds$/.test(base) && m.unit !== 's') problems.push(name + ': unit ' + m.unit);
  if (/_bytes$/.test(base) && m.unit !== 'By') problems.push(name + ': unit ' + m.unit);
  const pts = pointsOf(m);
  let wantType = pf.type === 0 ? 'sum' : pf.type === 1 ? 'gauge'
    : (pf.metric || []).some((x) => isNative(x.histogram)) ? 'exponentialHistogram' : 'histogram';
  // A histogram family with no series yet says nothing of native buckets.
  const empty = wantType === 'histogram' && !(pf.metric || []).length && m.exponentialHistogram;
  if (empty) wantType = 'exponentialHistogram';
  if (!m[wantType]) { problems.push(name + ': is not ' + wantType); return; }
  counts[wantType] = (counts[wantType] || 0) + 1;
  if (wantType !== 'gauge' && m[wantType].aggregationTemporality !== 2) problems.push(name + ': not cumulative');
  if (wantType === 'sum' && m.sum.isMonotonic !== true) problems.push(name + ': not monotonic');
  if (Object.keys(pts).length !== (pf.metric || []).length) problems.push(name + ': series count');
  for (const pm of pf.metric || []) {
    const p = pts[promKey(pm.label)];
    if (!p) { problems.push(name + '{' + promKey(pm.label) + '}: missing'); continue; }
    if (wantType !== 'gauge' && String(p.startTimeUnixNano) !== String(startNs)) problems.push(name + ': start time ' + p.startTimeUnixNano);
    if (!stable) continue;
    counts.compared = (counts.compared || 0) + 1;
    if (wantType === 'sum' && num(p.asDouble) !== num(pm.counter.value)) problems.push(name + ': value');
    if (wantType === 'gauge' && num(p.asDouble) !== num(pm.gauge.value)) problems.push(name + ': value');
    if (wantType === 'histogram') {
      const h = pm.histogram, bounds = [], per = [];
      let prev = 0;
      for (const b of h.bucket || []) {
        if (b.upperBound === Infinity) continue;
        bounds.push(b.upperBound);
        per.push(num(b.cumulativeCount) - prev);
        prev = num(b.cumulativeCount);
      }
      per.push(num(h.sampleCount) - prev);
      if (!same((p.explicitBounds || []).map(Number), bounds)) problems.push(name + ': bounds');
      if (!same((p.bucketCounts || []).map(Number), per)) problems.push(name + ': bucket counts');
      if (num(p.count) !== num(h.sampleCount) || num(p.sum) !== num(h.sampleSum)) problems.push(name + ': count/sum');
    }
    if (wantType === 'exponentialHistogram') {
      const h = pm.histogram;
      if (num(p.scale) !== num(h.schema)) problems.push(name + ': scale ' + p.scale + ' schema ' + h.schema);
      if (num(p.zeroCount) !== num(h.zeroCount)) problems.push(name + ': zero count');
      if (!same(sorted(otlpNative(p.positive)), sorted(promNative(h.positiveSpan, h.positiveDelta))))
        problems.push(name + ': positive buckets');
      if (!same(sorted(otlpNative(p.negative)), sorted(promNative(h.negativeSpan, h.negativeDelta))))
        problems.push(name + ': negative buckets');
      if (num(p.count) !== num(h.sampleCount) || num(p.sum) !== num(h.sampleSum)) problems.push(name + ': count/sum');
      counts.nativeBuckets = (counts.nativeBuckets || 0) + Object.keys(promNative(h.positiveSpan, h.positiveDelta)).length;
    }
  }
}

async function mapping(recv, exporter, traceId, wantAttrs) {
  const before = (await requests(recv, 'metrics')).length;
  const A = await scrape(exporter);
  // The first push after the scrape that carries the kernel's resource (a
  // push made while the kernel's snapshot was stale carries none).
  let push;
  const service = wantAttrs['service.name'] || 'cam-kernel';
  for (let i = 0; i < 150 && !push; i++) {
    const r = (await requests(recv, 'metrics')).slice(before);
    push = r.find((q) => resourceOf(q, service));
    if (!push) await sleep(100);
  }
  if (!push) return fail('a metrics push after the scrape');
  const B = await scrape(exporter);
  const kr = resourceOf(push, (wantAttrs['service.name'] || 'cam-kernel'));
  const er = resourceOf(push, 'cam-exporter');
  if (!kr || !er) return fail('the kernel and exporter resources', JSON.stringify(push.body).slice(0, 300));
  const ra = attrs(kr.resource.attributes);
  for (const [k, v] of Object.entries(wantAttrs))
    expect(ra[k] === v, 'resource attribute ' + k + '=' + v, 'got ' + ra[k]);
  expect(/^[0-9a-f]{32}$/.test(ra['service.instance.id'] || ''), 'service.instance.id is the kernel instance id');
  expect(push.headers['x-api-key'] === 's3cret', 'CAM_OTLP_HEADERS sent (x-api-key)');
  const km = metricsOf(kr), em = metricsOf(er);
  const kernelNames = Object.keys(A).filter((n) => !EXPORTER_OWNED.test(n)).sort();
  const missing = kernelNames.filter((n) => !km[n]);
  const extra = Object.keys(km).filter((n) => !A[n]);
  expect(!missing.length && !extra.length, 'every kernel family of the scrape is pushed, and no other (' + kernelNames.length + ')',
    'missing ' + missing.join(' ') + ' extra ' + extra.join(' '));
  const starts = new Set();
  for (const m of Object.values(km)) for (const p of Object.values(pointsOf(m))) if (p.startTimeUnixNano) starts.add(String(p.startTimeUnixNano));
  expect(starts.size === 1, 'one start time for every cumulative point (the kernel start)', [...starts].join(' '));
  const startNs = [...starts][0];
  const problems = [], counts = {};
  for (const n of kernelNames) if (km[n]) checkFamily(A[n], B[n], km[n], startNs, problems, counts);
  expect(!problems.length, 'type, temporality, monotonicity, unit, description and (stable) values of every family: ' +
    JSON.stringify(counts), problems.slice(0, 10).join('; '));
  expect((counts.exponentialHistogram || 0) >= 2 && (counts.nativeBuckets || 0) >= 3,
    'exponential histograms compared bucket by bucket with the native histograms', JSON.stringify(counts));
  const dur = km.cam_os_syscall_duration_seconds && pointsOf(km.cam_os_syscall_duration_seconds)['verb=ping'];
  const ex = dur && (dur.exemplars || [])[0];
  expect(ex && ex.traceId === traceId && /^[0-9a-f]{16}$/.test(ex.spanId) && ex.asDouble > 0,
    'exemplar on the ping latency carries the call\'s trace id and a span id', JSON.stringify(ex));
  const up = em.cam_os_kernel_up && Object.values(pointsOf(em.cam_os_kernel_up))[0];
  expect(up && num(up.asDouble) === 1, 'the exporter\'s resource carries cam_os_kernel_up 1');
  const eNames = Object.keys(A).filter((n) => EXPORTER_OWNED.test(n));
  expect(eNames.every((n) => em[n]), 'every exporter family of the scrape is pushed under service.name cam-exporter',
    eNames.filter((n) => !em[n]).join(' '));
}

async function logs(recv, traceId) {
  const reqs = await requests(recv, 'logs');
  const recs = [];
  for (const r of reqs) for (const rl of r.body.resourceLogs || []) for (const sl of rl.scopeLogs || [])
    for (const lr of sl.logRecords || []) recs.push({ rl, sl, lr, a: attrs(lr.attributes) });
  const traced = recs.filter((x) => x.a.syscall === 'ping' && x.lr.traceId === traceId);
  expect(traced.length > 0, 'the traced ping\'s access line is a LogRecord with the call\'s trace id');
  const t = traced[traced.length - 1];
  if (t) {
    expect(/^[0-9a-f]{16}$/.test(t.lr.spanId || ''), 'and its span id', t.lr.spanId);
    expect(t.lr.severityNumber === 9 && t.lr.severityText === 'INFO', 'severity INFO (9)');
    expect(t.lr.body && t.lr.body.stringValue === 'syscall ping', 'body "syscall ping"');
    expect(t.a.component === 'syscall_dispatcher' && t.a.caller_id === 'anonymous' &&
      t.a.success && t.a.success.boolValue === true && t.a.latency_ms && t.a.latency_ms.doubleValue > 0 &&
      t.a.code === 'OK' && /./.test(t.a.request_id || ''), 'attributes named as in the JSON line, typed',
    JSON.stringify(t.a));
    expect(t.sl.scope && t.sl.scope.name === 'cam-kernel', 'scope cam-kernel');
    const mreqs = await requests(recv, 'metrics');
    const last = mreqs[mreqs.length - 1];
    const kr = last && resourceOf(last, attrs(t.rl.resource.attributes)['service.name']);
    expect(kr && same(kr.resource.attributes, t.rl.resource.attributes), 'the same resource as the metrics');
    const dur = kr && pointsOf(metricsOf(kr).cam_os_syscall_duration_seconds || {})['verb=ping'];
    const ex = dur && (dur.exemplars || [])[0];
    expect(ex && ex.spanId === t.lr.spanId, 'its span id is the span of the ping\'s exemplar (same call)',
      (ex && ex.spanId) + ' vs ' + t.lr.spanId);
  }
  const warn = recs.find((x) => x.a.syscall === 'unknown' && x.a.code === 'UNIMPLEMENTED');
  expect(warn && warn.lr.severityNumber === 13 && warn.a.success.boolValue === false,
    'a failing call is a WARN (13) record with its code', warn && JSON.stringify(warn.a));
  const audit = recs.filter((x) => x.sl.scope && x.sl.scope.name === 'cam-kernel/audit');
  const aStart = audit.find((x) => x.a.event === 'start');
  const aDeny = audit.find((x) => x.a.event === 'deny' || x.a.authorized);
  expect(aStart && /^[0-9a-f]{64}$/.test(x_prev(aStart)) && aStart.a.seq && aStart.a.seq.intValue > 0,
    'audit records too, in their own scope (the kernel start, with seq and prev)',
    JSON.stringify(audit.slice(0, 2).map((x) => x.a)));
  expect(audit.every((x) => same(x.rl.resource.attributes, t ? t.rl.resource.attributes : x.rl.resource.attributes)),
    'under the same resource', aDeny ? '' : '');
  const started = recs.find((x) => x.lr.body && x.lr.body.stringValue === 'cam-kernel started');
  expect(started && started.lr.severityNumber === 9 && Number(started.lr.timeUnixNano) > 0,
    'other kernel lines too (cam-kernel started), with their time');
}

async function restart(recv, oldInstance) {
  let found;
  for (let i = 0; i < 150 && !found; i++) {
    const r = await requests(recv, 'metrics');
    found = r.reverse().find((q) => { const k = resourceOf(q, 'cam-kernel'); return k && attrs(k.resource.attributes)['service.instance.id'] !== oldInstance; });
    if (!found) await sleep(100);
  }
  if (!found) return fail('a push from the restarted kernel');
  const r = await requests(recv, 'metrics');
  const old = r.filter((q) => { const k = resourceOf(q, 'cam-kernel'); return k && attrs(k.resource.attributes)['service.instance.id'] === oldInstance; }).pop();
  const sOld = old && Object.values(pointsOf(metricsOf(resourceOf(old, 'cam-kernel')).cam_os_syscall_total))[0].startTimeUnixNano;
  const kNew = resourceOf(found, 'cam-kernel');
  const sNew = Object.values(pointsOf(metricsOf(kNew).cam_os_syscall_total))[0].startTimeUnixNano;
  expect(old && BigInt(sNew) > BigInt(sOld), 'a kernel restart shows as a new instance id and a later start time', sOld + ' -> ' + sNew);
}

async function retryAfter(recv, signal, minMs) {
  const st = JSON.parse(await get(recv + '/stats'))[signal];
  const refusedAt = st.refused_at[st.refused_at.length - 1];
  let next;
  for (let i = 0; i < 100 && !next; i++) {
    next = (await requests(recv, signal)).find((q) => q.t_ms > refusedAt);
    if (!next) await sleep(100);
  }
  expect(next && next.t_ms - refusedAt >= minMs, 'after 429 with Retry-After the next ' + signal + ' request waited at least ' + minMs + ' ms',
    next ? (next.t_ms - refusedAt) + ' ms' : 'none came');
}

async function ordered(recv) {
  const r = await requests(recv, 'metrics');
  let last = 0n, back = 0;
  for (const q of r) {
    const k = resourceOf(q, 'cam-kernel');
    const m = k && metricsOf(k).cam_os_syscall_total;
    const p = m && Object.values(pointsOf(m))[0];
    if (!p) continue; /* no kernel, or one that has not counted a call yet */
    const t = BigInt(p.timeUnixNano);
    if (t < last) back++;
    last = t;
  }
  expect(back === 0, 'metrics pushes arrive in the order they were taken (' + r.length + ')', back + ' went back');
}

(async () => {
  const [cmd, ...a] = process.argv.slice(2);
  if (cmd === 'mapping') await mapping(a[0], a[1], a[2], JSON.parse(a[3] || '{}'));
  else if (cmd === 'logs') await logs(a[0], a[1]);
  else if (cmd === 'restart') await restart(a[0], a[1]);
  else if (cmd === 'retry-after') await retryAfter(a[0], a[1], Number(a[2]));
  else if (cmd === 'ordered') await ordered(a[0]);
  else { console.error('usage: see the header'); process.exit(2); }
  process.exit(failures ? 1 : 0);
})().catch((e) => { console.log('FAIL ' + e.stack); process.exit(1); });
