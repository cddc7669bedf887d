import { windowStartOf } from '@pipeline/window';
import { LogEntry } from './entry';
import { pathKey } from './path';
import { checkEntry, EntriesValidation, MAX_REPORTED_ERRORS, parseTimestamp, problemCollector } from './validate';

/** What one entry contributes: the minute window it falls in and the two keys it is counted by. */
export interface NormalizedEntry {
  /** Start (epoch ms, UTC) of the minute holding `receivedAt`. */
  windowStartMs: number;
  pathKey: string;
  userAgentFamily: string;
}

/** Start (epoch ms, UTC) of the minute holding an RFC 3339 timestamp; throws on anything else. */
export function minuteOf(receivedAt: string): number {
  const ms = parseTimestamp(receivedAt);
  if (ms === null) throw new RangeError(`receivedAt is not an RFC 3339 timestamp: ${JSON.stringify(receivedAt)}`);
  return windowStartOf(ms, 'minute');
}

/** Normalizes one validated entry. */
export function normalizeEntry(entry: LogEntry, familyOf: (userAgent: string) => string): NormalizedEntry {
  return { windowStartMs: minuteOf(entry.receivedAt), pathKey: pathKey(entry.method, entry.path), userAgentFamily: familyOf(entry.userAgent) };
}

export type NormalizedEntries = { ok: true; entries: NormalizedEntry[] } | ({ ok: false } & EntriesValidation);

/**
 * Validates the entries of a batch as validateEntries does and, when all are valid, normalizes
 * them in the same pass: each field is read once, the timestamp parsed once.
 */
export function normalizeEntries(inputs: readonly unknown[], familyOf: (userAgent: string) => string, maxErrors = MAX_REPORTED_ERRORS): NormalizedEntries {
  const problems = problemCollector(maxErrors);
  const entries: NormalizedEntry[] = new Array(inputs.length);
  // A batch repeats its paths and agents: each key is built and each family looked up once per
  // batch (the classifier's LRU bookkeeping cost more than the look-up), and counting by the same
  // string object is cheaper than by a new one per entry.
  const keys = new Map<string, Map<string, string>>();
  const families = new Map<string, string>();
  for (let i = 0; i < inputs.length; i++) {
    const ms = checkEntry(inputs[i], i, problems.fail);
    if (problems.errorCount > 0) continue;
    const e = inputs[i] as Record<string, string>;
    let byPath = keys.get(e.method);
    if (!byPath) keys.set(e.method, (byPath = new Map()));
    let key = byPath.get(e.path);
    if (key === undefined) byPath.set(e.path, (key = pathKey(e.method, e.path)));
    let family = families.get(e.userAgent);
    if (family === undefined) families.set(e.userAgent, (family = familyOf(e.userAgent)));
    entries[i] = { windowStartMs: windowStartOf(ms, 'minute'), pathKey: key, userAgentFamily: family };
  }
  return problems.errorCount > 0 ? { ok: false, errorCount: problems.errorCount, errors: problems.errors } : { ok: true, entries };
}
