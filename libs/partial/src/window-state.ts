import { MINUTE_MS, parseMinute, windowKey } from '@pipeline/window';

/**
 * Everything the aggregator knows about one customer's minute: the counts and the ids of every
 * partial merged into them (its batch id, or `batch#part/parts`). Each revision row carries the
 * counts and the ids merged since the previous revision (same row, same write), which is what
 * makes a redelivered partial recognisable after any crash, while a revision of a window fed by
 * a hundred thousand batches still writes only what is new.
 */
export interface WindowState {
  customerId: string;
  /** Minute window, `YYYY-MM-DDTHH:MMZ`. */
  windowStart: string;
  /** Revision of the last durable write of this state; 0 when it was never written. */
  revision: number;
  total: number;
  byPath: Map<string, number>;
  byUserAgent: Map<string, number>;
  /** Ids merged in written revisions. Shared, not copied, between a state and its working copies. */
  mergedIds: Set<string>;
  /** Ids merged since the last written revision: what the next revision row carries. */
  newIds: Set<string>;
}

/** A row of `window_revisions`: a window's counts at one revision and the ids merged since the previous one. */
export interface WindowRevisionRow {
  customer_id: string;
  /** `YYYY-MM-DD hh:mm:ss`, UTC (ClickHouse DateTime text). */
  window_start: string;
  revision: number;
  total_requests: number;
  path_keys: string[];
  path_counts: number[];
  ua_keys: string[];
  ua_counts: number[];
  batch_ids: string[];
}

/** A revision row as ClickHouse returns it: 64-bit integers may arrive as strings. */
export interface StoredWindowRow {
  customer_id: string;
  window_start: string;
  revision: number | string;
  total_requests: number | string;
  path_keys: string[];
  path_counts: Array<number | string>;
  ua_keys: string[];
  ua_counts: Array<number | string>;
  batch_ids: string[];
}

export function emptyWindowState(customerId: string, windowStart: string): WindowState {
  return { customerId, windowStart, revision: 0, total: 0, byPath: new Map(), byUserAgent: new Map(), mergedIds: new Set(), newIds: new Set() };
}

export function windowStateKey(state: Pick<WindowState, 'customerId' | 'windowStart'>): string {
  return windowKey(state.customerId, state.windowStart);
}

/**
 * A working copy: merging into it leaves the original (a cached, durable state) untouched. The
 * written ids are shared rather than copied (a hot window holds a hundred thousand): merging only
 * adds to `newIds`, and they join `mergedIds` in markWritten, once their revision is durable.
 */
export function cloneWindowState(state: WindowState): WindowState {
  return {
    ...state,
    byPath: new Map(state.byPath),
    byUserAgent: new Map(state.byUserAgent),
    mergedIds: state.mergedIds,
    newIds: new Set(state.newIds),
  };
}

/** Whether a partial id is part of the state, written or not yet. */
export function hasMerged(state: WindowState, id: string): boolean {
  return state.mergedIds.has(id) || state.newIds.has(id);
}

/** The state's revision is durable: its new ids become written ids. */
export function markWritten(state: WindowState): void {
  for (const id of state.newIds) state.mergedIds.add(id);
  state.newIds.clear();
}

/** Epoch ms of a window's start; throws on a malformed minute (states are built from valid partials). */
export function windowStartMs(state: Pick<WindowState, 'windowStart'>): number {
  const ms = parseMinute(state.windowStart);
  if (ms === null) throw new Error(`not a minute window: ${JSON.stringify(state.windowStart)}`);
  return ms;
}

export function windowEndMs(state: Pick<WindowState, 'windowStart'>): number {
  return windowStartMs(state) + MINUTE_MS;
}

/** `2025-12-28T18:03Z` -> `2025-12-28 18:03:00` (ClickHouse DateTime text, UTC). */
export function minuteToDateTimeText(minute: string): string {
  if (parseMinute(minute) === null) throw new Error(`not a minute window: ${JSON.stringify(minute)}`);
  return `${minute.slice(0, 10)} ${minute.slice(11, 16)}:00`;
}

const DATE_TIME_TEXT = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}):00$/;
/** How ClickHouse 18.16 writes the DateTime 0 (1970-01-01 00:00:00 UTC); current releases write the date. */
const ZERO_DATE_TIME_TEXT = '0000-00-00 00:00:00';

/** Inverse of minuteToDateTimeText; null unless the text is a whole UTC minute. */
export function dateTimeTextToMinute(text: string): string | null {
  if (text === ZERO_DATE_TIME_TEXT) return '1970-01-01T00:00Z';
  const m = DATE_TIME_TEXT.exec(text);
  if (!m) return null;
  const minute = `${m[1]}T${m[2]}Z`;
  return parseMinute(minute) === null ? null : minute;
}

/**
 * Code-point order, which is the order of the strings' UTF-8 bytes: how ClickHouse sorts String
 * values. JavaScript's default sort compares UTF-16 code units instead, which puts characters
 * above U+FFFF (emoji) before U+E000..U+FFFF.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xSurrogate = x >= 0xd800 && x <= 0xdfff;
    const ySurrogate = y >= 0xd800 && y <= 0xdfff;
    if (xSurrogate !== ySurrogate) return xSurrogate ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/**
 * Keys with their counts as parallel arrays (the query surface's shape), keys in code-point
 * order: the order the hourly and daily views produce with ClickHouse's own sort.
 */
export function toParallelArrays(counts: Map<string, number>): { keys: string[]; counts: number[] } {
  const keys = [...counts.keys()].sort(compareCodePoints);
  return { keys, counts: keys.map((k) => counts.get(k)!) };
}

/** The revision row for `state`: keys and new ids sorted, so equal states give equal rows. */
export function toRow(state: WindowState): WindowRevisionRow {
  const paths = toParallelArrays(state.byPath);
  const uas = toParallelArrays(state.byUserAgent);
  return {
    customer_id: state.customerId,
    window_start: minuteToDateTimeText(state.windowStart),
    revision: state.revision,
    total_requests: state.total,
    path_keys: paths.keys,
    path_counts: paths.counts,
    ua_keys: uas.keys,
    ua_counts: uas.counts,
    batch_ids: [...state.newIds].sort(),
  };
}

function toCount(value: number | string, what: string): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`stored window has an invalid ${what}: ${JSON.stringify(value)}`);
  return n;
}

function toCountMap(keys: string[], counts: Array<number | string>, what: string): Map<string, number> {
  if (!Array.isArray(keys) || !Array.isArray(counts) || keys.length !== counts.length) {
    throw new Error(`stored window has ${what} keys and counts of different lengths`);
  }
  return new Map(keys.map((k, i) => [k, toCount(counts[i], `${what} count`)]));
}

const sumOf = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

/**
 * Rebuilds a state from its latest stored row, with `batch_ids` the ids of all its revisions. A row that does not add up is refused rather than
 * merged into: writing on top of it would make the damage permanent.
 */
export function fromRow(row: StoredWindowRow): WindowState {
  const windowStart = dateTimeTextToMinute(row.window_start);
  if (windowStart === null) throw new Error(`stored window has an invalid window_start: ${JSON.stringify(row.window_start)}`);
  const total = toCount(row.total_requests, 'total_requests');
  const byPath = toCountMap(row.path_keys, row.path_counts, 'path');
  const byUserAgent = toCountMap(row.ua_keys, row.ua_counts, 'user-agent');
  if (sumOf(byPath) !== total || sumOf(byUserAgent) !== total) {
    throw new Error(`stored window ${row.customer_id}|${windowStart} does not add up to its total`);
  }
  if (!Array.isArray(row.batch_ids)) throw new Error('stored window has no batch_ids');
  return {
    customerId: row.customer_id,
    windowStart,
    revision: toCount(row.revision, 'revision'),
    total,
    byPath,
    byUserAgent,
    mergedIds: new Set(row.batch_ids),
    newIds: new Set(),
  };
}
