// What the node client tests share: the library (built in clients/node),
// the kernels of the Python harness (../fixtures.py, started once per test
// file and stopped when this process ends, however it ends), and a kernel
// of the test's own for restarts, killed by PID.
//
// SPDX-License-Identifier: Apache-2.0
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { createRequire } = require('node:module');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const BUILD = path.join(ROOT, process.env.BUILD || 'build');
const LIB_DIR = path.join(ROOT, 'clients', 'node');
const lib = require(LIB_DIR);
// Test-only packages are the library's devDependencies.
const libRequire = createRequire(path.join(LIB_DIR, 'package.json'));

let fixtureProc;

/** Starts the named fixtures (main, auth, tls, mtls); resolves to their
 * description (addresses, tokens, PKI files). */
function fixtures(...names) {
  fixtureProc = spawn('/usr/bin/python3', [path.join(__dirname, '..', 'fixtures.py'), ...names], {
    stdio: ['pipe', 'pipe', 'inherit'], env: process.env,
  });
  let out = '';
  return new Promise((resolve, reject) => {
    fixtureProc.stdout.on('data', (chunk) => {
      out += chunk;
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)));
    });
    fixtureProc.once('exit', (code) => reject(new Error(`fixtures.py exited ${code}: ${out}`)));
  });
}

function stopFixtures() {
  if (fixtureProc) fixtureProc.stdin.end();
}

/** cam-kernel on 127.0.0.1:port with its own folders; resolves once it
 * listens, to { address, port, stop() }. */
function startKernel(port, dir, extraArgs = []) {
  fs.mkdirSync(dir, { recursive: true });
  const log = fs.openSync(path.join(dir, 'kernel.log'), 'a');
  const logStart = fs.fstatSync(log).size;
  const proc = spawn('setpriv', ['--pdeathsig', 'KILL', path.join(BUILD, 'cam-kernel'),
    '--grpc-listen', `127.0.0.1:${port}`, '--bus-addr', `ipc://${dir}/bus-${Date.now()}.ipc`,
    ...extraArgs], {
    stdio: ['ignore', log, log],
    env: { ...process.env, CAM_DATA_DIR: path.join(dir, 'data'), XDG_STATE_HOME: path.join(dir, 'state') },
  });
  fs.closeSync(log);
  if (process.env.CAM_TEST_PIDFILE) fs.appendFileSync(process.env.CAM_TEST_PIDFILE, `${proc.pid}\n`);
  const exited = new Promise((res) => proc.once('exit', res));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await exited;
  };
  process.once('exit', () => proc.kill('SIGKILL'));
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const poll = () => {
      const text = fs.readFileSync(path.join(dir, 'kernel.log'), 'utf8').slice(logStart);
      const m = text.match(/"grpc_port":(\d+)/);
      if (m) return resolve({ address: `127.0.0.1:${m[1]}`, port: Number(m[1]), stop });
      if (proc.exitCode !== null || Date.now() - t0 > 15000) {
        return reject(new Error(`kernel did not start:\n${text}`));
      }
      setTimeout(poll, 50);
    };
    poll();
  });
}

/** A free loopback port (the OS picks one, then it is closed). */
function freePort() {
  const net = require('node:net');
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

module.exports = { ROOT, LIB_DIR, lib, libRequire, fixtures, stopFixtures, startKernel, freePort };
