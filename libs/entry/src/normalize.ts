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

/**
 * Date, hour and minute, and the offset. Offsets are whole minutes and seconds run 00-59, so
 * every timestamp sharing these two parts lies in the same UTC minute.
 */
const MINUTE_AND_ZONE = /^(\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}):[0-5]\d(?:\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const MAX_CACHED_MINUTES = 4_096;

/**
 * Normalizes validated entries. Full timestamp parsing dominates the cost of a large batch, yet
 * a batch spans few minutes: the minute is parsed once per distinct minute-and-offset text.
 * The result is exactly that of parsing each timestamp (only the work is shared).
 */
export class EntryNormalizer {
  private readonly minutes = new Map<string, number>();

  constructor(private readonly familyOf: (userAgent: string) => string) {}

  normalize(entry: LogEntry): NormalizedEntry {
    return { windowStartMs: this.minuteOf(entry.receivedAt), pathKey: pathKey(entry.method, entry.path), userAgentFamily: this.familyOf(entry.userAgent) };
  }

  minuteOf(receivedAt: string): number {
    const m = MINUTE_AND_ZONE.exec(receivedAt);
    if (!m) return minuteOf(receivedAt);
    const key = m[1] + m[2];
    let start = this.minutes.get(key);
    if (start === undefined) {
      start = minuteOf(receivedAt);
      if (this.minutes.size >= MAX_CACHED_MINUTES) this.minutes.clear();
      this.minutes.set(key, start);
    }
    return start;
  }
}

/** Normalizes one validated entry (see EntryNormalizer for many). */
export function normalizeEntry(entry: LogEntry, familyOf: (userAgent: string) => string): NormalizedEntry {
  return { windowStartMs: minuteOf(entry.receivedAt), pathKey: pathKey(entry.method, entry.path), userAgentFamily: familyOf(entry.userAgent) };
}
