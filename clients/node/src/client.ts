// Client: one typed, promise-based method per verb, on @grpc/grpc-js.
//
//   const cam = new Client({ address: '127.0.0.1:50051', callerId: 'agent-1' });
//   await cam.contextWrite('agent-1', 'goal', 'find food');
//   console.log((await cam.contextRead('agent-1', 'goal')).text());
//   cam.close();
//
// Every method takes, last, CallOptions: timeoutMs (the whole call, retries
// included; default the client's), priority (0-9) and an AbortSignal.
// Failures reject with the CamError subclass of their status.
//
// SPDX-License-Identifier: Apache-2.0
import * as grpc from '@grpc/grpc-js';

import { CamError, DeadlineExceededError, fromServiceError, InvalidArgumentError } from './errors';
import {
  HealthCheckRequest, HealthCheckResponse, SyscallRequest, SyscallResponse,
} from './gen/cam';
import { Scalar } from './payload';
import * as r from './results';
import { ClientOptions, resolve, Settings } from './settings';
import { currentTraceparent } from './tracing';
import * as v from './verbs';

export interface CallOptions {
  /** Deadline of the call, retries included; null: none. */
  timeoutMs?: number | null;
  /** 0 (lowest) to 9 (highest); unset: the kernel's default (5 or the factors). */
  priority?: number;
  /** Cancels the call (it rejects with CancelledError). */
  signal?: AbortSignal;
}

const EXECUTE = '/cam.SyscallService/Execute';
const HEALTH_CHECK = '/cam.SyscallService/HealthCheck';

// Encoders straight into a Buffer over the writer's bytes (no copy).
const toBuffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
const encodeExecute = (m: SyscallRequest): Buffer => toBuffer(SyscallRequest.encode(m).finish());
const decodeExecute = (b: Buffer): SyscallResponse => SyscallResponse.decode(b);
const encodeHealth = (m: HealthCheckRequest): Buffer => toBuffer(HealthCheckRequest.encode(m).finish());
const decodeHealth = (b: Buffer): HealthCheckResponse => HealthCheckResponse.decode(b);

const sleep = (ms: number): Promise<void> => new Promise((res) => setTimeout(res, ms));

export class Client {
  private readonly settings: Settings;
  private readonly channel: grpc.Client;

  /** Options left out come from the environment (see settings.ts). */
  constructor(options: ClientOptions = {}) {
    this.settings = resolve(options);
    this.channel = new grpc.Client(this.settings.address, this.settings.credentials,
      this.settings.channelOptions);
  }

  get address(): string {
    return this.settings.address;
  }

  close(): void {
    this.channel.close();
  }

  private metadata(): grpc.Metadata {
    const md = new grpc.Metadata();
    if (this.settings.token) md.set('authorization', `Bearer ${this.settings.token}`);
    const tp = currentTraceparent();
    if (tp) md.set('traceparent', tp);
    return md;
  }

  // The one place calls are sent: deadline, metadata, retries, errors. One
  // promise per call, retries driven from grpc-js's callback (no async
  // function in between: this is every call's path).
  private send<Q, S, T>(path: string, ser: (m: Q) => Buffer, de: (b: Buffer) => S, req: Q,
    verb: string, idempotent: boolean, read: (res: S) => T, o: CallOptions): Promise<T> {
    const timeout = o.timeoutMs === undefined ? this.settings.timeoutMs : o.timeoutMs;
    const deadline = timeout === null ? Infinity : Date.now() + timeout;
    const options = timeout === null ? {} : { deadline };
    const { signal } = o;
    return new Promise<T>((resolve, reject) => {
      const attempt = (n: number): void => {
        const call = this.channel.makeUnaryRequest(path, ser, de, req, this.metadata(), options, (err, res) => {
          if (!err) {
            try {
              resolve(read(res as S));
            } catch (e) {
              reject(e);
            }
            return;
          }
          const error = fromServiceError(err, verb);
          const wait = idempotent && !signal?.aborted
            ? this.settings.retry.delay(error, n, deadline - Date.now()) : undefined;
          if (wait === undefined) reject(error);
          else setTimeout(attempt, wait, n + 1);
        });
        if (signal) {
          if (signal.aborted) call.cancel();
          else signal.addEventListener('abort', () => call.cancel(), { once: true });
        }
      };
      attempt(1);
    });
  }

  // make() runs here, so a value the payload cannot carry rejects the
  // promise (PayloadError) rather than throwing from the method.
  private run<T>(make: () => v.Call<T>, o: CallOptions = {}): Promise<T> {
    let call: v.Call<T>;
    let req: SyscallRequest;
    try {
      call = make();
      req = { verb: call.verb, payload: call.payload, callerId: this.settings.callerId, data: call.data };
      if (o.priority !== undefined) {
        if (!Number.isInteger(o.priority) || o.priority < 0 || o.priority > 9) {
          throw new InvalidArgumentError(`priority must be 0-9, not ${o.priority}`, { verb: call.verb });
        }
        req.priority = o.priority;
      }
    } catch (e) {
      return Promise.reject(e);
    }
    return this.send(EXECUTE, encodeExecute, decodeExecute, req, call.verb, call.idempotent,
      (res: SyscallResponse) => call.read({ verb: call.verb, result: res.result, data: res.data, requestId: res.requestId }), o);
  }

  // Health

  health(detailed = false, o: CallOptions = {}): Promise<r.Health> {
    return this.send(HEALTH_CHECK, encodeHealth, decodeHealth, { callerId: this.settings.callerId, detailed },
      'HealthCheck', true, (m: HealthCheckResponse): r.Health => ({
        status: m.status, serving: m.status === 'SERVING', version: m.version,
        uptimeSeconds: m.uptimeSeconds, instanceId: m.instanceId,
        components: m.components.map((c) => ({
          name: c.name, status: c.status, message: c.message, latencyMs: c.latencyMs,
        })),
      }), o);
  }

  /** Polls HealthCheck until the kernel says SERVING; after timeoutMs
   * rejects with DeadlineExceededError saying what it last saw. */
  async waitUntilReady(timeoutMs = 30_000, intervalMs = 100): Promise<r.Health> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      let last: string;
      try {
        const h = await this.health(false, { timeoutMs: Math.max(50, Math.min(end - Date.now(), 1000)) });
        if (h.serving) return h;
        last = `HealthCheck says ${h.status}`;
      } catch (e) {
        if (!(e instanceof CamError)) throw e;
        last = e.toString();
      }
      if (Date.now() + intervalMs >= end) {
        throw new DeadlineExceededError(
          `kernel at ${this.address} not ready within ${timeoutMs} ms: ${last}`);
      }
      await sleep(intervalMs);
    }
  }

  // Verbs: system, identity

  ping(pairs?: Record<string, Scalar>, o: CallOptions & { delayMs?: number } = {}): Promise<r.Pong> {
    return this.run(() => v.ping(pairs, o.delayMs), o);
  }

  observe(o?: CallOptions): Promise<r.Observation> {
    return this.run(() => v.observe(), o);
  }

  whoami(o?: CallOptions): Promise<r.Identity> {
    return this.run(() => v.whoami(), o);
  }

  // Observability

  emitMetric(name: string, value: number, o: v.MetricOptions & CallOptions = {}): Promise<r.MetricEmitted> {
    return this.run(() => v.emitMetric(name, value, o), o);
  }

  emitTrace(traceId: string, spanId: string, operation: string,
    o: v.TraceOptions & CallOptions = {}): Promise<r.TraceEmitted> {
    return this.run(() => v.emitTrace(traceId, spanId, operation, o), o);
  }

  // Scheduler and cognition

  think(input: v.ThinkInput, o?: CallOptions): Promise<r.Thought> {
    return this.run(() => v.think(input), o);
  }

  explainAction(id: string | { requestId?: string; traceId?: string }, o?: CallOptions): Promise<r.Explanation> {
    return this.run(() => v.explainAction(typeof id === 'string' ? { requestId: id } : id), o);
  }

  tuneSystem(settings: v.TuneInput = {}, o?: CallOptions): Promise<r.SchedulerSettings> {
    return this.run(() => v.tuneSystem(settings), o);
  }

  // Memory context

  contextWrite(namespace: string, key: string, value: v.Bytes,
    o: CallOptions & { expectedVersion?: number } = {}): Promise<r.Written> {
    return this.run(() => v.contextWrite(namespace, key, value, o.expectedVersion), o);
  }

  /** contextWrite of JSON.stringify(value). */
  contextWriteJson(namespace: string, key: string, value: unknown,
    o: CallOptions & { expectedVersion?: number } = {}): Promise<r.Written> {
    return this.run(() => v.contextWrite(namespace, key, JSON.stringify(value), o.expectedVersion), o);
  }

  contextRead(namespace: string, key: string,
    o: CallOptions & { version?: number } = {}): Promise<r.ContextValue> {
    return this.run(() => v.contextRead(namespace, key, o.version), o);
  }

  contextVersions(namespace: string, key: string, o?: CallOptions): Promise<r.ContextVersions> {
    return this.run(() => v.contextVersions(namespace, key), o);
  }

  contextDelete(target: v.DeleteTarget, o?: CallOptions): Promise<r.Deleted> {
    return this.run(() => v.contextDelete(target), o);
  }

  contextSnapshot(namespace: string, o?: CallOptions): Promise<r.Snapshot> {
    return this.run(() => v.contextSnapshot(namespace), o);
  }

  contextRestore(snapshotId: string, o?: CallOptions): Promise<r.Snapshot> {
    return this.run(() => v.contextRestore(snapshotId), o);
  }

  // Security: TPM

  tpmSign(input: v.Signed, o?: CallOptions): Promise<r.Signature> {
    return this.run(() => v.tpmSign(input), o);
  }

  /** signer: whose signature it should be (default: the caller's own). */
  tpmVerify(signature: Uint8Array | string, input: v.Signed,
    o: CallOptions & { signer?: string } = {}): Promise<r.Verification> {
    return this.run(() => v.tpmVerify(signature, input, o.signer), o);
  }

  tpmRandom(n?: number, o?: CallOptions): Promise<r.RandomBytes> {
    return this.run(() => v.tpmRandom(n), o);
  }

  tpmPcrRead(pcrs?: string | readonly number[], o?: CallOptions): Promise<r.PcrValues> {
    return this.run(() => v.tpmPcrRead(pcrs), o);
  }

  tpmPublicKey(o?: CallOptions): Promise<r.PublicKey> {
    return this.run(() => v.tpmPublicKey(), o);
  }

  // Drivers

  driverList(o?: CallOptions): Promise<r.Drivers> {
    return this.run(() => v.driverList(), o);
  }

  driverLoad(driver: string, o: CallOptions & { config?: string } = {}): Promise<r.DriverLoaded> {
    return this.run(() => v.driverLoad(driver, o.config), o);
  }

  driverUnload(driver: string, o?: CallOptions): Promise<r.DriverUnloaded> {
    return this.run(() => v.driverUnload(driver), o);
  }

  /** driverTimeoutMs: the driver's own deadline (the kernel's timeout_ms). */
  driverInvoke(driver: string, operation: string, input?: v.Bytes,
    o: CallOptions & { driverTimeoutMs?: number } = {}): Promise<r.DriverOutput> {
    return this.run(() => v.driverInvoke(driver, operation, input, o.driverTimeoutMs), o);
  }

  // Policy and agents

  policyQuery(verb: string, resource: string,
    o: CallOptions & { caller?: string } = {}): Promise<r.PolicyDecision> {
    return this.run(() => v.policyQuery(verb, resource, o.caller), o);
  }

  policyUpdate(policy: object | v.Bytes, o?: CallOptions): Promise<r.PolicyUpdated> {
    return this.run(() => v.policyUpdate(policy), o);
  }

  agentRegister(agent: string, scopes: string | readonly string[],
    o: v.RegisterOptions & CallOptions = {}): Promise<r.RegisteredAgent> {
    return this.run(() => v.agentRegister(agent, scopes, o), o);
  }

  agentRevoke(agent: string, o?: CallOptions): Promise<r.AgentRevoked> {
    return this.run(() => v.agentRevoke(agent), o);
  }

  agentList(o?: CallOptions): Promise<r.AgentList> {
    return this.run(() => v.agentList(), o);
  }

  // The durable store

  /** A consistent copy of the kernel's store in <data dir>/backups/<name>. */
  storeBackup(name: string, o?: CallOptions): Promise<r.Backup> {
    return this.run(() => v.storeBackup(name), o);
  }

  // Anything else

  /** Any verb by name; sent again after UNAVAILABLE only if idempotent. */
  execute(verb: string, payload: string | Record<string, Scalar> = '',
    o: CallOptions & { data?: v.Bytes; idempotent?: boolean } = {}): Promise<r.Raw> {
    return this.run(() => v.execute(verb, payload, o.data, o.idempotent), o);
  }
}
