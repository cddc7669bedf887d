import { DAY_MS } from './minute';

/**
 * Retention of window revisions by the age of their window (event time against the wall clock:
 * the one place where the two meet, and only when a retention is configured; 0 keeps everything).
 *
 * Three instants follow each other, a day apart at least, so that what the door accepts is counted:
 * - the door's horizon (now minus the retention): the ingestion refuses entries older than it, so
 *   nothing it accepts is already out of the retention;
 * - the closing horizon, a delivery allowance (a day) earlier: the aggregator refuses partials of
 *   windows older than it, because the ids that would recognise them as duplicates may be gone
 *   soon. A batch accepted at the door thus has a day to get through the pipeline;
 * - a month is dropped once its last minute is older than the closing horizon plus a grace day
 *   (room for clocks that disagree a little).
 * Together: a partial that is merged always meets every id of its window.
 */
export const RETENTION_GRACE_MS = DAY_MS;
/** How long an accepted batch may take from the door to the aggregator before its windows close. */
export const DELIVERY_ALLOWANCE_MS = DAY_MS;

/** Entries older than this are refused at the door (undefined: retention off). */
export function retentionHorizonMs(nowMs: number, retentionDays: number): number | undefined {
  if (!(retentionDays > 0)) return undefined;
  return nowMs - retentionDays * DAY_MS;
}

/** Windows starting before this instant are closed at the aggregator (undefined: retention off). */
export function closingHorizonMs(nowMs: number, retentionDays: number): number | undefined {
  const door = retentionHorizonMs(nowMs, retentionDays);
  return door === undefined ? undefined : door - DELIVERY_ALLOWANCE_MS;
}

/** Whether a window is closed: partials for it are refused. */
export function isExpiredWindow(windowStartMs: number, nowMs: number, retentionDays: number): boolean {
  const horizon = closingHorizonMs(nowMs, retentionDays);
  return horizon !== undefined && windowStartMs < horizon;
}

/** The partition of a window: its UTC month as the number YYYYMM (ClickHouse `toYYYYMM`). */
export function monthPartition(epochMs: number): number {
  const d = new Date(epochMs);
  return d.getUTCFullYear() * 100 + d.getUTCMonth() + 1;
}

/** Epoch ms of the first instant after the month YYYYMM. */
export function endOfMonthPartition(partition: number): number {
  const year = Math.floor(partition / 100);
  const month = partition % 100;
  if (!Number.isInteger(partition) || month < 1 || month > 12) throw new Error(`not a YYYYMM partition: ${partition}`);
  return Date.UTC(year, month, 1);
}

/**
 * The month partitions that may be dropped now: those whose every window has been closed for at
 * least the grace period. Nothing when the retention is off.
 */
export function expiredPartitions(partitions: readonly number[], nowMs: number, retentionDays: number): number[] {
  const horizon = closingHorizonMs(nowMs, retentionDays);
  if (horizon === undefined) return [];
  return partitions.filter((p) => endOfMonthPartition(p) <= horizon - RETENTION_GRACE_MS).sort((a, b) => a - b);
}

/** Days after the end of a window's month at which its partition is dropped (the same rule, for a TTL). */
export function partitionTtlDays(retentionDays: number): number {
  return retentionDays + (DELIVERY_ALLOWANCE_MS + RETENTION_GRACE_MS) / DAY_MS;
}
