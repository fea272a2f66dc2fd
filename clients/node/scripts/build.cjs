// The build: stubs from proto/cam.proto (protoc with ts-proto) into
// src/gen/, the library compiled to CommonJS in dist/cjs/ (with .d.ts),
// and the ESM entry dist/esm/index.mjs re-exporting it, so `import` and
// `require` share one copy of the classes (instanceof holds across both).
//
// Needs protoc (Debian: protobuf-compiler) and a CAM-OS checkout around
// this folder (or CAM_PROTO_DIR naming the folder of cam.proto).
//
// SPDX-License-Identifier: Apache-2.0
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const protoDir = process.env.CAM_PROTO_DIR || path.resolve(root, '..', '..', 'proto');

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.error || r.status !== 0) {
    console.error(`@cam-os/client: ${cmd} failed${r.error ? `: ${r.error.message}` : ''}`);
    process.exit(1);
  }
}

function packageDir(name) {
  return path.dirname(require.resolve(`${name}/package.json`, { paths: [root] }));
}

function generateStubs() {
  if (!fs.existsSync(path.join(protoDir, 'cam.proto'))) {
    console.error(`@cam-os/client: ${protoDir}/cam.proto not found: build from a CAM-OS checkout`);
    process.exit(1);
  }
  fs.mkdirSync(path.join(root, 'src', 'gen'), { recursive: true });
  run('protoc', [
    `--plugin=protoc-gen-ts_proto=${path.join(packageDir('ts-proto'), 'protoc-gen-ts_proto')}`,
    '--ts_proto_out=src/gen',
    // Encoders and decoders only: no JSON or service code (the client
    // makes its own calls on grpc-js).
    '--ts_proto_opt=env=node,outputJsonMethods=false,outputPartialMethods=false,outputServices=false,esModuleInterop=true',
    `-I${protoDir}`, path.join(protoDir, 'cam.proto'),
  ]);
}

function compile() {
  fs.rmSync(path.join(root, 'dist'), { recursive: true, force: true });
  run(process.execPath, [path.join(packageDir('typescript'), 'bin', 'tsc'), '-p', 'tsconfig.json']);
}

function writeEsmEntry() {
  const names = Object.keys(require(path.join(root, 'dist', 'cjs', 'index.js')));
  const esm = path.join(root, 'dist', 'esm');
  fs.mkdirSync(esm, { recursive: true });
  fs.writeFileSync(path.join(esm, 'index.mjs'),
    `// Written by scripts/build.cjs: the CommonJS build, as ES module exports.\n` +
    `import cjs from '../cjs/index.js';\n\n` +
    `export const { ${names.join(', ')} } = cjs;\n`);
  fs.writeFileSync(path.join(esm, 'index.d.mts'), `export * from '../cjs/index.js';\n`);
}

generateStubs();
compile();
writeEsmEntry();
