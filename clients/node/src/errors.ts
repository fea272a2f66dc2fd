// One error class per gRPC status, carrying the kernel's own message.
//
// Every failed call rejects with a subclass of CamError named after its
// status (NotFoundError for NOT_FOUND, ...), so agents catch exactly what
// they can handle. `message` is the kernel's text as it sent it; `requestId`
// is the kernel's id of the call when it sent one (trailing metadata
// `cam-request-id`), else undefined.
//
// SPDX-License-Identifier: Apache-2.0
import type { Metadata } from '@grpc/grpc-js';

export const REQUEST_ID_TRAILER = 'cam-request-id';

/** gRPC status codes (the numbers are gRPC's). */
export enum Status {
  OK = 0,
  CANCELLED = 1,
  UNKNOWN = 2,
  INVALID_ARGUMENT = 3,
  DEADLINE_EXCEEDED = 4,
  NOT_FOUND = 5,
  ALREADY_EXISTS = 6,
  PERMISSION_DENIED = 7,
  RESOURCE_EXHAUSTED = 8,
  FAILED_PRECONDITION = 9,
  ABORTED = 10,
  OUT_OF_RANGE = 11,
  UNIMPLEMENTED = 12,
  INTERNAL = 13,
  UNAVAILABLE = 14,
  DATA_LOSS = 15,
  UNAUTHENTICATED = 16,
}

export interface ErrorContext {
  requestId?: string;
  verb?: string;
}

/** A call that failed: status, the kernel's message, its request id. */
export class CamError extends Error {
  readonly code: Status = Status.UNKNOWN;
  readonly requestId?: string;
  readonly verb?: string;

  constructor(message: string, ctx: ErrorContext = {}) {
    super(message);
    this.name = new.target.name;
    this.requestId = ctx.requestId;
    this.verb = ctx.verb;
  }

  get codeName(): string {
    return Status[this.code];
  }

  override toString(): string {
    const where = [this.verb && `verb ${this.verb}`, this.requestId && `request ${this.requestId}`]
      .filter(Boolean).join(', ');
    return `${this.codeName}: ${this.message}${where ? ` (${where})` : ''}`;
  }
}

export class CancelledError extends CamError { override readonly code = Status.CANCELLED; }
export class UnknownError extends CamError { override readonly code = Status.UNKNOWN; }
export class InvalidArgumentError extends CamError { override readonly code = Status.INVALID_ARGUMENT; }
export class DeadlineExceededError extends CamError { override readonly code = Status.DEADLINE_EXCEEDED; }
export class NotFoundError extends CamError { override readonly code = Status.NOT_FOUND; }
export class AlreadyExistsError extends CamError { override readonly code = Status.ALREADY_EXISTS; }
export class PermissionDeniedError extends CamError { override readonly code = Status.PERMISSION_DENIED; }
export class ResourceExhaustedError extends CamError { override readonly code = Status.RESOURCE_EXHAUSTED; }
export class FailedPreconditionError extends CamError { override readonly code = Status.FAILED_PRECONDITION; }
export class AbortedError extends CamError { override readonly code = Status.ABORTED; }
export class OutOfRangeError extends CamError { override readonly code = Status.OUT_OF_RANGE; }
export class UnimplementedError extends CamError { override readonly code = Status.UNIMPLEMENTED; }
export class InternalError extends CamError { override readonly code = Status.INTERNAL; }
export class UnavailableError extends CamError { override readonly code = Status.UNAVAILABLE; }
export class DataLossError extends CamError { override readonly code = Status.DATA_LOSS; }
export class UnauthenticatedError extends CamError { override readonly code = Status.UNAUTHENTICATED; }

/** The kernel answered OK with a result this library cannot read. */
export class ResultError extends UnknownError {}

type ErrorClass = new (message: string, ctx?: ErrorContext) => CamError;

/** Status -> class: each class names its own code once. */
export const ERRORS: ReadonlyMap<Status, ErrorClass> = new Map(
  [CancelledError, UnknownError, InvalidArgumentError, DeadlineExceededError, NotFoundError,
    AlreadyExistsError, PermissionDeniedError, ResourceExhaustedError, FailedPreconditionError,
    AbortedError, OutOfRangeError, UnimplementedError, InternalError, UnavailableError,
    DataLossError, UnauthenticatedError].map((cls) => [new cls('').code, cls] as const));

/** The error of a status code (OK or an unheard-of code: UnknownError). */
export function errorFor(code: number, message: string, ctx: ErrorContext = {}): CamError {
  const cls = ERRORS.get(code);
  if (!cls) return new UnknownError(`status ${code}: ${message}`, ctx);
  return new cls(message, ctx);
}

/** The CamError of a grpc-js ServiceError. */
export function fromServiceError(
  err: { code?: number; details?: string; message?: string; metadata?: Metadata },
  verb?: string,
): CamError {
  const id = err.metadata?.get(REQUEST_ID_TRAILER)[0];
  return errorFor(err.code ?? Status.UNKNOWN, err.details ?? err.message ?? '', {
    verb, requestId: id === undefined ? undefined : String(id),
  });
}
