/**
 * A token bucket: `perSecond` units flow in up to `burst`. It may be charged beyond what it holds
 * (a body whose size is known only once read): the debt is repaid by the inflow before anything
 * else passes, so over time the rate holds however the charges were estimated.
 */
export interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (ms, the limiter's clock). */
  at: number;
}

export interface Rate {
  perSecond: number;
  burst: number;
}

export function fullBucket(rate: Rate, now: number): Bucket {
  return { tokens: rate.burst, at: now };
}

export function refill(b: Bucket, rate: Rate, now: number): void {
  if (now > b.at) b.tokens = Math.min(rate.burst, b.tokens + ((now - b.at) / 1000) * rate.perSecond);
  b.at = Math.max(b.at, now);
}

/**
 * Seconds until the bucket holds `need` units (0 when it does now), whole seconds as Retry-After
 * wants them. A need above the burst is capped at the burst: a full bucket admits anything once.
 */
export function secondsUntil(b: Bucket, rate: Rate, need: number): number {
  const want = Math.min(need, rate.burst);
  if (b.tokens >= want) return 0;
  return Math.max(1, Math.ceil((want - b.tokens) / rate.perSecond));
}

/** Whether a bucket untouched since `b.at` has refilled completely by `now`: it can be forgotten. */
export function isFull(b: Bucket, rate: Rate, now: number): boolean {
  return b.tokens + ((now - b.at) / 1000) * rate.perSecond >= rate.burst;
}

export function validRate(rate: Rate): boolean {
  return rate.perSecond > 0 && rate.burst >= 1 && Number.isFinite(rate.perSecond) && Number.isFinite(rate.burst);
}

/**
 * Token buckets by key, one unit a request. Keys idle long enough to have refilled are dropped,
 * so memory follows the active keys only.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    readonly limit: Rate,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!validRate(limit)) throw new Error('a rate limit needs perSecond > 0 and burst >= 1');
  }

  /** Seconds until `key` may take one request (0: now), without taking it. */
  wait(key: string): number {
    const b = this.buckets.get(key);
    if (!b) return 0;
    refill(b, this.limit, this.now());
    return secondsUntil(b, this.limit, 1);
  }

  /** Takes one request for `key`; refused with the seconds until one is available. */
  take(key: string): { ok: true } | { ok: false; retryAfterSeconds: number } {
    const wait = this.wait(key);
    if (wait > 0) return { ok: false, retryAfterSeconds: wait };
    const now = this.now();
    const b = this.buckets.get(key) ?? fullBucket(this.limit, now);
    b.tokens -= 1;
    this.buckets.set(key, b);
    if (this.buckets.size > 10_000) this.sweep(now);
    return { ok: true };
  }

  private sweep(now: number): void {
    for (const [key, b] of this.buckets) if (isFull(b, this.limit, now)) this.buckets.delete(key);
  }
}
