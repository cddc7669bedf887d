import { ExponentialBackoff, fullJitterGenerator, IBackoff, TaskCancelledError, TimeoutStrategy, timeout } from 'cockatiel';
import { Dependency, DependencyError, errorMessage, isDependencyError } from './dependency-error';

/**
 * Deadlines and retry pacing for every call to a dependency, from one library (cockatiel) rather
 * than hand-written races and loops in each adapter.
 */

/** The longest wait between two tries of a held unit or a reconnect: an outage ends within this of its repair. */
export const MAX_BACKOFF_MS = 30_000;

/** Capped exponential backoff with full jitter; `next()` gives the next delay. */
export class Backoff {
  private readonly factory: ExponentialBackoff<number>;
  private current?: IBackoff<unknown>;

  constructor(baseMs = 200, maxMs = 10_000) {
    this.factory = new ExponentialBackoff({ initialDelay: baseMs, maxDelay: Math.min(maxMs, MAX_BACKOFF_MS), generator: fullJitterGenerator });
  }

  next(): number {
    this.current = this.current ? this.current.next(undefined) : this.factory.next();
    return this.current.duration;
  }

  reset(): void {
    this.current = undefined;
  }
}

/** The delay before retry number `attempt` (from 0), for callers that count attempts themselves. */
export function backoffDelay(attempt: number, baseMs = 200, maxMs = 10_000): number {
  const options = { initialDelay: baseMs, maxDelay: Math.min(maxMs, MAX_BACKOFF_MS), exponent: 2, generator: fullJitterGenerator };
  return fullJitterGenerator(Math.min(attempt, 30), options)[0];
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `fn` with a deadline: after `ms` the call is abandoned (its signal aborted, its late outcome
 * ignored) and a DependencyError (`unavailable`, `timeout`) is thrown. Other failures pass as they are.
 */
export async function withDeadline<T>(dependency: Dependency, what: string, ms: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  try {
    return await timeout(ms, TimeoutStrategy.Aggressive).execute((_ctx, signal) => fn(signal));
  } catch (err) {
    if (err instanceof TaskCancelledError) throw new DependencyError(dependency, 'unavailable', 'timeout', `${what} did not answer within ${ms} ms`);
    throw err;
  }
}

/**
 * A failure as a DependencyError of `dependency`: typed ones as they are; untyped ones (an adapter
 * defect) count as an outage, since a retry is safe and a refusal would not be.
 */
export function asDependencyError(dependency: Dependency, what: string, err: unknown): DependencyError {
  return isDependencyError(err) ? err : new DependencyError(dependency, 'unavailable', 'unavailable', `${what} failed: ${errorMessage(err)}`, err);
}

/** Rejects with a plain Error when `promise` has not settled after `ms` (probes that need no typing). */
export function withTimeout<T>(ms: number, fn: () => Promise<T>): Promise<T> {
  return timeout(ms, TimeoutStrategy.Aggressive)
    .execute(() => fn())
    .catch((err) => {
      throw err instanceof TaskCancelledError ? new Error(`no answer within ${ms} ms`) : err;
    });
}

/**
 * Retries `fn` until it succeeds or `shouldStop(err)` says the caller is going away. Used where
 * giving up would lose data (a consumer must not skip an offset because a server is down).
 */
export async function retryUntilStopped<T>(
  fn: (attempt: number) => Promise<T>,
  opts: { shouldStop: (err: unknown) => boolean; onRetry?: (err: unknown, attempt: number, delayMs: number) => void | Promise<void>; baseMs?: number; maxMs?: number },
): Promise<T> {
  const backoff = new Backoff(opts.baseMs, opts.maxMs);
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (opts.shouldStop(err)) throw err;
      const delay = backoff.next();
      await opts.onRetry?.(err, attempt, delay);
      await sleep(delay);
    }
  }
}
