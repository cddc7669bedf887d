/** Capped exponential backoff with full jitter; attempt counts from 0. */
export function backoffDelay(attempt: number, baseMs = 200, maxMs = 10_000): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 20));
  return Math.floor(Math.random() * cap);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Retries `fn` until it succeeds or `shouldStop()` says the caller is going away. Used where
 * giving up would lose data (a consumer must not skip an offset because a server is down).
 */
export async function retryUntilStopped<T>(
  fn: (attempt: number) => Promise<T>,
  opts: { shouldStop: (err: unknown) => boolean; onRetry?: (err: unknown, attempt: number, delayMs: number) => void | Promise<void>; baseMs?: number; maxMs?: number },
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (opts.shouldStop(err)) throw err;
      const delay = backoffDelay(attempt, opts.baseMs, opts.maxMs);
      await opts.onRetry?.(err, attempt, delay);
      await sleep(delay);
    }
  }
}
