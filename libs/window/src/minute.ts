/**
 * Event-time windows. A window is named by its UTC start; minute windows are written
 * `YYYY-MM-DDTHH:MMZ` (e.g. `2025-12-28T18:03Z`), the form used in Kafka keys and events.
 */

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

export type WindowSize = 'minute' | 'hour' | 'day';

const SIZE_MS: Record<WindowSize, number> = { minute: MINUTE_MS, hour: HOUR_MS, day: DAY_MS };

/** Start (epoch ms, UTC) of the window of `size` holding the instant `epochMs`. */
export function windowStartOf(epochMs: number, size: WindowSize = 'minute'): number {
  const ms = SIZE_MS[size];
  return Math.floor(epochMs / ms) * ms;
}

/** `2025-12-28T18:03Z` for the minute holding `epochMs`. */
export function formatMinute(epochMs: number): string {
  return new Date(windowStartOf(epochMs)).toISOString().slice(0, 16) + 'Z';
}

const MINUTE_TEXT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})Z$/;

/** Inverse of formatMinute; null when `text` is not a canonical minute. */
export function parseMinute(text: string): number | null {
  if (!MINUTE_TEXT.test(text)) return null;
  const ms = Date.parse(text.replace('Z', ':00Z'));
  if (Number.isNaN(ms) || formatMinute(ms) !== text) return null;
  return ms;
}

/** Kafka key of a window: every partial of one window lands on one partition. */
export function windowKey(customerId: string, windowStart: string): string {
  return `${customerId}|${windowStart}`;
}

/**
 * The event times the rollup store holds exactly: ClickHouse `DateTime` counts seconds from
 * 1970-01-01 in an unsigned 32-bit integer (up to 2106-02-07), and out-of-range values silently
 * wrap on some server versions. Entries outside [EARLIEST_EVENT_MS, LATEST_EVENT_MS] are refused
 * at ingestion, where the client can still be told, rather than miscounted three hops later.
 */
export const EARLIEST_EVENT_MS = 0;
/** The last millisecond of 2105 (UTC): whole days, hours and minutes up to it all fit. */
export const LATEST_EVENT_MS = Date.UTC(2106, 0, 1) - 1;

export function isStorableEventTime(epochMs: number): boolean {
  return Number.isFinite(epochMs) && epochMs >= EARLIEST_EVENT_MS && epochMs <= LATEST_EVENT_MS;
}
