// Typed results: what each verb answers, read from the kernel's reply.
//
// Numbers are numbers, flags booleans, lists arrays, times Dates, bytes
// Buffers. Every result keeps the kernel's requestId (for explainAction)
// and all the pairs of its answer as text (`pairs`), so keys a newer kernel
// adds are there before this library names them. A reply that cannot be
// read rejects with ResultError.
//
// SPDX-License-Identifier: Apache-2.0
import { ResultError } from './errors';
import { parse } from './payload';

/** A successful Execute as the kernel sent it. */
export interface Reply {
  verb: string;
  result: string;
  data: Buffer;
  requestId: string;
}

/** What every result has. */
export interface Result {
  requestId: string;
  pairs: Readonly<Record<string, string>>;
}

/** A reply's pairs with typed getters; missing or malformed: ResultError. */
export class Fields {
  readonly pairs: Record<string, string>;

  constructor(readonly reply: Reply, tail?: string) {
    try {
      this.pairs = parse(reply.result, tail);
    } catch (e) {
      throw this.error((e as Error).message);
    }
  }

  error(why: string): ResultError {
    return new ResultError(why, { verb: this.reply.verb, requestId: this.reply.requestId });
  }

  has(key: string): boolean {
    return this.pairs[key] !== undefined;
  }

  opt(key: string): string | undefined {
    return this.pairs[key];
  }

  str(key: string): string {
    const v = this.pairs[key];
    if (v === undefined) throw this.error(`the answer has no '${key}'`);
    return v;
  }

  int(key: string): number {
    const v = this.str(key);
    if (!/^-?\d+$/.test(v)) throw this.error(`'${key}' is '${v}', not an integer`);
    return Number(v);
  }

  num(key: string): number {
    const v = this.str(key);
    const n = Number(v);
    if (v === '' || !Number.isFinite(n)) throw this.error(`'${key}' is '${v}', not a number`);
    return n;
  }

  bool(key: string): boolean {
    const v = this.str(key);
    if (v !== 'true' && v !== 'false') throw this.error(`'${key}' is '${v}', not true/false`);
    return v === 'true';
  }

  optInt(key: string): number | undefined {
    return this.has(key) ? this.int(key) : undefined;
  }

  optNum(key: string): number | undefined {
    return this.has(key) ? this.num(key) : undefined;
  }

  list(key: string, sep: string): string[] {
    return (this.pairs[key] ?? '').split(sep).filter((x) => x !== '');
  }

  common(): Result {
    return { requestId: this.reply.requestId, pairs: this.pairs };
  }
}

export const FACTORS = ['urgency', 'importance', 'efficiency', 'energy', 'trust'] as const;
export type Factor = (typeof FACTORS)[number];

function factorValues(f: Fields, prefix = ''): Partial<Record<Factor, number>> {
  const out: Partial<Record<Factor, number>> = {};
  for (const k of FACTORS) if (f.has(prefix + k)) out[k] = f.num(prefix + k);
  return out;
}

function triple(f: Fields, key: string): [number, number, number] {
  const parts = f.str(key).split(':');
  if (parts.length !== 3 || parts.some((p) => !/^\d+$/.test(p))) {
    throw f.error(`'${key}' is '${f.str(key)}', not high:normal:low`);
  }
  return [Number(parts[0]), Number(parts[1]), Number(parts[2])];
}

/** ping: the pairs sent, echoed (pong:true for none). */
export interface Pong extends Result { echo: Record<string, string> }
export function readPong(r: Reply): Pong {
  // ping is the benchmark verb: straight to the parser, no Fields.
  let pairs: Record<string, string>;
  try {
    pairs = parse(r.result);
  } catch (e) {
    throw new ResultError((e as Error).message, { verb: r.verb, requestId: r.requestId });
  }
  return { requestId: r.requestId, pairs, echo: pairs };
}

/** observe: kernel, transport and scheduler figures. */
export interface Observation extends Result {
  version: string; instanceId: string; uptimeSeconds: number; connections: number;
  streamsInFlight: number; callsTotal: number; callsQueued: number; metricSeries: number;
  logLinesDropped: number; snapshotsPublished: number; queues: Record<string, number>;
  workers?: number; busyWorkers?: number; rejectedQueueFull?: number;
  rejectedDeadline?: number; ranInline?: number;
}
export function readObservation(r: Reply): Observation {
  const f = new Fields(r);
  const queues: Record<string, number> = {};
  for (const k of Object.keys(f.pairs)) if (k.startsWith('queue_')) queues[k.slice(6)] = f.int(k);
  return {
    ...f.common(), version: f.str('version'), instanceId: f.str('instance_id'),
    uptimeSeconds: f.num('uptime_seconds'), connections: f.int('connections'),
    streamsInFlight: f.int('streams_in_flight'), callsTotal: f.int('calls_total'),
    callsQueued: f.int('calls_queued'), metricSeries: f.int('metric_series'),
    logLinesDropped: f.int('log_lines_dropped'), snapshotsPublished: f.int('snapshots_published'),
    queues, workers: f.optInt('workers'), busyWorkers: f.optInt('busy_workers'),
    rejectedQueueFull: f.optInt('rejected_queue_full'),
    rejectedDeadline: f.optInt('rejected_deadline'), ranInline: f.optInt('ran_inline'),
  };
}

/** whoami: who the kernel thinks is calling. */
export interface Identity extends Result {
  callerId: string; authenticated: boolean; scopes: string[]; identifiedBy?: string;
}
export function readIdentity(r: Reply): Identity {
  const f = new Fields(r);
  return {
    ...f.common(), callerId: f.str('caller_id'), authenticated: f.bool('authenticated'),
    scopes: f.list('scopes', '+'), identifiedBy: f.opt('identified_by'),
  };
}

/** emitMetric: the family the value went to. */
export interface MetricEmitted extends Result { metricName: string; type: string; accepted: boolean }
export function readMetricEmitted(r: Reply): MetricEmitted {
  const f = new Fields(r);
  return { ...f.common(), metricName: f.str('metric_name'), type: f.str('type'), accepted: f.bool('accepted') };
}

/** emitTrace: the span's ids as the kernel keeps them (W3C hex). */
export interface TraceEmitted extends Result {
  traceId: string; spanId: string; parentSpanId?: string; accepted: boolean;
}
export function readTraceEmitted(r: Reply): TraceEmitted {
  const f = new Fields(r);
  return {
    ...f.common(), traceId: f.str('trace_id'), spanId: f.str('span_id'),
    parentSpanId: f.opt('parent_span_id'), accepted: f.bool('accepted'),
  };
}

/** think: a task's 5-D score, its priority 0-9 and class. */
export interface Thought extends Result {
  score: number; priority: number; priorityClass: string;
  factors: Partial<Record<Factor, number>>; contributions: Partial<Record<Factor, number>>;
  defaulted: string[]; formula: string;
}
export function readThought(r: Reply): Thought {
  const f = new Fields(r);
  return {
    ...f.common(), score: f.num('score'), priority: f.int('priority'), priorityClass: f.str('class'),
    factors: factorValues(f), contributions: factorValues(f, 'contribution_'),
    defaulted: f.list('defaulted', '+'), formula: f.opt('formula') ?? '',
  };
}

/** explainAction: why a recent call got its priority and wait. */
export interface Explanation extends Result {
  explainedRequestId?: string; verb: string; priority: number; priorityClass: string;
  source: string; score?: number; factors: Partial<Record<Factor, number>>;
  queueLength: number; waitMs: number; status: string; reason: string;
}
export function readExplanation(r: Reply): Explanation {
  const f = new Fields(r, 'reason');
  return {
    ...f.common(), explainedRequestId: f.opt('request_id'), verb: f.opt('verb') ?? '',
    priority: f.int('priority'), priorityClass: f.str('class'), source: f.str('source'),
    score: f.optNum('score'), factors: factorValues(f), queueLength: f.int('queue_length'),
    waitMs: f.num('wait_ms'), status: f.str('status'), reason: f.opt('reason') ?? '',
  };
}

/** tuneSystem: the scheduler settings in force after the call. */
export interface SchedulerSettings extends Result {
  weights: [number, number, number]; queueLimits: [number, number, number];
  workers: number; stallMs: number; changed: boolean;
}
export function readSchedulerSettings(r: Reply): SchedulerSettings {
  const f = new Fields(r);
  return {
    ...f.common(), weights: triple(f, 'weights'), queueLimits: triple(f, 'queue_limit'),
    workers: f.int('workers'), stallMs: f.int('stall_ms'), changed: f.bool('changed'),
  };
}

/** contextWrite: the version the value got. */
export interface Written extends Result { namespace: string; key: string; version: number; size: number }
export function readWritten(r: Reply): Written {
  const f = new Fields(r);
  return { ...f.common(), namespace: f.str('namespace'), key: f.str('key'), version: f.int('version'), size: f.int('size') };
}

/** contextRead: one version of a value; its bytes are `data`. */
export interface ContextValue extends Result {
  namespace: string; key: string; version: number; timestamp: Date; timestampMs: number;
  size: number; data: Buffer;
  /** The value as UTF-8 text. */
  text(): string;
  /** The value parsed as JSON. */
  json<T = unknown>(): T;
}
export function readContextValue(r: Reply): ContextValue {
  const f = new Fields(r);
  const ms = f.int('timestamp_ms');
  const data = r.data;
  return {
    ...f.common(), namespace: f.str('namespace'), key: f.str('key'), version: f.int('version'),
    timestamp: new Date(ms), timestampMs: ms, size: f.int('size'), data,
    text: () => data.toString('utf8'),
    json: <T>() => JSON.parse(data.toString('utf8')) as T,
  };
}

export interface VersionInfo { version: number; timestamp: Date; timestampMs: number; size: number }

/** contextVersions: the kept versions of a key, oldest first. */
export interface ContextVersions extends Result {
  namespace: string; key: string; count: number; latest: number; versions: VersionInfo[];
}
export function readContextVersions(r: Reply): ContextVersions {
  const f = new Fields(r);
  const versions = f.list('versions', ';').map((item) => {
    const p = item.split(':');
    if (p.length !== 3 || p.some((x) => !/^\d+$/.test(x))) {
      throw f.error(`version entry '${item}' is not ver:unix_ms:size`);
    }
    return { version: Number(p[0]), timestamp: new Date(Number(p[1])), timestampMs: Number(p[1]), size: Number(p[2]) };
  });
  return {
    ...f.common(), namespace: f.str('namespace'), key: f.str('key'), count: f.int('count'),
    latest: f.int('latest'), versions,
  };
}

/** contextDelete: what went (a key, a namespace or a snapshot). */
export interface Deleted extends Result {
  namespace?: string; key?: string; snapshotId?: string; removedVersions?: number;
}
export function readDeleted(r: Reply): Deleted {
  const f = new Fields(r);
  return {
    ...f.common(), namespace: f.opt('namespace'), key: f.opt('key'),
    snapshotId: f.opt('snapshot_id'), removedVersions: f.optInt('removed_versions'),
  };
}

/** contextSnapshot and contextRestore: a namespace's snapshot. */
export interface Snapshot extends Result { snapshotId: string; namespace: string; keys: number }
export function readSnapshot(r: Reply): Snapshot {
  const f = new Fields(r);
  return { ...f.common(), snapshotId: f.opt('snapshot_id') ?? '', namespace: f.str('namespace'), keys: f.int('keys') };
}

/** tpmSign: a DER ECDSA signature. What the TPM signs is signedDigest, the
 * SHA-256 of "cam-os tpm_sign v1\\n" + signer + "\\n" + digest (the data's
 * SHA-256, raw), so a signature names who asked for it. */
export interface Signature extends Result {
  signature: Buffer; digest: string; signedDigest?: string; algorithm: string; signer?: string;
}
export function readSignature(r: Reply): Signature {
  const f = new Fields(r);
  const signature = r.data.length ? r.data : Buffer.from(f.str('signature'), 'hex');
  return {
    ...f.common(), signature, digest: f.str('digest'), signedDigest: f.opt('signed_digest'),
    algorithm: f.str('algorithm'), signer: f.opt('signer'),
  };
}

/** tpmVerify: whether the signature holds (a bad one is an answer). */
export interface Verification extends Result { valid: boolean; digest: string; signer?: string }
export function readVerification(r: Reply): Verification {
  const f = new Fields(r);
  return { ...f.common(), valid: f.bool('valid'), digest: f.opt('digest') ?? '', signer: f.opt('signer') };
}

/** tpmRandom: bytes from the TPM's generator. */
export interface RandomBytes extends Result { data: Buffer }
export function readRandomBytes(r: Reply): RandomBytes {
  const f = new Fields(r);
  return { ...f.common(), data: r.data.length ? r.data : Buffer.from(f.str('random'), 'hex') };
}

/** tpmPcrRead: PCR index -> hex digest, in one bank. */
export interface PcrValues extends Result { bank: string; values: Record<number, string> }
export function readPcrValues(r: Reply): PcrValues {
  const f = new Fields(r);
  const values: Record<number, string> = {};
  for (const [k, v] of Object.entries(f.pairs)) {
    if (/^pcr\d+$/.test(k)) values[Number(k.slice(3))] = v;
  }
  return { ...f.common(), bank: f.str('bank'), values };
}

/** tpmPublicKey: the kernel's signing key. */
export interface PublicKey extends Result { algorithm: string; handle: string; pem: string }
export function readPublicKey(r: Reply): PublicKey {
  const f = new Fields(r, 'public_key_pem');
  const pem = r.data.length ? r.data.toString('ascii') : f.str('public_key_pem');
  return { ...f.common(), algorithm: f.str('algorithm'), handle: f.str('handle'), pem };
}

/** One loaded driver in driverList. */
export interface DriverStatus {
  name: string; version: string; instancesUp: number; instances: number; invocations: number;
  restarts: number; priceMicroUsd: number; revenueMicroUsd: number; health: string;
}

/** driverList: the drivers found on disk and the loaded ones. */
export interface Drivers extends Result {
  loaded: number; available: string[]; drivers: Record<string, DriverStatus>;
}
export function readDrivers(r: Reply): Drivers {
  const f = new Fields(r);
  const drivers: Record<string, DriverStatus> = {};
  for (const [name, text] of Object.entries(f.pairs)) {
    if (name === 'loaded' || name === 'available') continue;
    const d: Record<string, string> = Object.create(null);
    for (const kv of text.split(';')) {
      const eq = kv.indexOf('=');
      d[eq < 0 ? kv : kv.slice(0, eq)] = eq < 0 ? '' : kv.slice(eq + 1);
    }
    const [up, n] = (d.instances ?? '0/0').split('/');
    const num = (x: string | undefined): number => {
      const v = Number(x ?? 0);
      if (!Number.isFinite(v)) throw f.error(`driver entry '${text}' is not understood`);
      return v;
    };
    drivers[name] = {
      name, version: d.version ?? '', instancesUp: num(up), instances: num(n),
      invocations: num(d.invocations), restarts: num(d.restarts),
      priceMicroUsd: num(d.price_micro_usd), revenueMicroUsd: num(d.revenue_micro_usd),
      health: d.health ?? '',
    };
  }
  return { ...f.common(), loaded: f.int('loaded'), available: f.list('available', ';'), drivers };
}

/** driverLoad: the driver now serving. */
export interface DriverLoaded extends Result {
  driver: string; version: string; instances: number; sha256: string; loadMs: number;
}
export function readDriverLoaded(r: Reply): DriverLoaded {
  const f = new Fields(r);
  return {
    ...f.common(), driver: f.str('driver'), version: f.str('version'), instances: f.int('instances'),
    sha256: f.str('sha256'), loadMs: f.num('load_ms'),
  };
}

/** driverUnload: answered once the invokes in flight are done. */
export interface DriverUnloaded extends Result { driver: string; unloaded: boolean }
export function readDriverUnloaded(r: Reply): DriverUnloaded {
  const f = new Fields(r);
  return { ...f.common(), driver: f.str('driver'), unloaded: f.bool('unloaded') };
}

/** driverInvoke: the driver's output text. */
export interface DriverOutput extends Result { driver: string; operation: string; output: string }
export function readDriverOutput(r: Reply): DriverOutput {
  const f = new Fields(r, 'output');
  return { ...f.common(), driver: f.str('driver'), operation: f.str('operation'), output: f.opt('output') ?? '' };
}

/** policyQuery: may the caller do the verb on the resource, and the rule
 * that decided. */
export interface PolicyDecision extends Result {
  allowed: boolean; rule: string; policyVersion: number; caller?: string; verb?: string; resource?: string;
}
export function readPolicyDecision(r: Reply): PolicyDecision {
  const f = new Fields(r);
  return {
    ...f.common(), allowed: f.bool('allowed'), rule: f.str('rule'), policyVersion: f.int('policy_version'),
    caller: f.opt('caller'), verb: f.opt('verb'), resource: f.opt('resource'),
  };
}

/** policyUpdate: the version of the policy now in force. */
export interface PolicyUpdated extends Result { policyVersion: number }
export function readPolicyUpdated(r: Reply): PolicyUpdated {
  const f = new Fields(r);
  return { ...f.common(), policyVersion: f.int('policy_version') };
}

const scopesOf = (text: string): string[] => text.split(/[,+]/).filter((x) => x !== '');
const expiry = (ms: number): Date | undefined => (ms > 0 ? new Date(ms) : undefined);

/** agentRegister: the new agent and its token (given this once). */
export interface RegisteredAgent extends Result {
  agent: string; scopes: string[]; expiresMs: number; expires?: Date; token: string;
}
export function readRegisteredAgent(r: Reply): RegisteredAgent {
  const f = new Fields(r);
  const expiresMs = f.optInt('expires_ms') ?? 0;
  return {
    ...f.common(), agent: f.str('agent'), scopes: scopesOf(f.str('scopes')), expiresMs,
    expires: expiry(expiresMs), token: r.data.toString('utf8'),
  };
}

/** agentRevoke: the agent, and how many of its tokens ended. */
export interface AgentRevoked extends Result { agent: string; revoked: number }
export function readAgentRevoked(r: Reply): AgentRevoked {
  const f = new Fields(r);
  return { ...f.common(), agent: f.str('agent'), revoked: f.int('revoked') };
}

/** One registered agent in agentList. */
export interface AgentInfo { name: string; scopes: string[]; tokens: number; expiresMs: number; expires?: Date }

/** agentList: the registered agents. */
export interface AgentList extends Result { count: number; agents: AgentInfo[] }
export function readAgentList(r: Reply): AgentList {
  const f = new Fields(r);
  const agents = f.list('agents', ';').map((item) => {
    // name:scopes:tokens:expires_ms; the name comes first and holds no ':'.
    const m = /^(.*):([^:]*):(\d+):(-?\d+)$/.exec(item);
    if (!m) throw f.error(`agent entry '${item}' is not name:scopes:tokens:expires_ms`);
    const expiresMs = Number(m[4]);
    return { name: m[1], scopes: scopesOf(m[2]), tokens: Number(m[3]), expiresMs, expires: expiry(expiresMs) };
  });
  return { ...f.common(), count: f.int('count'), agents };
}

/** storeBackup: where the kernel wrote a consistent copy of its store. */
export interface Backup extends Result { path: string; bytes: number }
export function readBackup(r: Reply): Backup {
  const f = new Fields(r);
  return { ...f.common(), path: f.str('path'), bytes: f.int('bytes') };
}

/** execute: any verb's answer, untyped. */
export interface Raw extends Result { verb: string; result: string; data: Buffer }
export function readRaw(r: Reply): Raw {
  const f = new Fields(r);
  return { ...f.common(), verb: r.verb, result: r.result, data: r.data };
}

/** One component of a detailed HealthCheck. */
export interface Component { name: string; status: string; message: string; latencyMs: number }

/** HealthCheck: SERVING or NOT_SERVING, and components when detailed. */
export interface Health {
  status: string; serving: boolean; version: string; uptimeSeconds: number; instanceId: string;
  components: Component[];
}
