// The verb table, client side: for each verb, the request it sends and how
// its answer is read (DESIGN.md "Verbs", kernel/syscall/*_verbs.c).
//
// Each function returns a Call; the client only runs Calls, so a verb's
// payload keys are written here once. `idempotent` marks the calls that
// may be sent again after UNAVAILABLE: reads, and writes made safe by
// compare-and-set (expectedVersion).
//
// SPDX-License-Identifier: Apache-2.0
import { encode, formatValue, Pairs, PayloadError, Scalar } from './payload';
import * as r from './results';

export interface Call<T> {
  verb: string;
  payload: string;
  data: Buffer;
  idempotent: boolean;
  read: (reply: r.Reply) => T;
}

/** Bytes, or text sent as UTF-8. */
export type Bytes = Uint8Array | string;

const EMPTY = Buffer.alloc(0);

function call<T>(verb: string, pairs: Pairs, read: (reply: r.Reply) => T,
  opts: { data?: Buffer; idempotent?: boolean } = {}): Call<T> {
  return { verb, payload: encode(pairs), data: opts.data ?? EMPTY, idempotent: opts.idempotent ?? false, read };
}

export function asBuffer(value: Bytes): Buffer {
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** k=v,k2=v2 (metric labels, span attributes); the kernel splits on commas,
 * so neither names nor values may hold one. */
function kvList(what: string, items?: Record<string, Scalar>): string | undefined {
  if (!items) return undefined;
  const out: string[] = [];
  for (const [k, v] of Object.entries(items)) {
    const text = formatValue(v);
    if (k.includes(',') || k.includes('=') || text.includes(',')) {
      throw new PayloadError(`${what} '${k}=${text}': names hold no ',' or '=', values no ','`);
    }
    out.push(`${k}=${text}`);
  }
  return out.length ? out.join(',') : undefined;
}

export function ping(pairs?: Record<string, Scalar>, delayMs?: number): Call<r.Pong> {
  const items: [string, Scalar | undefined][] = pairs ? Object.entries(pairs) : [];
  if (delayMs !== undefined) items.push(['delay_ms', delayMs]);
  // The benchmark verb: the Call made directly, without call()'s options.
  return { verb: 'ping', payload: encode(items), data: EMPTY, idempotent: true, read: r.readPong };
}

export const observe = (): Call<r.Observation> => call('observe', [], r.readObservation, { idempotent: true });
export const whoami = (): Call<r.Identity> => call('whoami', [], r.readIdentity, { idempotent: true });

export interface MetricOptions {
  labels?: Record<string, Scalar>;
  type?: 'counter' | 'gauge' | 'histogram';
  help?: string;
  native?: boolean;
}
export function emitMetric(name: string, value: number, o: MetricOptions = {}): Call<r.MetricEmitted> {
  return call('emit_metric', [['metric_name', name], ['value', value], ['type', o.type],
    ['native', o.native], ['help', o.help], ['labels', kvList('label', o.labels)]], r.readMetricEmitted);
}

export interface TraceOptions {
  parentSpanId?: string;
  durationMs?: number;
  service?: string;
  status?: 'ok' | 'error';
  attributes?: Record<string, Scalar>;
}
export function emitTrace(traceId: string, spanId: string, operation: string,
  o: TraceOptions = {}): Call<r.TraceEmitted> {
  return call('emit_trace', [['trace_id', traceId], ['span_id', spanId], ['operation', operation],
    ['parent_span_id', o.parentSpanId], ['duration_ms', o.durationMs], ['service', o.service],
    ['status', o.status], ['attributes', kvList('attribute', o.attributes)]], r.readTraceEmitted);
}

export interface ThinkInput {
  urgency?: number; importance?: number; efficiency?: number; energy?: number; trust?: number;
  task?: string;
}
export function think(t: ThinkInput): Call<r.Thought> {
  return call('think', [['urgency', t.urgency], ['importance', t.importance], ['efficiency', t.efficiency],
    ['energy', t.energy], ['trust', t.trust], ['task', t.task]], r.readThought, { idempotent: true });
}

export function explainAction(id: { requestId?: string; traceId?: string }): Call<r.Explanation> {
  return call('explain_action', [['request_id', id.requestId], ['trace_id', id.traceId]],
    r.readExplanation, { idempotent: true });
}

type Triple = string | number | readonly [number, number, number];
const triple = (v?: Triple): Scalar | undefined => (Array.isArray(v) ? v.join(':') : (v as Scalar | undefined));

export interface TuneInput {
  weights?: Triple; weightHigh?: number; weightNormal?: number; weightLow?: number;
  queueLimit?: Triple; queueLimitHigh?: number; queueLimitNormal?: number; queueLimitLow?: number;
  workers?: number; stallMs?: number;
}
export function tuneSystem(t: TuneInput = {}): Call<r.SchedulerSettings> {
  const items: Pairs = [['weights', triple(t.weights)], ['weight_high', t.weightHigh],
    ['weight_normal', t.weightNormal], ['weight_low', t.weightLow], ['queue_limit', triple(t.queueLimit)],
    ['queue_limit_high', t.queueLimitHigh], ['queue_limit_normal', t.queueLimitNormal],
    ['queue_limit_low', t.queueLimitLow], ['workers', t.workers], ['stall_ms', t.stallMs]];
  // With nothing to change it only reports, and may be asked again.
  return call('tune_system', items, r.readSchedulerSettings,
    { idempotent: items.every(([, v]) => v === undefined) });
}

export function contextWrite(namespace: string, key: string, value: Bytes,
  expectedVersion?: number): Call<r.Written> {
  // The value travels in `data`: any bytes, any text, up to the kernel's
  // limit. An empty `data` reads as absent, so the empty value is sent as
  // `value:`. Only a compare-and-set write is safe to send twice.
  const data = asBuffer(value);
  return call('context_write', [['namespace', namespace], ['key', key], ['expected_version', expectedVersion],
    ['value', data.length ? undefined : '']], r.readWritten, { data, idempotent: expectedVersion !== undefined });
}

export function contextRead(namespace: string, key: string, version?: number): Call<r.ContextValue> {
  return call('context_read', [['namespace', namespace], ['key', key], ['version', version]],
    r.readContextValue, { idempotent: true });
}

export function contextVersions(namespace: string, key: string): Call<r.ContextVersions> {
  return call('context_versions', [['namespace', namespace], ['key', key]], r.readContextVersions,
    { idempotent: true });
}

export type DeleteTarget = { namespace: string; key?: string } | { snapshotId: string };
export function contextDelete(t: DeleteTarget): Call<r.Deleted> {
  if ('snapshotId' in t) {
    if ('namespace' in t) throw new PayloadError('context_delete takes a namespace or a snapshotId');
    return call('context_delete', [['snapshot_id', t.snapshotId]], r.readDeleted);
  }
  return call('context_delete', [['namespace', t.namespace], ['key', t.key]], r.readDeleted);
}

export const contextSnapshot = (namespace: string): Call<r.Snapshot> =>
  call('context_snapshot', [['namespace', namespace]], r.readSnapshot);
export const contextRestore = (snapshotId: string): Call<r.Snapshot> =>
  call('context_restore', [['snapshot_id', snapshotId]], r.readSnapshot);

/** What tpm_sign and tpm_verify sign: the data, or its SHA-256 (64 hex). */
export type Signed = Bytes | { digest: string };
function signed(s: Signed): [Buffer, Pairs] {
  if (typeof s === 'object' && !(s instanceof Uint8Array)) return [EMPTY, [['digest', s.digest]]];
  return [asBuffer(s), []];
}

export function tpmSign(input: Signed): Call<r.Signature> {
  const [data, items] = signed(input);
  return call('tpm_sign', items, r.readSignature, { data, idempotent: true });
}

/** signer: whose signature it should be (default: the caller's own). */
export function tpmVerify(signature: Uint8Array | string, input: Signed, signer?: string): Call<r.Verification> {
  const [data, items] = signed(input);
  const sig = typeof signature === 'string' ? signature : asBuffer(signature).toString('hex');
  return call('tpm_verify', [...items, ['signature', sig], ['signer', signer]], r.readVerification,
    { data, idempotent: true });
}

export const tpmRandom = (n?: number): Call<r.RandomBytes> =>
  call('tpm_random', [['bytes', n]], r.readRandomBytes, { idempotent: true });

export function tpmPcrRead(pcrs?: string | readonly number[]): Call<r.PcrValues> {
  const text = Array.isArray(pcrs) ? pcrs.join(',') : (pcrs as string | undefined);
  return call('tpm_pcr_read', [['pcrs', text]], r.readPcrValues, { idempotent: true });
}

export const tpmPublicKey = (): Call<r.PublicKey> =>
  call('tpm_public_key', [], r.readPublicKey, { idempotent: true });

export const driverList = (): Call<r.Drivers> => call('driver_list', [], r.readDrivers, { idempotent: true });
export const driverLoad = (driver: string, config?: string): Call<r.DriverLoaded> =>
  call('driver_load', [['driver', driver], ['config', config]], r.readDriverLoaded);
export const driverUnload = (driver: string): Call<r.DriverUnloaded> =>
  call('driver_unload', [['driver', driver]], r.readDriverUnloaded);

export function driverInvoke(driver: string, operation: string, input: Bytes = EMPTY,
  timeoutMs?: number): Call<r.DriverOutput> {
  // The input goes in `data` (the kernel's `payload:` key cannot carry
  // every text); a driver may have effects, so it is never sent twice.
  return call('driver_invoke', [['driver', driver], ['operation', operation], ['timeout_ms', timeoutMs]],
    r.readDriverOutput, { data: asBuffer(input) });
}

export const policyQuery = (verb: string, resource: string, caller?: string): Call<r.PolicyDecision> =>
  call('policy_query', [['verb', verb], ['resource', resource], ['caller', caller]], r.readPolicyDecision,
    { idempotent: true });

export function policyUpdate(policy: object | Bytes): Call<r.PolicyUpdated> {
  const data = typeof policy === 'string' || policy instanceof Uint8Array
    ? asBuffer(policy) : Buffer.from(JSON.stringify(policy), 'utf8');
  return call('policy_update', [], r.readPolicyUpdated, { data });
}

export interface RegisterOptions { rate?: number; burst?: number; ttlS?: number }
export function agentRegister(agent: string, scopes: string | readonly string[],
  o: RegisterOptions = {}): Call<r.RegisteredAgent> {
  return call('agent_register', [['agent', agent], ['scopes', Array.isArray(scopes) ? scopes.join(',') : (scopes as string)],
    ['rate', o.rate], ['burst', o.burst], ['ttl_s', o.ttlS]], r.readRegisteredAgent);
}

export const agentRevoke = (agent: string): Call<r.AgentRevoked> =>
  call('agent_revoke', [['agent', agent]], r.readAgentRevoked);
export const agentList = (): Call<r.AgentList> => call('agent_list', [], r.readAgentList, { idempotent: true });

export const storeBackup = (name: string): Call<r.Backup> => call('store_backup', [['name', name]], r.readBackup);

/** Any verb, the payload as text or pairs; retried only if told. */
export function execute(verb: string, payload: string | Record<string, Scalar> = '', data: Bytes = EMPTY,
  idempotent = false): Call<r.Raw> {
  if (typeof payload === 'string') return { verb, payload, data: asBuffer(data), idempotent, read: r.readRaw };
  return call(verb, Object.entries(payload), r.readRaw, { data: asBuffer(data), idempotent });
}
