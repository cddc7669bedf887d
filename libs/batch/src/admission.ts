import { isCustomerId } from '@pipeline/contract';
import { MAX_BATCH_BYTES } from './body';
import { Bucket, fullBucket, isFull, Rate, RateLimiter, refill, secondsUntil, validRate } from './rate-limit';

/** What one customer may send to one ingestion instance. */
export interface CustomerLimits {
  /** Requests a second, and how many may come at once above that rate. */
  requests: Rate;
  /** Body bytes a second (decompressed), and the burst above that rate. */
  bytes: Rate;
  /** Body bytes held at once for the customer: its share of the instance's in-flight budget. */
  bytesInFlight: number;
}

export interface AdmissionSettings {
  /** Limits of every customer without an entry in `perCustomer`. */
  customer: CustomerLimits;
  perCustomer?: ReadonlyMap<string, CustomerLimits>;
  /** Requests a second of one gateway token, over all the customers it posts for. */
  token: Rate;
  /** Body bytes held at once over all customers: what bounds the instance's memory. */
  maxBytesInFlight: number;
  /** Retry-After of a 503 while the instance's budget is full. */
  busyRetryAfterSeconds: number;
  /**
   * While the stages behind the door are behind (`isBehind`), each customer's body bytes a second
   * are held to `bytes` as well, whatever its own limits: the customers sending far more than the
   * pipeline carries slow down until it has caught up, and the others do not notice.
   */
  backlog?: { isBehind: () => boolean; bytes: Rate };
}

export type AdmissionScope = 'customer' | 'token' | 'instance';
export type AdmissionLimit = 'requests' | 'bytes' | 'in_flight' | 'backlog';

export interface AdmissionRefusal {
  /** 429: the caller's own limit (customer or token); 503: the instance is full for everyone. */
  status: 429 | 503;
  scope: AdmissionScope;
  limit: AdmissionLimit;
  retryAfterSeconds: number;
  message: string;
}

export interface AdmissionRequest {
  /** The gateway token's name. */
  token: string;
  customerId: string;
  /**
   * Body bytes charged up front: the declared length, or 0 when none is declared. `settle`
   * corrects the charge to the decompressed size once the body is read.
   */
  expectedBytes: number;
  /** Bytes of memory held for the body until the request ends. */
  reserveBytes: number;
}

/** An admitted request's claim on the budgets. */
export interface AdmissionPass {
  /** The body's decompressed size, once read: the customer's byte budget is charged that, not the estimate. */
  settle(bodyBytes: number): void;
  /** The request is over: its in-flight bytes are given back. Calling it again does nothing. */
  release(): void;
}

interface CustomerState {
  requests: Bucket;
  bytes: Bucket;
  /** Charged only while the pipeline is behind, so it is full whenever that begins. */
  backlogBytes: Bucket;
  inFlight: number;
}

/** Customers tracked before idle ones are forgotten (a forgotten customer comes back with full buckets, which it would have had anyway). */
const SWEEP_ABOVE = 10_000;

/**
 * Admission at the door of `POST /logs`, per customer first: requests a second, body bytes a
 * second and body bytes in flight (a share of the instance's budget), and while the pipeline is
 * behind its byte rate while behind, each a 429 with Retry-After for that customer alone; then the
 * instance's whole in-flight budget (503); then the gateway
 * token's request rate (429). Nothing is charged until every check has passed, so a customer
 * refused by its own limits costs the shared token nothing, and another customer on the same
 * token keeps its way in.
 *
 * Bytes are charged by the body: the declared length up front, corrected to the decompressed size
 * once read (gzip inflates up to the 2 MiB limit). A flood of small gzip bodies that inflate is
 * thus admitted only while the customer's byte budget is not in debt, and only as many at once as
 * its in-flight share holds (each reserved at the full limit); their inflation is then charged as
 * debt, and the customer waits it out before anything more passes.
 */
export class Admission {
  private readonly customers = new Map<string, CustomerState>();
  private readonly tokens: RateLimiter;
  private inFlight = 0;
  private lastSweep = -Infinity;

  constructor(
    private readonly settings: AdmissionSettings,
    private readonly now: () => number = () => performance.now(),
  ) {
    checkCustomerLimits(settings.customer, 'the default customer limits');
    for (const [id, limits] of settings.perCustomer ?? []) checkCustomerLimits(limits, `the limits of ${id}`);
    this.tokens = new RateLimiter(settings.token, now);
    if (settings.backlog && !validRate(settings.backlog.bytes)) throw new Error('the byte rate while behind must be positive, its burst at least 1');
  }

  limitsOf(customerId: string): CustomerLimits {
    return this.settings.perCustomer?.get(customerId) ?? this.settings.customer;
  }

  /** Body bytes held by admitted requests now. */
  get bytesInFlight(): number {
    return this.inFlight;
  }

  /** Customers whose budgets are held in memory now. */
  get customersTracked(): number {
    return this.customers.size;
  }

  admit(req: AdmissionRequest): { ok: true; pass: AdmissionPass } | { ok: false; refusal: AdmissionRefusal } {
    const now = this.now();
    const limits = this.limitsOf(req.customerId);
    const who = `customer ${req.customerId}`;
    let state = this.customers.get(req.customerId);
    if (state) {
      refill(state.requests, limits.requests, now);
      refill(state.bytes, limits.bytes, now);
      const requestWait = secondsUntil(state.requests, limits.requests, 1);
      if (requestWait > 0) return refuse(429, 'customer', 'requests', requestWait, `Too many requests for ${who} (more than ${limits.requests.perSecond} a second); retry after ${requestWait} s.`);
      const byteWait = secondsUntil(state.bytes, limits.bytes, Math.max(1, req.expectedBytes));
      if (byteWait > 0) return refuse(429, 'customer', 'bytes', byteWait, `Too many bytes for ${who} (more than ${limits.bytes.perSecond} a second); retry after ${byteWait} s.`);
      if (state.inFlight > 0 && state.inFlight + req.reserveBytes > limits.bytesInFlight) {
        return refuse(429, 'customer', 'in_flight', 1, `Too many batches of ${who} are being received at once (${limits.bytesInFlight} bytes); retry after 1 s.`);
      }
    }
    const backlog = this.settings.backlog;
    const behind = backlog !== undefined && backlog.isBehind();
    if (behind && state) {
      refill(state.backlogBytes, backlog.bytes, now);
      const wait = secondsUntil(state.backlogBytes, backlog.bytes, Math.max(1, req.expectedBytes));
      if (wait > 0) {
        return refuse(429, 'customer', 'backlog', wait, `The pipeline is catching up: ${who} may send ${backlog.bytes.perSecond} bytes a second until it has; retry after ${wait} s.`);
      }
    }
    // One request always fits an empty instance, whatever its size.
    if (this.inFlight > 0 && this.inFlight + req.reserveBytes > this.settings.maxBytesInFlight) {
      const wait = this.settings.busyRetryAfterSeconds;
      return refuse(503, 'instance', 'in_flight', wait, 'Too many batches are being received at once; retry later.');
    }
    const tokenWait = this.tokens.wait(req.token);
    if (tokenWait > 0) return refuse(429, 'token', 'requests', tokenWait, `Too many requests for this gateway token; retry after ${tokenWait} s.`);

    this.tokens.take(req.token);
    if (!state) {
      if (this.customers.size >= SWEEP_ABOVE && now - this.lastSweep >= 1_000) this.sweep(now);
      state = { requests: fullBucket(limits.requests, now), bytes: fullBucket(limits.bytes, now), backlogBytes: fullBucket(backlog?.bytes ?? limits.bytes, now), inFlight: 0 };
      this.customers.set(req.customerId, state);
    }
    const s = state;
    s.requests.tokens -= 1;
    let charged = Math.max(0, req.expectedBytes);
    s.bytes.tokens -= charged;
    if (behind) s.backlogBytes.tokens -= charged;
    s.inFlight += req.reserveBytes;
    this.inFlight += req.reserveBytes;
    let released = false;
    return {
      ok: true,
      pass: {
        settle: (bodyBytes) => {
          s.bytes.tokens -= bodyBytes - charged;
          if (behind) s.backlogBytes.tokens -= bodyBytes - charged;
          charged = bodyBytes;
        },
        release: () => {
          if (released) return;
          released = true;
          s.inFlight -= req.reserveBytes;
          this.inFlight -= req.reserveBytes;
        },
      },
    };
  }

  /** Drops customers with nothing in flight whose buckets have refilled: memory follows the active customers. */
  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [id, s] of this.customers) {
      const limits = this.limitsOf(id);
      const backlogFull = !this.settings.backlog || isFull(s.backlogBytes, this.settings.backlog.bytes, now);
      if (s.inFlight === 0 && isFull(s.requests, limits.requests, now) && isFull(s.bytes, limits.bytes, now) && backlogFull) this.customers.delete(id);
    }
  }
}

function refuse(status: 429 | 503, scope: AdmissionScope, limit: AdmissionLimit, retryAfterSeconds: number, message: string): { ok: false; refusal: AdmissionRefusal } {
  return { ok: false, refusal: { status, scope, limit, retryAfterSeconds, message } };
}

function checkCustomerLimits(limits: CustomerLimits, what: string): void {
  if (!validRate(limits.requests) || !validRate(limits.bytes)) throw new Error(`${what}: rates must be positive and bursts at least 1`);
  if (!(limits.bytesInFlight >= MAX_BATCH_BYTES)) throw new Error(`${what}: bytes in flight must be at least ${MAX_BATCH_BYTES} (one batch of the largest size)`);
}

const LIMIT_KEYS = ['rps', 'burst', 'bps', 'bytes-burst', 'inflight'] as const;
type LimitKey = (typeof LIMIT_KEYS)[number];
const BYTE_KEYS: ReadonlySet<LimitKey> = new Set(['bps', 'bytes-burst', 'inflight']);
const UNITS: Record<string, number> = { '': 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };

function parseAmount(key: LimitKey, text: string): number | undefined {
  const m = /^([0-9]+)(KiB|MiB|GiB)?$/.exec(text);
  if (!m || (m[2] && !BYTE_KEYS.has(key))) return undefined;
  const n = Number(m[1]) * UNITS[m[2] ?? ''];
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/**
 * Per-customer limits: `customer:key=value,...` entries separated by `;` or line breaks, keys
 * `rps` and `burst` (requests), `bps` and `bytes-burst` (body bytes), `inflight` (body bytes held
 * at once); byte values may end in KiB, MiB or GiB. A key left out keeps the default, except a
 * burst left out next to its rate, which is twice the rate (as for the defaults). Anything
 * malformed throws, naming the entry: limits that do not say what was meant are not applied.
 */
export function parseCustomerLimits(text: string, defaults: CustomerLimits): Map<string, CustomerLimits> {
  const out = new Map<string, CustomerLimits>();
  for (const raw of text.split(/[;\n]/)) {
    const entry = raw.trim();
    if (entry === '' || entry.startsWith('#')) continue;
    const colon = entry.indexOf(':');
    const customer = colon < 0 ? entry : entry.slice(0, colon).trim();
    if (colon < 0 || !isCustomerId(customer)) throw new Error(`"${entry}": expected customer:key=value,... with a valid customer id`);
    if (out.has(customer)) throw new Error(`${customer} is listed twice`);
    const given: Partial<Record<LimitKey, number>> = {};
    for (const pair of entry.slice(colon + 1).split(',')) {
      const [k, v, extra] = pair.split('=').map((s) => s.trim());
      const key = k as LimitKey;
      if (!LIMIT_KEYS.includes(key) || v === undefined || extra !== undefined) throw new Error(`${customer}: "${pair.trim()}" is not one of ${LIMIT_KEYS.join(', ')} with a value`);
      if (given[key] !== undefined) throw new Error(`${customer}: ${key} is given twice`);
      const n = parseAmount(key, v);
      if (n === undefined) throw new Error(`${customer}: ${key}=${v} is not a positive whole number${BYTE_KEYS.has(key) ? ' (of bytes, optionally with KiB, MiB or GiB)' : ''}`);
      given[key] = n;
    }
    const requestsPerSecond = given.rps ?? defaults.requests.perSecond;
    const bytesPerSecond = given.bps ?? defaults.bytes.perSecond;
    const limits: CustomerLimits = {
      requests: { perSecond: requestsPerSecond, burst: given.burst ?? (given.rps !== undefined ? 2 * requestsPerSecond : defaults.requests.burst) },
      bytes: { perSecond: bytesPerSecond, burst: given['bytes-burst'] ?? (given.bps !== undefined ? 2 * bytesPerSecond : defaults.bytes.burst) },
      bytesInFlight: given.inflight ?? defaults.bytesInFlight,
    };
    checkCustomerLimits(limits, customer);
    out.set(customer, limits);
  }
  return out;
}
