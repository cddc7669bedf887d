import { EntryNormalizer, LogEntry, toLogEntry, validateEntries } from '@pipeline/entry';
import { formatMinute } from '@pipeline/window';
import { ParseResult, Partial, parsePartial, sortedCounts } from './partial';

/** Whose batch is being summarized: copied into every partial. */
export interface BatchRef {
  customerId: string;
  batchId: string;
}

/** Everything one batch contributes: one partial per minute, in window order. */
export interface Summary extends BatchRef {
  v: 1;
  /** Number of entries summarized; equals the sum of the partials' totals. */
  entries: number;
  partials: Partial[];
}

interface MinuteCounts {
  total: number;
  byPath: Map<string, number>;
  byUserAgent: Map<string, number>;
}

const increment = (m: Map<string, number>, key: string) => m.set(key, (m.get(key) ?? 0) + 1);
const toCounts = (m: Map<string, number>): Record<string, number> => sortedCounts(Object.fromEntries(m));

/**
 * Groups entries by the UTC minute of their `receivedAt` and counts each minute by path key and
 * user-agent family. Partials come out sorted by window and with sorted count keys, so the same
 * entries always give byte-identical JSON, whatever their order in the batch.
 */
export function summarizeEntries(ref: BatchRef, entries: readonly LogEntry[], familyOf: (userAgent: string) => string): Summary {
  const minutes = new Map<number, MinuteCounts>();
  const normalizer = new EntryNormalizer(familyOf);
  for (const entry of entries) {
    const n = normalizer.normalize(entry);
    const start = n.windowStartMs;
    let counts = minutes.get(start);
    if (!counts) {
      counts = { total: 0, byPath: new Map(), byUserAgent: new Map() };
      minutes.set(start, counts);
    }
    counts.total++;
    increment(counts.byPath, n.pathKey);
    increment(counts.byUserAgent, n.userAgentFamily);
  }
  const partials = [...minutes.keys()]
    .sort((a, b) => a - b)
    .map((start): Partial => {
      const c = minutes.get(start)!;
      return {
        v: 1,
        batchId: ref.batchId,
        customerId: ref.customerId,
        windowStart: formatMinute(start),
        windowSize: 'minute',
        total: c.total,
        requestsByPath: toCounts(c.byPath),
        requestsByUserAgent: toCounts(c.byUserAgent),
      };
    });
  return { v: 1, customerId: ref.customerId, batchId: ref.batchId, entries: entries.length, partials };
}

/**
 * Decodes a stored raw batch (the JSON array as the client sent it) and validates it again with
 * the ingestion rules. Ingestion only stores valid batches, so a failure here means the object
 * is damaged or foreign: the reason says which, and nothing throws.
 */
export function parseRawBatch(text: string): ParseResult<LogEntry[]> {
  let input: unknown;
  try {
    // A byte-order mark is not JSON but is what some clients put in front of it.
    input = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (err) {
    return { ok: false, reason: `raw batch is not valid JSON: ${(err as Error).message}` };
  }
  if (!Array.isArray(input)) return { ok: false, reason: 'raw batch is not a JSON array' };
  if (input.length === 0) return { ok: false, reason: 'raw batch is empty' };
  const { errorCount, errors } = validateEntries(input, 1);
  if (errorCount > 0) {
    const [first] = errors;
    return { ok: false, reason: `raw batch has ${errorCount} invalid field(s); first: entry ${first.index} ${first.field} ${first.reason}`.replace(/\s+/g, ' ') };
  }
  return { ok: true, value: input.map((e) => toLogEntry(e as Record<string, unknown>)) };
}

/** parseRawBatch then summarizeEntries. */
export function summarizeRawBatch(ref: BatchRef, text: string, familyOf: (userAgent: string) => string): ParseResult<Summary> {
  const parsed = parseRawBatch(text);
  if (!parsed.ok) return parsed;
  return { ok: true, value: summarizeEntries(ref, parsed.value, familyOf) };
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
  };
  return JSON.stringify(canonical);
}

/** The canonical JSON of a summary (the object stored under `summaries/`). */
export function serializeSummary(s: Summary): string {
  const partials = s.partials.map(serializePartial).join(',');
  return `{"v":1,"customerId":${JSON.stringify(s.customerId)},"batchId":${JSON.stringify(s.batchId)},"entries":${s.entries},"partials":[${partials}]}`;
}

/**
 * Reads a stored summary back and checks it belongs to `ref` and adds up; a stored summary wins
 * over a fresh computation so that every redelivery re-sends exactly what was sent first.
 */
export function parseSummary(text: string, ref: BatchRef): ParseResult<Summary> {
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: `summary is not valid JSON: ${(err as Error).message}` };
  }
  const s = input as Summary;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return { ok: false, reason: 'summary is not an object' };
  if (s.v !== 1) return { ok: false, reason: `unsupported summary version ${JSON.stringify(s.v)}` };
  if (s.customerId !== ref.customerId || s.batchId !== ref.batchId) return { ok: false, reason: 'summary belongs to another batch' };
  if (!Number.isSafeInteger(s.entries) || s.entries < 1) return { ok: false, reason: 'summary entries must be a positive integer' };
  if (!Array.isArray(s.partials) || s.partials.length === 0) return { ok: false, reason: 'summary has no partials' };
  const partials: Partial[] = [];
  let total = 0;
  let previous = '';
  for (const candidate of s.partials as unknown[]) {
    const parsed = parsePartial(candidate);
    if (!parsed.ok) return { ok: false, reason: `summary partial invalid: ${parsed.reason}` };
    const p = parsed.value;
    if (p.customerId !== ref.customerId || p.batchId !== ref.batchId) return { ok: false, reason: 'summary partial belongs to another batch' };
    if (p.windowStart <= previous) return { ok: false, reason: 'summary partials are not in strictly increasing window order' };
    previous = p.windowStart;
    total += p.total;
    partials.push(p);
  }
  if (total !== s.entries) return { ok: false, reason: `summary partials add up to ${total}, not ${s.entries}` };
  return { ok: true, value: { v: 1, customerId: ref.customerId, batchId: ref.batchId, entries: s.entries, partials } };
}
