import { windowStartOf } from '@pipeline/window';
import { LogEntry } from './entry';
import { pathKey } from './path';
import { parseTimestamp } from './validate';

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
