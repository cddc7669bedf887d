import { DAY_MS, HOUR_MS, parseMinute } from './minute';

/** The periods the rollups keep: a UTC hour and a UTC day. */
export type RollupPeriod = 'hour' | 'day';

export const PERIOD_MS: Record<RollupPeriod, number> = { hour: HOUR_MS, day: DAY_MS };

/** One customer's period, by its start (epoch ms, UTC). */
export interface CustomerPeriod {
  customerId: string;
  startMs: number;
}

/** A span of time, both ends inclusive, in whole seconds: see periodRanges. */
export interface InclusiveRange {
  fromMs: number;
  /** The last second of the span. */
  toMs: number;
}

/**
 * The distinct (customer, period) pairs that hold the given minute windows, sorted by customer
 * (code-unit order) then start. Throws on a window that is not a canonical minute.
 */
export function periodsOf(windows: Iterable<{ customerId: string; windowStart: string }>, period: RollupPeriod): CustomerPeriod[] {
  const size = PERIOD_MS[period];
  const seen = new Map<string, CustomerPeriod>();
  for (const w of windows) {
    const ms = parseMinute(w.windowStart);
    if (ms === null) throw new Error(`not a minute window: ${JSON.stringify(w.windowStart)}`);
    const startMs = Math.floor(ms / size) * size;
    const key = `${w.customerId}\u0000${startMs}`;
    if (!seen.has(key)) seen.set(key, { customerId: w.customerId, startMs });
  }
  return [...seen.values()].sort((a, b) => (a.customerId < b.customerId ? -1 : a.customerId > b.customerId ? 1 : a.startMs - b.startMs));
}

/** The periods (of `period`) that hold the given period starts of a finer one, e.g. the days of hours. */
export function coarserPeriods(periods: Iterable<CustomerPeriod>, period: RollupPeriod): CustomerPeriod[] {
  const size = PERIOD_MS[period];
  const seen = new Map<string, CustomerPeriod>();
  for (const p of periods) {
    const startMs = Math.floor(p.startMs / size) * size;
    const key = `${p.customerId}\u0000${startMs}`;
    if (!seen.has(key)) seen.set(key, { customerId: p.customerId, startMs });
  }
  return [...seen.values()].sort((a, b) => (a.customerId < b.customerId ? -1 : a.customerId > b.customerId ? 1 : a.startMs - b.startMs));
}

/**
 * The spans covering the given period starts, adjacent periods joined into one span, sorted.
 * Ends are the last second of a span rather than the next period's start: the last hour of 2105
 * would end at 2106-01-01 00:00, an instant ClickHouse 18.16 wraps to 1970.
 */
export function periodRanges(startsMs: Iterable<number>, period: RollupPeriod): InclusiveRange[] {
  const size = PERIOD_MS[period];
  const starts = [...new Set(startsMs)].sort((a, b) => a - b);
  const ranges: InclusiveRange[] = [];
  for (const start of starts) {
    const last = ranges[ranges.length - 1];
    if (last && last.toMs + 1000 === start) last.toMs = start + size - 1000;
    else ranges.push({ fromMs: start, toMs: start + size - 1000 });
  }
  return ranges;
}

/** The span of the UTC month `YYYYMM` (a ClickHouse `toYYYYMM` partition), its last second inclusive. */
export function monthRange(partition: number): InclusiveRange {
  const year = Math.floor(partition / 100);
  const month = partition % 100;
  if (!Number.isInteger(partition) || month < 1 || month > 12 || year < 1970) throw new Error(`not a month partition: ${partition}`);
  return { fromMs: Date.UTC(year, month - 1, 1), toMs: Date.UTC(year, month, 1) - 1000 };
}
