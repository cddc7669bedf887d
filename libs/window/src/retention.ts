import { DAY_MS } from './minute';

/**
 * Retention of window revisions by the age of their window (event time against the wall clock:
 * the one place where the two meet, and only when a retention is configured; 0 keeps everything).
 *
 * Revisions are stored in one partition per UTC month of their window and leave a whole month at
 * a time: a month is dropped once its last minute is older than the retention plus a grace day.
 * Every window older than the retention is closed: a partial for it is refused, never merged,
 * because the ids that would recognise it as a duplicate may already be gone. Together: a partial
 * that is merged always meets every id of its window, and a month is dropped only after every one
 * of its windows has been closed for at least a day (room for clocks that disagree a little).
 */
export const RETENTION_GRACE_MS = DAY_MS;

/** Windows starting before this instant are closed (undefined: retention off). */
export function retentionHorizonMs(nowMs: number, retentionDays: number): number | undefined {
  if (!(retentionDays > 0)) return undefined;
  return nowMs - retentionDays * DAY_MS;
}

/** Whether a window is older than the retention: partials for it are refused. */
export function isExpiredWindow(windowStartMs: number, nowMs: number, retentionDays: number): boolean {
  const horizon = retentionHorizonMs(nowMs, retentionDays);
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
  const horizon = retentionHorizonMs(nowMs, retentionDays);
  if (horizon === undefined) return [];
  return partitions.filter((p) => endOfMonthPartition(p) <= horizon - RETENTION_GRACE_MS).sort((a, b) => a - b);
}

/** Days after the end of a window's month at which its partition is dropped (the same rule, for a TTL). */
export function partitionTtlDays(retentionDays: number): number {
  return retentionDays + RETENTION_GRACE_MS / DAY_MS;
}
