import { Partial, sortedCounts } from '@pipeline/contract';
import { dateTimeTextToMinute } from '@pipeline/partial';
import { formatMinute, parseMinute, windowKey, windowStartOf, WindowSize } from '@pipeline/window';

/** The counts of one customer in one window (a minute, an hour or a day), as analysts see them. */
export interface Aggregate {
  customerId: string;
  /** Window start as a minute, `YYYY-MM-DDTHH:MMZ` (hours and days start on a minute too). */
  windowStart: string;
  total: number;
  /** Keys in code-unit order. */
  byPath: Record<string, number>;
  byUserAgent: Record<string, number>;
}

/** A row of `minute_aggregates` / `hourly_aggregates` / `daily_aggregates`. */
export interface AggregateRow {
  customer_id: string;
  /** `YYYY-MM-DD hh:mm:ss`, UTC. */
  window_start: string;
  total_requests: number | string;
  path_keys: string[];
  path_counts: Array<number | string>;
  ua_keys: string[];
  ua_counts: Array<number | string>;
}

function add(into: Record<string, number>, counts: Record<string, number>): void {
  for (const [key, n] of Object.entries(counts)) into[key] = (into[key] ?? 0) + n;
}

const byWindow = (a: Aggregate, b: Aggregate) =>
  a.customerId < b.customerId ? -1 : a.customerId > b.customerId ? 1 : a.windowStart < b.windowStart ? -1 : a.windowStart > b.windowStart ? 1 : 0;

/**
 * The minute aggregates that partials must produce: each (customer, minute, batch) counts once,
 * however often it appears. Sorted by customer, then window.
 */
export function aggregatePartials(partials: Iterable<Partial>): Aggregate[] {
  const windows = new Map<string, { agg: Aggregate; batches: Set<string> }>();
  for (const p of partials) {
    const key = windowKey(p.customerId, p.windowStart);
    let w = windows.get(key);
    if (!w) {
      w = { agg: { customerId: p.customerId, windowStart: p.windowStart, total: 0, byPath: {}, byUserAgent: {} }, batches: new Set() };
      windows.set(key, w);
    }
    if (w.batches.has(p.batchId)) continue;
    w.batches.add(p.batchId);
    w.agg.total += p.total;
    add(w.agg.byPath, p.requestsByPath);
    add(w.agg.byUserAgent, p.requestsByUserAgent);
  }
  return [...windows.values()].map(({ agg }) => normalize(agg)).sort(byWindow);
}

/** Sums minute aggregates into the hours or days holding them. Sorted by customer, then window. */
export function rollup(aggregates: Iterable<Aggregate>, size: WindowSize): Aggregate[] {
  const out = new Map<string, Aggregate>();
  for (const a of aggregates) {
    const startMs = parseMinute(a.windowStart);
    if (startMs === null) throw new Error(`not a minute: ${JSON.stringify(a.windowStart)}`);
    const windowStart = formatMinute(windowStartOf(startMs, size));
    const key = windowKey(a.customerId, windowStart);
    let r = out.get(key);
    if (!r) {
      r = { customerId: a.customerId, windowStart, total: 0, byPath: {}, byUserAgent: {} };
      out.set(key, r);
    }
    r.total += a.total;
    add(r.byPath, a.byPath);
    add(r.byUserAgent, a.byUserAgent);
  }
  return [...out.values()].map(normalize).sort(byWindow);
}

function normalize(a: Aggregate): Aggregate {
  return { ...a, byPath: sortedCounts(a.byPath), byUserAgent: sortedCounts(a.byUserAgent) };
}

function zip(keys: string[], counts: Array<number | string>, what: string): Record<string, number> {
  if (keys.length !== counts.length) throw new Error(`${what} keys and counts differ in length`);
  const out: Record<string, number> = {};
  keys.forEach((k, i) => {
    out[k] = Number(counts[i]);
  });
  return sortedCounts(out);
}

/** Reads a query-surface row (parallel arrays, 64-bit integers possibly as strings). */
export function fromAggregateRow(row: AggregateRow): Aggregate {
  const windowStart = dateTimeTextToMinute(row.window_start);
  if (windowStart === null) throw new Error(`not a whole minute: ${JSON.stringify(row.window_start)}`);
  return {
    customerId: row.customer_id,
    windowStart,
    total: Number(row.total_requests),
    byPath: zip(row.path_keys, row.path_counts, 'path'),
    byUserAgent: zip(row.ua_keys, row.ua_counts, 'user-agent'),
  };
}

/** Rows read back from ClickHouse, in the same order and shape as the expectations above. */
export function fromAggregateRows(rows: Iterable<AggregateRow>): Aggregate[] {
  return [...rows].map(fromAggregateRow).sort(byWindow);
}
