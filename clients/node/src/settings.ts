// Where and how to connect: options first, then the environment, then
// defaults. The names are the Python client's and the `cam` command's.
//
//   CAM_ADDR                  host:port of the kernel; else the kernel's own
//                             CAM_GRPC_LISTEN (a wildcard host becomes
//                             loopback); else 127.0.0.1:50051
//   CAM_CALLER_ID             callerId sent with every call
//   CAM_TOKEN, CAM_TOKEN_FILE bearer token (`authorization: Bearer ...`)
//   CAM_TLS                   true: TLS with the system's trust roots
//   CAM_TLS_CA_FILE           PEM trust roots for the kernel's certificate (TLS on)
//   CAM_TLS_CLIENT_CERT_FILE,
//   CAM_TLS_CLIENT_KEY_FILE   a client certificate and its key (TLS on)
//   CAM_TLS_SERVER_NAME       the name the kernel's certificate must carry
//
// SPDX-License-Identifier: Apache-2.0
import * as fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';

import { RetryOptions, RetryPolicy } from './retry';

export const DEFAULT_ADDRESS = '127.0.0.1:50051';
export const DEFAULT_TIMEOUT_MS = 10_000;

export interface ClientOptions {
  address?: string;
  callerId?: string;
  token?: string;
  tokenFile?: string;
  /** TLS with the system's roots; implied by ca/caFile/cert/certFile. */
  tls?: boolean;
  ca?: Buffer | string;
  caFile?: string;
  cert?: Buffer | string;
  certFile?: string;
  key?: Buffer | string;
  keyFile?: string;
  serverName?: string;
  /** Deadline of each call, retries included; null: none. */
  timeoutMs?: number | null;
  /** Retry policy of idempotent calls; false: never retry. */
  retry?: RetryOptions | RetryPolicy | false;
  /** Extra grpc-js channel options. */
  channelOptions?: grpc.ChannelOptions;
  /** Environment to read (default process.env). */
  env?: Record<string, string | undefined>;
}

export interface Settings {
  address: string;
  callerId: string;
  token?: string;
  credentials: grpc.ChannelCredentials;
  channelOptions: grpc.ChannelOptions;
  timeoutMs: number | null;
  retry: RetryPolicy;
}

/** A client's address for a kernel's CAM_GRPC_LISTEN: a wildcard or empty
 * host is this machine's loopback. */
export function addressFromListen(listen: string): string {
  const i = listen.lastIndexOf(':');
  if (i < 0) return listen;
  let host = listen.slice(0, i);
  if (host === '' || host === '0.0.0.0' || host === '*') host = '127.0.0.1';
  else if (host === '[::]' || host === '::') host = '[::1]';
  return `${host}:${listen.slice(i + 1)}`;
}

function pem(value: Buffer | string | undefined, file: string | undefined): Buffer | undefined {
  if (value !== undefined) return Buffer.isBuffer(value) ? value : Buffer.from(value);
  return file ? fs.readFileSync(file) : undefined;
}

const flag = (s?: string): boolean => ['1', 'true', 'yes', 'on'].includes((s ?? '').trim().toLowerCase());

// Try to reconnect at least every second (gRPC's defaults wait 1 s at first,
// then up to 2 minutes), so a call retried after a kernel restart finds the
// kernel back; no client-side message size cap: the kernel enforces its own.
const CHANNEL_DEFAULTS: grpc.ChannelOptions = {
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1000,
  'grpc.max_receive_message_length': -1,
  'grpc.max_send_message_length': -1,
};

export function resolve(o: ClientOptions = {}): Settings {
  const e = o.env ?? process.env;
  const address = o.address ?? e.CAM_ADDR
    ?? (e.CAM_GRPC_LISTEN ? addressFromListen(e.CAM_GRPC_LISTEN) : DEFAULT_ADDRESS);
  let token = o.token;
  if (token === undefined) {
    const file = o.tokenFile ?? e.CAM_TOKEN_FILE;
    token = file ? fs.readFileSync(file, 'utf8').trim() : e.CAM_TOKEN || undefined;
  }
  const ca = pem(o.ca, o.caFile ?? e.CAM_TLS_CA_FILE);
  const cert = pem(o.cert, o.certFile ?? e.CAM_TLS_CLIENT_CERT_FILE);
  const key = pem(o.key, o.keyFile ?? e.CAM_TLS_CLIENT_KEY_FILE);
  if ((cert === undefined) !== (key === undefined)) {
    throw new Error('a client certificate needs both the certificate and its key');
  }
  const tls = o.tls ?? (flag(e.CAM_TLS) || ca !== undefined || cert !== undefined);
  const channelOptions: grpc.ChannelOptions = { ...CHANNEL_DEFAULTS, ...o.channelOptions };
  const serverName = o.serverName ?? e.CAM_TLS_SERVER_NAME;
  if (serverName) {
    channelOptions['grpc.ssl_target_name_override'] = serverName;
    channelOptions['grpc.default_authority'] = serverName;
  }
  const retry = o.retry === false ? new RetryPolicy({ maxAttempts: 1 })
    : o.retry instanceof RetryPolicy ? o.retry : new RetryPolicy(o.retry);
  return {
    address,
    callerId: o.callerId ?? e.CAM_CALLER_ID ?? '',
    token,
    credentials: tls ? grpc.credentials.createSsl(ca ?? null, key ?? null, cert ?? null)
      : grpc.credentials.createInsecure(),
    channelOptions,
    timeoutMs: o.timeoutMs === undefined ? DEFAULT_TIMEOUT_MS : o.timeoutMs,
    retry,
  };
}
