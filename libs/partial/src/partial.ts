import { parseMinute } from '@pipeline/window';

/**
 * The `insight-events` message: the counts of one batch within one minute. Count maps have
 * their keys in sorted order so that the same batch always serializes to the same bytes.
 */
export interface Partial {
  v: 1;
  batchId: string;
  customerId: string;
  /** Minute window, `YYYY-MM-DDTHH:MMZ`. */
  windowStart: string;
  windowSize: 'minute';
  total: number;
  requestsByPath: Record<string, number>;
  requestsByUserAgent: Record<string, number>;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; reason: string };

const isCountMap = (v: unknown): v is Record<string, number> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((n) => Number.isSafeInteger(n) && (n as number) > 0);

const sum = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0);

/** Validates a decoded `insight-events` message; the reason names the first problem found. */
export function parsePartial(input: unknown): ParseResult<Partial> {
  const p = input as Partial;
  if (typeof input !== 'object' || input === null) return { ok: false, reason: 'not an object' };
  if (p.v !== 1) return { ok: false, reason: `unsupported version ${JSON.stringify(p.v)}` };
  if (typeof p.batchId !== 'string' || p.batchId.length === 0) return { ok: false, reason: 'batchId missing' };
  if (typeof p.customerId !== 'string' || p.customerId.length === 0) return { ok: false, reason: 'customerId missing' };
  if (typeof p.windowStart !== 'string' || parseMinute(p.windowStart) === null) return { ok: false, reason: 'windowStart is not a minute' };
  if (p.windowSize !== 'minute') return { ok: false, reason: 'windowSize must be minute' };
  if (!Number.isSafeInteger(p.total) || p.total <= 0) return { ok: false, reason: 'total must be a positive integer' };
  if (!isCountMap(p.requestsByPath) || sum(p.requestsByPath) !== p.total) return { ok: false, reason: 'requestsByPath does not add up to total' };
  if (!isCountMap(p.requestsByUserAgent) || sum(p.requestsByUserAgent) !== p.total) return { ok: false, reason: 'requestsByUserAgent does not add up to total' };
  return { ok: true, value: p };
}

/** A copy of `counts` with keys in code-unit order, so equal maps serialize identically. */
export function sortedCounts(counts: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of Object.keys(counts).sort()) out[key] = counts[key];
  return out;
}
