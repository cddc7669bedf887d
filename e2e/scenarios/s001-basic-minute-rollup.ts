import type { LogEntry } from '@pipeline/entry';
import { CHROME, CURL, FIREFOX, GOOGLEBOT, userAgentTable } from './user-agents';
import { customerId, GeneratorOptions, JSON_CONTENT_TYPE, jsonBody, pad, Scenario, Send } from './model';

/**
 * Scenario 001, the reference scenario, exactly as specified: 64,000 entries of `cus-axon` on
 * 2025-12-28, 3,200 batches of 20 (a stride mixes minutes inside a batch), batches 1..2000
 * sent twice (each duplicate right after its original), two requests in flight.
 */
export const S001 = {
  customer: 'cus-axon',
  day: '2025-12-28',
  entries: 64_000,
  batchSize: 20,
  batches: 3_200,
  duplicated: 2_000,
  stride: 3_201,
  inFlight: 2,
  minutes: ['18:03', '18:04', '18:05', '18:06'],
  paths: ['/', '/about', '/careers', '/contact'],
  userAgents: [CHROME, FIREFOX, GOOGLEBOT, CURL],
} as const;

/** Entry number k (0..63,999) of scenario 001. */
export function entry001(k: number): LogEntry {
  const bucket = k % 64;
  const round = Math.floor(k / 64);
  const minute = S001.minutes[Math.floor(bucket / 16)];
  const path = S001.paths[Math.floor((bucket % 16) / 4)];
  const userAgent = S001.userAgents[bucket % 4];
  const seconds = round % 60;
  const millis = (bucket * 17 + round) % 1000;
  return { receivedAt: `${S001.day}T${minute}:${pad(seconds, 2)}.${pad(millis, 3)}Z`, method: 'GET', path, userAgent };
}

/** Indices of the entries of batch b (1..3200). */
export function batchIndices001(b: number): number[] {
  return Array.from({ length: S001.batchSize }, (_, i) => ((b - 1) * S001.batchSize + i * S001.stride) % S001.entries);
}

export const idempotencyKey001 = (b: number) => `batch-${pad(b, 6)}`;

export function scenario001(options: GeneratorOptions = {}): Scenario {
  const customer = customerId(S001.customer, options);
  const entries = Array.from({ length: S001.entries }, (_, k) => entry001(k));
  const sends: Send[] = [];
  for (let b = 1; b <= S001.batches; b++) {
    const batchEntries = batchIndices001(b).map((k) => entries[k]);
    const send: Send = {
      customerId: customer,
      idempotencyKey: idempotencyKey001(b),
      body: jsonBody(batchEntries),
      contentType: JSON_CONTENT_TYPE,
      entries: batchEntries,
      expect: { kind: 'accepted' },
    };
    sends.push(send);
    if (b <= S001.duplicated) sends.push({ ...send });
  }
  return {
    id: '001_basic_minute_rollup',
    title: 'basic minute rollup (reference scenario)',
    inFlight: S001.inFlight,
    sends,
    families: userAgentTable(4),
    customers: [customer],
  };
}
