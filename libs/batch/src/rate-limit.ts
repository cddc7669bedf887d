import { Checked, accept, reject } from './rejection';

export interface RateLimit {
  /** Requests a second, sustained. */
  perSecond: number;
  /** Requests allowed at once above the rate. */
  burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Token buckets by key (a gateway token's name, a customer id): each refills at `perSecond` up
 * to `burst`, and a request takes one. Keys idle long enough to have refilled are dropped, so
 * memory follows the active keys only.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly limit: RateLimit,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(limit.perSecond > 0) || !(limit.burst >= 1)) throw new Error('a rate limit needs perSecond > 0 and burst >= 1');
  }

  /** Takes one request for `key`; refused with the seconds until one is available. */
  take(key: string): { ok: true } | { ok: false; retryAfterSeconds: number } {
    const now = this.now();
    const b = this.buckets.get(key) ?? { tokens: this.limit.burst, at: now };
    b.tokens = Math.min(this.limit.burst, b.tokens + ((now - b.at) / 1000) * this.limit.perSecond);
    b.at = now;
    this.buckets.set(key, b);
    if (this.buckets.size > 10_000) this.sweep(now);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - b.tokens) / this.limit.perSecond)) };
  }

  private sweep(now: number): void {
    const full = (this.limit.burst / this.limit.perSecond) * 1000;
    for (const [key, b] of this.buckets) if (now - b.at >= full) this.buckets.delete(key);
  }
}

/** The limits of `POST /logs`: per gateway token and per customer. */
export class IngestRateLimits {
  constructor(
    private readonly perToken: RateLimiter,
    private readonly perCustomer: RateLimiter,
  ) {}

  check(tokenName: string, customerId: string): Checked<true> & { retryAfterSeconds?: number } {
    for (const [limiter, key, what] of [
      [this.perToken, tokenName, 'this gateway token'],
      [this.perCustomer, customerId, `customer ${customerId}`],
    ] as const) {
      const r = limiter.take(key);
      if (!r.ok) return { ...reject(429, 'rate_limited', `Too many requests for ${what}; retry after ${r.retryAfterSeconds} s.`), retryAfterSeconds: r.retryAfterSeconds };
    }
    return accept(true);
  }
}
