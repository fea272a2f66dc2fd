// @cam-os/client: the TypeScript client of the CAM-OS syscall kernel.
//
// Client has one typed, promise-based method per verb; failures reject with
// the CamError subclass of their gRPC status.
//
// SPDX-License-Identifier: Apache-2.0
export { Client, CallOptions } from './client';
export {
  AbortedError, AlreadyExistsError, CamError, CancelledError, DataLossError,
  DeadlineExceededError, ErrorContext, errorFor, FailedPreconditionError, InternalError,
  InvalidArgumentError, NotFoundError, OutOfRangeError, PermissionDeniedError,
  ResourceExhaustedError, ResultError, Status, UnauthenticatedError, UnavailableError,
  UnimplementedError, UnknownError,
} from './errors';
export { PayloadError, Scalar } from './payload';
export { NO_RETRY, RetryOptions, RetryPolicy } from './retry';
export { ClientOptions } from './settings';
export type {
  AgentInfo, AgentList, AgentRevoked, Backup, Component, ContextValue, ContextVersions, Deleted, DriverLoaded,
  DriverOutput, Drivers, DriverStatus, DriverUnloaded, Explanation, Factor, Health, Identity,
  MetricEmitted, Observation, PcrValues, PolicyDecision, PolicyUpdated, Pong, PublicKey,
  RandomBytes, Raw, RegisteredAgent, Result, SchedulerSettings, Signature, Snapshot, Thought,
  TraceEmitted, Verification, VersionInfo, Written,
} from './results';
export type {
  Bytes, DeleteTarget, MetricOptions, RegisterOptions, Signed, ThinkInput, TraceOptions, TuneInput,
} from './verbs';
export { VERSION } from './version';
