import { createHash } from 'node:crypto';
import type { LogEntry } from '@pipeline/entry';

/**
 * What the runner must see for one send. `accepted`: the send belongs to a batch (customer +
 * idempotency key, or the body hash when there is no key) that the pipeline accepts exactly
 * once: one send of the batch answers 202, every other send 409. A fixed status (413, 422...)
 * means the send is refused and its entries must never be counted.
 */
export type SendExpectation = { kind: 'accepted' } | { kind: 'refused'; status: number };

export interface Send {
  customerId: string;
  idempotencyKey?: string;
  /** The bytes put on the wire (already gzip-compressed when `contentEncoding` is gzip). */
  body: Buffer;
  contentType: string;
  contentEncoding?: 'gzip';
  /** The entries the body carries, as the generator made them: what the expected counts are computed from. */
  entries: readonly LogEntry[];
  expect: SendExpectation;
}

export interface Scenario {
  id: string;
  title: string;
  /** Requests in flight while sending, in order. */
  inFlight: number;
  sends: Send[];
  /** Every user agent the generator used, with the family the pipeline must count it under. */
  families: ReadonlyMap<string, string>;
  /** Customers whose windows the scenario owns (the comparison reads these and nothing else). */
  customers: string[];
}

/** Options every generator accepts: a suffix keeps customer ids apart on a shared stack. */
export interface GeneratorOptions {
  customerSuffix?: string;
}

export const JSON_CONTENT_TYPE = 'application/json';
/** The largest body the ingestion accepts, compressed or not (2 MiB). */
export const MAX_BODY_BYTES = 2 * 1024 * 1024;

export function jsonBody(entries: readonly unknown[]): Buffer {
  return Buffer.from(JSON.stringify(entries), 'utf8');
}

/**
 * The identity of a batch as the ingestion sees it: the idempotency key, else a hash of the
 * body (scenarios repeat a key-less batch with the very same bytes), scoped by customer.
 */
export function batchIdentity(send: Send): string {
  const key = send.idempotencyKey ?? `sha256:${createHash('sha256').update(send.body).digest('hex')}`;
  return `${send.customerId}\n${key}`;
}

/** Deterministic pseudo-random numbers (mulberry32), so a scenario is the same data on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** `2025-12-28T18:03:07.123Z` from parts, all UTC. */
export function isoAt(day: string, hh: number, mm: number, ss: number, ms: number): string {
  return `${day}T${pad(hh, 2)}:${pad(mm, 2)}:${pad(ss, 2)}.${pad(ms, 3)}Z`;
}

export function customerId(base: string, options: GeneratorOptions = {}): string {
  return `${base}${options.customerSuffix ?? ''}`;
}
