import { EntriesValidation, LogEntry, NormalizedEntry, normalizeEntries, normalizeEntry } from '@pipeline/entry';
import { formatMinute } from '@pipeline/window';
import { Parsed, Partial, parsePartial, serializePartial, sortedCounts } from '@pipeline/contract';
import { splitPartial } from './split';

type ParseResult<T> = Parsed<T>;

/** Whose batch is being summarized: copied into every partial. */
export interface BatchRef {
  customerId: string;
  batchId: string;
}

/**
 * Everything one batch contributes: one partial per minute, in window order, a minute's partial
 * split into numbered parts when it would not fit one message. The summary is stored before the
 * partials are sent, and a redelivery re-sends the stored one, so the split never changes.
 */
export interface Summary extends BatchRef {
  v: 1;
  /** Number of entries summarized; equals the sum of the partials' totals. */
  entries: number;
  partials: Partial[];
}

/** What summarizing needs besides the entries. */
export interface SummarizeOptions {
  familyOf: (userAgent: string) => string;
  /** Largest serialized partial, in bytes: larger ones are split into parts below it. */
  maxPartialBytes: number;
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
export function summarizeEntries(ref: BatchRef, entries: readonly LogEntry[], options: SummarizeOptions): Summary {
  return summarizeNormalized(
    ref,
    entries.map((e) => normalizeEntry(e, options.familyOf)),
    options,
  );
}

/** summarizeEntries for entries already normalized. */
function summarizeNormalized(ref: BatchRef, entries: readonly NormalizedEntry[], options: SummarizeOptions): Summary {
  const minutes = new Map<number, MinuteCounts>();
  for (const n of entries) {
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
    .flatMap((start): Partial[] => {
      const c = minutes.get(start)!;
      const whole: Partial = {
        v: 1,
        batchId: ref.batchId,
        customerId: ref.customerId,
        windowStart: formatMinute(start),
        windowSize: 'minute',
        total: c.total,
        requestsByPath: toCounts(c.byPath),
        requestsByUserAgent: toCounts(c.byUserAgent),
      };
      return splitPartial(whole, options.maxPartialBytes);
    });
  return { v: 1, customerId: ref.customerId, batchId: ref.batchId, entries: entries.length, partials };
}

/** The JSON array of a stored raw batch, or why it is not one. */
function decodeRawBatch(text: string): ParseResult<unknown[]> {
  let input: unknown;
  try {
    // A byte-order mark is not JSON but is what some clients put in front of it.
    input = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (err) {
    return { ok: false, reason: `raw batch is not valid JSON: ${(err as Error).message}` };
  }
  if (!Array.isArray(input)) return { ok: false, reason: 'raw batch is not a JSON array' };
  if (input.length === 0) return { ok: false, reason: 'raw batch is empty' };
  return { ok: true, value: input };
}

const invalidEntries = ({ errorCount, errors: [first] }: EntriesValidation): { ok: false; reason: string } => ({
  ok: false,
  reason: `raw batch has ${errorCount} invalid field(s); first: entry ${first.index} ${first.field} ${first.reason}`.replace(/\s+/g, ' '),
});

/**
 * Decodes a stored raw batch (the JSON array as the client sent it), validates it again with the
 * ingestion rules and summarizes it, reading each entry once. Ingestion only stores valid
 * batches, so a failure here means the object is damaged or foreign: the reason says which, and
 * nothing throws.
 */
export function summarizeRawBatch(ref: BatchRef, text: string, options: SummarizeOptions): ParseResult<Summary> {
  const decoded = decodeRawBatch(text);
  if (!decoded.ok) return decoded;
  const normalized = normalizeEntries(decoded.value, options.familyOf, 1);
  if (!normalized.ok) return invalidEntries(normalized);
  return { ok: true, value: summarizeNormalized(ref, normalized.entries, options) };
}

/**
 * The canonical JSON of a summary (the object stored under `summaries/`). `partialsJson`: the
 * partials' canonical JSON when the caller has it already (it sends the same bytes to Kafka).
 */
export function serializeSummary(s: Summary, partialsJson: readonly string[] = s.partials.map(serializePartial)): string {
  const partials = partialsJson.join(',');
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
  let previous: Partial | undefined;
  for (const candidate of s.partials as unknown[]) {
    const parsed = parsePartial(candidate);
    if (!parsed.ok) return { ok: false, reason: `summary partial invalid: ${parsed.reason}` };
    const p = parsed.value;
    if (p.customerId !== ref.customerId || p.batchId !== ref.batchId) return { ok: false, reason: 'summary partial belongs to another batch' };
    if (!follows(previous, p)) return { ok: false, reason: 'summary partials are not in window order, parts numbered 1..parts' };
    previous = p;
    total += p.total;
    partials.push(p);
  }
  if (previous?.parts !== undefined && previous.part !== previous.parts) return { ok: false, reason: 'summary ends inside a split partial' };
  if (total !== s.entries) return { ok: false, reason: `summary partials add up to ${total}, not ${s.entries}` };
  return { ok: true, value: { v: 1, customerId: ref.customerId, batchId: ref.batchId, entries: s.entries, partials } };
}

/** Windows strictly increase; the parts of a split window follow each other as 1, 2, ..., parts. */
function follows(previous: Partial | undefined, p: Partial): boolean {
  const continuesSplit = previous?.parts !== undefined && previous.part! < previous.parts;
  if (continuesSplit) return p.windowStart === previous!.windowStart && p.parts === previous!.parts && p.part === previous!.part! + 1;
  return (previous === undefined || p.windowStart > previous.windowStart) && (p.parts === undefined || p.part === 1);
}
