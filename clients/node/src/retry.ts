// When to send a call again: idempotent calls only, on UNAVAILABLE only,
// with exponential backoff and full jitter (gRPC's retry design, A6), and
// never past the call's deadline. The client owns the loop; this decides.
//
// SPDX-License-Identifier: Apache-2.0
import { CamError, Status } from './errors';

/**
 * maxAttempts counts the first try. Before retry n (1, 2, ...) the client
 * sleeps a random time in [0, min(initialBackoffMs * multiplier**(n-1),
 * maxBackoffMs)]. onRetry(attempt, error, delayMs) is called before each
 * sleep (for logs).
 */
export interface RetryOptions {
  maxAttempts?: number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  multiplier?: number;
  onRetry?: (attempt: number, error: CamError, delayMs: number) => void;
}

export class RetryPolicy {
  readonly maxAttempts: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly multiplier: number;
  readonly onRetry?: RetryOptions['onRetry'];

  constructor(o: RetryOptions = {}) {
    this.maxAttempts = o.maxAttempts ?? 5;
    this.initialBackoffMs = o.initialBackoffMs ?? 100;
    this.maxBackoffMs = o.maxBackoffMs ?? 2000;
    this.multiplier = o.multiplier ?? 2;
    this.onRetry = o.onRetry;
  }

  /** Milliseconds to wait before sending the call again after `attempt`
   * tries ended in `error`, or undefined to give up. */
  delay(error: unknown, attempt: number, remainingMs: number,
    rand: () => number = Math.random): number | undefined {
    if (!(error instanceof CamError) || error.code !== Status.UNAVAILABLE) return undefined;
    if (attempt >= this.maxAttempts) return undefined;
    const cap = Math.min(this.initialBackoffMs * this.multiplier ** (attempt - 1), this.maxBackoffMs);
    const wait = rand() * cap;
    if (wait >= remainingMs) return undefined;
    this.onRetry?.(attempt, error, wait);
    return wait;
  }
}

export const NO_RETRY = new RetryPolicy({ maxAttempts: 1 });
