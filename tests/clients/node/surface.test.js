// The library's surface: a method for every verb of the kernel's registry
// (and of DESIGN.md's policy and agent verbs), one copy of the classes
// whether imported or required, the .d.ts shipped and strict enough to
// refuse wrong calls, and a version that moves with the kernel's.
//
// SPDX-License-Identifier: Apache-2.0
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { ROOT, LIB_DIR, lib, libRequire } = require('./harness');

// DESIGN.md, "Identity, ownership and policy": verbs another issue adds.
const DESIGN_VERBS = ['policy_query', 'policy_update', 'agent_register', 'agent_revoke', 'agent_list'];

function kernelVerbs() {
  const dir = path.join(ROOT, 'kernel', 'syscall');
  const names = new Set();
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.c'))) {
    for (const m of fs.readFileSync(path.join(dir, f), 'utf8').matchAll(/\{\s*\.name\s*=\s*"([a-z_0-9]+)",\s*\.fn\s*=/g)) {
      names.add(m[1]);
    }
  }
  return names;
}

const camel = (verb) => verb.replace(/_([a-z])/g, (_, c) => c.toUpperCase());

test('every verb has a method', () => {
  const verbs = kernelVerbs();
  for (const v of ['ping', 'context_write', 'tpm_sign', 'driver_invoke', 'tune_system']) assert.ok(verbs.has(v), v);
  for (const v of [...verbs, ...DESIGN_VERBS]) {
    assert.equal(typeof lib.Client.prototype[camel(v)], 'function', `${v} -> ${camel(v)}`);
  }
});

test('ESM and CommonJS share one copy of the classes', async () => {
  const esm = await import(path.join(LIB_DIR, 'dist', 'esm', 'index.mjs'));
  assert.equal(esm.Client, lib.Client);
  assert.equal(esm.NotFoundError, lib.NotFoundError);
  assert.deepEqual(Object.keys(esm).sort(), Object.keys(lib).sort());
});

test('type declarations shipped, and strict', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(LIB_DIR, 'package.json'), 'utf8'));
  for (const f of [pkg.types, pkg.exports['.'].import.types, pkg.exports['.'].require.types]) {
    assert.ok(fs.existsSync(path.join(LIB_DIR, f)), f);
  }
  const tsc = path.join(path.dirname(libRequire.resolve('typescript/package.json')), 'bin', 'tsc');
  // typecheck.ts uses the library as an application would, and marks the
  // calls the declarations must refuse with @ts-expect-error.
  execFileSync(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'nodenext',
    '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node',
    '--typeRoots', path.join(LIB_DIR, 'node_modules', '@types'), path.join(__dirname, 'typecheck.ts')],
  { stdio: 'pipe' });
});

test('versions move with the kernel\'s', () => {
  const version = fs.readFileSync(path.join(ROOT, 'common', 'version.h'), 'utf8').match(/CAM_VERSION\s+"([^"]+)"/)[1];
  assert.equal(lib.VERSION, version);
  assert.equal(JSON.parse(fs.readFileSync(path.join(LIB_DIR, 'package-lock.json'), 'utf8')).version, version);
});
