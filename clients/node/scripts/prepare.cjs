// npm's `prepare` (npm install of this folder, npm ci, npm pack): build.
//
// npm links a folder installed from outside the project and installs none
// of its dependencies, and the build needs its devDependencies (typescript,
// ts-proto) in any case: when they cannot be found from here, they are
// installed into this folder first (npm ci, from package-lock.json).
//
// SPDX-License-Identifier: Apache-2.0
'use strict';

const { spawnSync } = require('node:child_process');
const path = require('node:path');
const fs = require('node:fs');

const root = path.resolve(__dirname, '..');
const NEEDED = ['typescript', 'ts-proto', '@grpc/grpc-js', '@bufbuild/protobuf'];
// Settings of the outer npm command that must not reach the inner one
// (--global, --omit=dev, --install-links...): only these are kept.
const KEEP = /^npm_config_(registry|cache|userconfig|globalconfig|cafile|ca|proxy|https_proxy|noproxy|strict_ssl|offline|prefer_offline|prefer_online|fetch_.*|omit_lockfile_registry_resolved|loglevel)$/i;

function missing() {
  return NEEDED.filter((name) => {
    try {
      require.resolve(name, { paths: [root] });
      return false;
    } catch {
      return true;
    }
  });
}

function installDependencies(names) {
  console.error(`@cam-os/client: installing its build dependencies (${names.join(', ')} missing)`);
  const env = Object.fromEntries(Object.entries(process.env).filter(
    ([k]) => !/^npm_/i.test(k) || KEEP.test(k)));
  const ci = fs.existsSync(path.join(root, 'package-lock.json'));
  const r = spawnSync('npm', [ci ? 'ci' : 'install', '--ignore-scripts', '--no-audit', '--no-fund',
    '--include=dev', '--loglevel=error'], { cwd: root, env, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error('@cam-os/client: npm could not install the build dependencies');
    process.exit(1);
  }
}

const absent = missing();
if (absent.length) installDependencies(absent);
require('./build.cjs');
