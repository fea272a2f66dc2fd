// Shared helpers of the node interop tests: start the server under test on
// a free loopback port, wait for its "listening on HOST:PORT" line, and
// kill it by PID whatever happens.
//
// SPDX-License-Identifier: Apache-2.0
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const net = require('node:net');

const ROOT = path.resolve(__dirname, '..', '..');
const SERVER_BIN = process.env.CAM_GRPC_SERVER_BIN ||
  path.join(ROOT, 'build', 'tests', 'tools', 'grpc_test_server');
const PROTO_DIR = path.join(ROOT, 'proto');
let serial = 0;
// Bus sockets of the servers started here, removed when the tests end.
const RUN_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'cam-interop-'));
process.on('exit', () => fs.rmSync(RUN_DIR, { recursive: true, force: true }));

// Starts the server on host (port 0: the OS picks a free one).
// Resolves to { addr, port, proc, stop() }.
function startServer(host = '127.0.0.1', extraArgs = []) {
  const listen = host.includes(':') ? `[${host}]:0` : `${host}:0`;
  // A bus address of its own, for servers that publish (cam-kernel).
  const bus = `ipc://${RUN_DIR}/bus-${++serial}.ipc`;
  const proc = spawn(SERVER_BIN, ['--grpc-listen', listen, ...extraArgs], {
    // and a data directory of its own (cam-kernel's durable store).
    env: { ...process.env, CAM_GRPC_LISTEN: listen, CAM_BUS_ADDR: bus,
           CAM_DATA_DIR: `${RUN_DIR}/data-${serial}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`server did not print "listening on" in 10 s:\n${out}`));
    }, 10000);
    const onData = (chunk) => {
      out += chunk.toString();
      // "listening on HOST:PORT" (grpc_test_server) or a JSON log line
      // with "grpc_port" (cam-kernel).
      const m = out.match(/listening on \S+:(\d+)/) || out.match(/"grpc_port":\s*(\d+)/);
      if (!m) return;
      clearTimeout(timer);
      const port = Number(m[1]);
      const addr = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
      resolve({
        addr, port, host, proc,
        exited: new Promise((res) => proc.once('exit', (code, sig) => res({ code, sig }))),
        stop() {
          if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
        },
      });
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}) before listening:\n${out}`));
    });
  });
}

// Opens a raw TCP connection, writes bytes and resolves when the server
// closes it (rejects if it stays open longer than ms).
function sendRawAndWaitClose(host, port, bytes, ms = 3000) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port }, () => sock.write(bytes));
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('connection still open'));
    }, ms);
    sock.on('data', () => {});
    sock.on('error', () => {});
    sock.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

module.exports = { startServer, sendRawAndWaitClose, PROTO_DIR, SERVER_BIN };
