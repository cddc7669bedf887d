import type { LogEntry } from '@pipeline/entry';
import { USER_AGENTS, userAgentTable } from './user-agents';
import { customerId, GeneratorOptions, isoAt, JSON_CONTENT_TYPE, MAX_BODY_BYTES, pad, Scenario, seededRandom, Send } from './model';

const METHODS = ['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE'];
const RESOURCES = ['orders', 'users', 'invoices', 'products', 'carts', 'sessions', 'search', 'reports'];

/**
 * Entries of a busy API: a few dozen paths (some with query strings that normalization drops),
 * every user agent of the table, spread over `minutes` minutes from `start` (UTC `YYYY-MM-DDTHH:MM`).
 */
export function apiEntryStream(seed: number, start: string, minutes: number): () => LogEntry {
  const random = seededRandom(seed);
  const day = start.slice(0, 10);
  const hh = Number(start.slice(11, 13));
  const mm = Number(start.slice(14, 16));
  return () => {
    const resource = RESOURCES[Math.floor(random() * RESOURCES.length)];
    const variant = Math.floor(random() * 4);
    const path =
      variant === 0 ? `/api/v1/${resource}` : variant === 1 ? `/api/v1/${resource}?page=${Math.floor(random() * 50)}` : variant === 2 ? `/api/v2/${resource}/search?q=x#top` : `/api/v2/${resource}`;
    const minute = mm + Math.floor(random() * minutes);
    return {
      receivedAt: isoAt(day, hh + Math.floor(minute / 60), minute % 60, Math.floor(random() * 60), Math.floor(random() * 1000)),
      method: METHODS[Math.floor(random() * METHODS.length)],
      path,
      userAgent: USER_AGENTS[Math.floor(random() * USER_AGENTS.length)][0],
    };
  };
}

/**
 * A JSON array of as many entries as fit in `limit` bytes. With `exact`, spaces after the array
 * pad the body to exactly `limit` bytes (JSON allows trailing whitespace): the largest body the
 * ingestion accepts.
 */
export function fillBody(next: () => LogEntry, limit: number, exact: boolean): { body: Buffer; entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const parts: string[] = [];
  let size = 2; // the brackets
  for (;;) {
    const entry = next();
    const text = JSON.stringify(entry);
    const extra = text.length + (parts.length > 0 ? 1 : 0);
    if (size + extra > limit) break;
    entries.push(entry);
    parts.push(text);
    size += extra;
  }
  let json = `[${parts.join(',')}]`;
  if (Buffer.byteLength(json) !== size) throw new Error('fillBody expects ASCII entries');
  if (exact) json += ' '.repeat(limit - size);
  return { body: Buffer.from(json, 'utf8'), entries };
}

export interface LargeBatchOptions extends GeneratorOptions {
  batches?: number;
}

/**
 * Batches close to 2 MiB (about 9,000 entries each): every other one exactly 2,097,152 bytes,
 * the largest body the contract accepts, the rest as many whole entries as fit below it.
 */
export function scenarioLargeBatches(options: LargeBatchOptions = {}): Scenario {
  const customer = customerId('cus-bulk', options);
  const next = apiEntryStream(2002, '2025-11-03T09:00', 10);
  const sends: Send[] = [];
  const count = options.batches ?? 10;
  for (let b = 1; b <= count; b++) {
    const { body, entries } = fillBody(next, MAX_BODY_BYTES, b % 2 === 1);
    sends.push({ customerId: customer, idempotencyKey: `bulk-${pad(b, 4)}`, body, contentType: JSON_CONTENT_TYPE, entries, expect: { kind: 'accepted' } });
  }
  return { id: '002_large_batches', title: 'batches close to 2 MiB', inFlight: 4, sends, families: userAgentTable(), customers: [customer] };
}
