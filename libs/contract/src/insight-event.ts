import { isStorableEventTime, parseMinute, windowKey } from '@pipeline/window';
import { isBatchId, isCustomerId } from './ids';
import type { Parsed } from './batch-ingested';

/**
 * The `insight-events` message: the counts of one batch within one minute. Count maps have their
 * keys in sorted order so that the same batch always serializes to the same bytes.
 *
 * A partial too large for one Kafka message is split into numbered parts (`part` of `parts`),
 * each a valid partial of its own (its counts add up to its total), merged and de-duplicated on
 * its own; unsplit partials carry neither field.
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
  /** 1-based index of this part when the batch's partial of this window was split. */
  part?: number;
  /** Number of parts the batch's partial of this window was split into (at least 2). */
  parts?: number;
}

/** Most parts one partial may be split into: far above what a 2 MiB batch can need. */
export const MAX_PARTS = 10_000;

/** Kafka key of `insight-events`: every partial of one window lands on one partition (one writer). */
export function insightEventKey(p: Pick<Partial, 'customerId' | 'windowStart'>): string {
  return windowKey(p.customerId, p.windowStart);
}

/**
 * What a window remembers to recognise a redelivered partial: the batch id, with the part number
 * when the partial was split. `#` cannot occur in batch ids, so the two forms never collide.
 */
export function partialId(p: Pick<Partial, 'batchId' | 'part' | 'parts'>): string {
  return p.parts === undefined ? p.batchId : `${p.batchId}#${p.part}/${p.parts}`;
}

const isCountMap = (v: unknown): v is Record<string, number> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((n) => Number.isSafeInteger(n) && (n as number) > 0);

const sum = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0);

/** Keys the store can hold exactly: well-formed Unicode (no lone surrogates). */
const wellFormedKeys = (m: Record<string, number>) => Object.keys(m).every((k) => k.isWellFormed());

/** Validates a decoded `insight-events` message; the reason names the first problem found. */
export function parsePartial(input: unknown): Parsed<Partial> {
  const p = input as Partial;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return { ok: false, reason: 'not an object' };
  if (p.v !== 1) return { ok: false, reason: `unsupported version ${JSON.stringify(p.v)}` };
  if (!isBatchId(p.batchId)) return { ok: false, reason: 'batchId invalid' };
  if (!isCustomerId(p.customerId)) return { ok: false, reason: 'customerId invalid' };
  const start = typeof p.windowStart === 'string' ? parseMinute(p.windowStart) : null;
  if (start === null) return { ok: false, reason: 'windowStart is not a minute' };
  if (!isStorableEventTime(start)) return { ok: false, reason: 'windowStart is outside the storable range (1970-2105)' };
  if (p.windowSize !== 'minute') return { ok: false, reason: 'windowSize must be minute' };
  if (!Number.isSafeInteger(p.total) || p.total <= 0) return { ok: false, reason: 'total must be a positive integer' };
  if (!isCountMap(p.requestsByPath) || sum(p.requestsByPath) !== p.total) return { ok: false, reason: 'requestsByPath does not add up to total' };
  if (!isCountMap(p.requestsByUserAgent) || sum(p.requestsByUserAgent) !== p.total) return { ok: false, reason: 'requestsByUserAgent does not add up to total' };
  if (!wellFormedKeys(p.requestsByPath) || !wellFormedKeys(p.requestsByUserAgent)) return { ok: false, reason: 'a key is not well-formed Unicode' };
  if (p.part !== undefined || p.parts !== undefined) {
    const valid = Number.isSafeInteger(p.parts) && p.parts! >= 2 && p.parts! <= MAX_PARTS && Number.isSafeInteger(p.part) && p.part! >= 1 && p.part! <= p.parts!;
    if (!valid) return { ok: false, reason: 'part and parts must be integers with 1 <= part <= parts, 2 <= parts' };
  }
  return { ok: true, value: p };
}

/** A copy of `counts` with keys in code-unit order, so equal maps serialize identically. */
export function sortedCounts(counts: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of Object.keys(counts).sort()) out[key] = counts[key];
  return out;
}

/** The canonical JSON of a partial: fixed field order, sorted count keys. */
export function serializePartial(p: Partial): string {
  const canonical: Partial = {
    v: 1,
    batchId: p.batchId,
    customerId: p.customerId,
    windowStart: p.windowStart,
    windowSize: 'minute',
    total: p.total,
    requestsByPath: sortedCounts(p.requestsByPath),
    requestsByUserAgent: sortedCounts(p.requestsByUserAgent),
    ...(p.parts === undefined ? {} : { part: p.part, parts: p.parts }),
  };
  return JSON.stringify(canonical);
}

/** The message (key and canonical JSON value) that carries `p`; `json`: that value, when the caller has it already. */
export function insightEventMessage(p: Partial, json = serializePartial(p)): { key: string; value: string } {
  return { key: insightEventKey(p), value: json };
}
