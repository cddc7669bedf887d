import { AnalyticsStore, sqlDateTimeText, sqlValue } from '@pipeline/clickhouse';
import { fromRow, StoredWindowRow, toRow, WindowState } from '@pipeline/partial';
import { coarserPeriods, CustomerPeriod, parseMinute, periodsOf, windowKey } from '@pipeline/window';
import { hostname } from 'node:os';
import { rollupRefreshStatement } from './rollup-statements';

export interface WindowRef {
  customerId: string;
  windowStart: string;
}

/** Where window revisions are made durable and read back from. */
export interface WindowStore {
  /** The latest revision of each window that has one, keyed by windowKey; absent windows were never written. */
  load(windows: WindowRef[]): Promise<Map<string, WindowState>>;
  /** Writes one new revision per state, all in one insert. */
  write(states: WindowState[]): Promise<void>;
  /** A known-good write beside the revisions (the probe table): resolves when the store takes writes. */
  probeWrite(): Promise<void>;
  /**
   * Recomputes the hour rows, then the day rows, holding these windows from what is stored now:
   * called after their revisions are written (or found written), before the offsets are committed
   * (through RollupRefresher).
   */
  refreshRollups(windows: WindowRef[]): Promise<void>;
}

/** Keeps a statement well below ClickHouse's default max_query_size (256 KiB) even with 64-char customer ids. */
const WINDOWS_PER_QUERY = 500;
/** The same bound for the (customer, period) pairs of a rollup refresh. */
const PERIODS_PER_STATEMENT = 500;

interface LatestRow {
  customer_id: string;
  window_start_text: string;
  latest_revision: StoredWindowRow['revision'];
  latest_total: StoredWindowRow['total_requests'];
  latest_path_keys: string[];
  latest_path_counts: StoredWindowRow['path_counts'];
  latest_ua_keys: string[];
  latest_ua_counts: StoredWindowRow['ua_counts'];
  all_batch_ids: string[];
}

const toStoredRow = (r: LatestRow): StoredWindowRow => ({
  customer_id: r.customer_id,
  window_start: r.window_start_text,
  revision: r.latest_revision,
  total_requests: r.latest_total,
  path_keys: r.latest_path_keys,
  path_counts: r.latest_path_counts,
  ua_keys: r.latest_ua_keys,
  ua_counts: r.latest_ua_counts,
  batch_ids: r.all_batch_ids,
});

const distinct = <T>(values: T[]) => [...new Set(values)];

/** Who wrote a probe row: the host and process, for an operator reading the table. */
const WRITER = `${hostname()}:${process.pid}`;
function* chunks(periods: CustomerPeriod[]): Generator<CustomerPeriod[]> {
  for (let i = 0; i < periods.length; i += PERIODS_PER_STATEMENT) yield periods.slice(i, i + PERIODS_PER_STATEMENT);
}

/** ClickHouse `window_revisions`: one row per revision, the highest revision is the window's truth. */
export class ClickHouseWindowStore implements WindowStore {
  constructor(
    private readonly clickhouse: AnalyticsStore,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async load(windows: WindowRef[]): Promise<Map<string, WindowState>> {
    const found = new Map<string, WindowState>();
    for (let i = 0; i < windows.length; i += WINDOWS_PER_QUERY) {
      const rows = await this.clickhouse.query<LatestRow>(this.loadStatement(windows.slice(i, i + WINDOWS_PER_QUERY)));
      for (const row of rows) {
        const state = fromRow(toStoredRow(row));
        found.set(windowKey(state.customerId, state.windowStart), state);
      }
    }
    return found;
  }

  async write(states: WindowState[]): Promise<void> {
    const writtenAt = sqlDateTimeText(this.clock());
    await this.clickhouse.insert(
      'window_revisions',
      states.map((s) => ({ ...toRow(s), written_at: writtenAt })),
    );
  }

  async probeWrite(): Promise<void> {
    await this.clickhouse.insert('write_probe', [{ written_at: sqlDateTimeText(this.clock()), writer: WRITER }]);
  }

  /** One statement for the hours, then one for the days (more only past PERIODS_PER_STATEMENT pairs); RollupRefresher decides when. */
  async refreshRollups(windows: WindowRef[]): Promise<void> {
    if (windows.length === 0) return;
    const hours = periodsOf(windows, 'hour');
    for (const chunk of chunks(hours)) await this.clickhouse.command(rollupRefreshStatement(this.clickhouse.database, 'hour', { periods: chunk }));
    for (const chunk of chunks(coarserPeriods(hours, 'day'))) await this.clickhouse.command(rollupRefreshStatement(this.clickhouse.database, 'day', { periods: chunk }));
  }

  /**
   * Latest revision per window via argMax, never FINAL: it does not depend on background merges;
   * with the ids of every revision, since each row carries only those merged since the previous.
   * Revisions are ordered as the views order them, by (revision, written_at, content_hash) (see
   * migration 001), so a tie on the revision resolves to the row the views show, on every
   * ClickHouse version. The customer and minute lists let ClickHouse skip partitions and ranges
   * of the sort key; the tuple list picks the exact windows. Aliases differ from column names on
   * purpose: ClickHouse aliases are visible in the whole statement, WHERE included.
   */
  private loadStatement(windows: WindowRef[]): string {
    const minute = (w: WindowRef) => {
      const ms = parseMinute(w.windowStart);
      if (ms === null) throw new Error(`not a minute window: ${JSON.stringify(w.windowStart)}`);
      return new Date(ms);
    };
    const customers = distinct(windows.map((w) => w.customerId));
    const starts = distinct(windows.map((w) => minute(w).getTime())).map((ms) => new Date(ms));
    const pairs = windows.map((w) => `(${sqlValue(w.customerId)}, ${sqlValue(minute(w))})`);
    return `SELECT
    customer_id,
    toString(window_start) AS window_start_text,
    max(revision) AS latest_revision,
    argMax(total_requests, (revision, written_at, content_hash)) AS latest_total,
    argMax(path_keys, (revision, written_at, content_hash)) AS latest_path_keys,
    argMax(path_counts, (revision, written_at, content_hash)) AS latest_path_counts,
    argMax(ua_keys, (revision, written_at, content_hash)) AS latest_ua_keys,
    argMax(ua_counts, (revision, written_at, content_hash)) AS latest_ua_counts,
    groupArrayArray(batch_ids) AS all_batch_ids
FROM ${this.clickhouse.database}.window_revisions
WHERE customer_id IN (${customers.map((c) => sqlValue(c)).join(', ')})
  AND window_start IN (${starts.map((d) => sqlValue(d)).join(', ')})
  AND (customer_id, window_start) IN (${pairs.join(', ')})
GROUP BY customer_id, window_start`;
  }
}
