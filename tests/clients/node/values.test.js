// Values round-trip whole: binary, text and JSON with commas, colons, NUL
// and 4-byte UTF-8, up to the kernel's 1 MiB limit; payload pairs that the
// grammar can carry round-trip too, the others are refused unsent.
//
// SPDX-License-Identifier: Apache-2.0
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { lib, fixtures, stopFixtures } = require('./harness');

const MIB = 1 << 20;
const TRICKY = 'a,b:c, d: e\0f \u{1F600}\u{1F680} key:value,';
let fx;
let cam;
const ns = `node-values-${process.pid}`;

/** TRICKY repeated, padded with ASCII to exactly size UTF-8 bytes. */
function textOfSize(size) {
  const unit = Buffer.from(TRICKY);
  const body = Buffer.concat(Array(Math.floor(size / unit.length)).fill(unit));
  return Buffer.concat([body, Buffer.alloc(size - body.length, 'x')]).toString('utf8');
}

before(async () => {
  fx = await fixtures('main');
  cam = new lib.Client({ address: fx.main.address, timeoutMs: 30000 });
});

after(async () => {
  await cam.contextDelete({ namespace: ns }).catch(() => {});
  cam.close();
  stopFixtures();
});

async function roundtrip(key, value) {
  const w = await cam.contextWrite(ns, key, value);
  return [w, await cam.contextRead(ns, key, { version: w.version })];
}

test('binary, 1 MiB', async () => {
  const unit = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.from(',:\0')]);
  const value = Buffer.concat(Array(Math.ceil(MIB / unit.length)).fill(unit)).subarray(0, MIB);
  const [w, r] = await roundtrip('bin', new Uint8Array(value));
  assert.deepEqual([w.size, r.size], [MIB, MIB]);
  assert.equal(crypto.createHash('sha256').update(r.data).digest('hex'),
    crypto.createHash('sha256').update(value).digest('hex'));
});

test('text, 1 MiB', async () => {
  const value = textOfSize(MIB);
  assert.equal(Buffer.byteLength(value), MIB);
  const [w, r] = await roundtrip('text', value);
  assert.equal(w.size, MIB);
  assert.equal(r.text(), value);
});

test('JSON, 1 MiB', async () => {
  const doc = { plan: 'eat, then: sleep', nul: '\0', emoji: '\u{1F600}', list: [1, 2.5, null, true], pad: '' };
  doc.pad = textOfSize(MIB - Buffer.byteLength(JSON.stringify(doc))).replaceAll('\0', '0');
  const w = await cam.contextWriteJson(ns, 'json', doc);
  assert.equal(w.size, MIB);
  assert.deepEqual((await cam.contextRead(ns, 'json')).json(), doc);
});

test('short tricky text and the empty value', async () => {
  const [, r] = await roundtrip('short', TRICKY);
  assert.equal(r.text(), TRICKY);
  const [w, e] = await roundtrip('empty', '');
  assert.deepEqual([w.size, e.data.length], [0, 0]);
});

test('over the limit is refused', async () => {
  await assert.rejects(cam.contextWrite(ns, 'big', Buffer.alloc(MIB + 1)), lib.InvalidArgumentError);
});

test('driver input with punctuation', async () => {
  const out = await cam.driverInvoke('text_transform', 'upper', 'plan: eat, then: sleep \u{1F600}');
  assert.equal(out.output, 'PLAN: EAT, THEN: SLEEP \u{1F600}');
});

test('payload pairs round-trip; numbers as plain decimals', async () => {
  const pairs = { a: 'x,y,z', b: 'time: 12:30', c: '\u{1F600},\u{1F680}', d: '', __proto__x: 'p' };
  assert.deepEqual((await cam.ping(pairs)).echo, pairs);
  const nums = (await cam.ping({ small: 1e-7, big: 1.5e21, neg: -2.5e-8, n: 42n })).echo;
  assert.deepEqual(nums, { small: '0.0000001', big: '1500000000000000000000', neg: '-0.000000025', n: '42' });
});
