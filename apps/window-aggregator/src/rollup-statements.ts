import { sqlIdentifier, sqlValue } from '@pipeline/clickhouse';
import { CustomerPeriod, InclusiveRange, monthRange, periodRanges, RollupPeriod } from '@pipeline/window';

/** The rollup table of each period, and where its rows are computed from. */
export const ROLLUP_TABLES: Record<RollupPeriod, { table: string; source: string; latest: string; latestColumns: string[]; startOf: string }> = {
  // The latest revision of each minute, ordered as minute_aggregates orders them (migration 001).
  hour: {
    table: 'hourly_rollup',
    source: 'window_revisions',
    latest: '(revision, written_at, content_hash)',
    latestColumns: ['revision', 'written_at', 'content_hash'],
    startOf: 'toStartOfHour',
  },
  // The most complete row of each hour (migration 006).
  day: {
    table: 'daily_rollup',
    source: 'hourly_rollup',
    latest: 'precedence',
    latestColumns: ['tupleElement(precedence, 1)', 'tupleElement(precedence, 2)'],
    startOf: 'toStartOfDay',
  },
};

/** Which periods a refresh recomputes: given customers' periods, or every period of a UTC month (`YYYYMM`). */
export type RollupScope = { periods: CustomerPeriod[] } | { month: number };

const date = (ms: number) => sqlValue(new Date(ms));
const within = (r: InclusiveRange) => `window_start >= ${date(r.fromMs)} AND window_start <= ${date(r.toMs)}`;

/**
 * The source rows' filter: on the sort key's columns (customer_id IN, window_start ranges), so
 * ClickHouse skips partitions and granules, then the exact pairs. Ranges end on their last
 * second (see periodRanges).
 */
function scopeFilter(period: RollupPeriod, scope: RollupScope): string {
  if ('month' in scope) return within(monthRange(scope.month));
  if (scope.periods.length === 0) throw new Error('a rollup refresh needs at least one period');
  const customers = [...new Set(scope.periods.map((p) => p.customerId))];
  const ranges = periodRanges(
    scope.periods.map((p) => p.startMs),
    period,
  );
  const pairs = scope.periods.map((p) => `(${sqlValue(p.customerId)}, ${date(p.startMs)})`);
  return [
    `customer_id IN (${customers.map((c) => sqlValue(c)).join(', ')})`,
    `(${ranges.map(within).join(' OR ')})`,
    `(customer_id, ${ROLLUP_TABLES[period].startOf}(window_start)) IN (${pairs.join(', ')})`,
  ].join('\n          AND ');
}

/**
 * One INSERT ... SELECT that recomputes the rollup rows of `period` in `scope` from what the
 * finer level holds now: hours from the latest revision of each minute, days from the most
 * complete row of each hour. A recomputation only ever adds a row; the row with the largest
 * total is the period's (docs/semantics.md, "Rollups"), so it may run any number of times, in
 * any order, by any writer.
 *
 * For given periods, the latest row of each finer period is found first from its small ordering
 * columns alone, and only that row's arrays are unfolded: a hot minute may hold hundreds of revisions of ten thousand
 * paths each, and unfolding all of them on every refresh cost the store most of a core under a
 * flood. (Equal ordering columns mean equal content: argMax still keeps one of such twins.)
 *
 * No JOIN (ClickHouse 18.16 has one JOIN per SELECT and no sumMap over String keys):
 * each source row becomes (kind, key, count) items (kind 0: the total; 1: a path; 2: a user
 * agent), summed per period and key, then regrouped per period with the keys in byte order, as
 * the minute rows keep them.
 */
export function rollupRefreshStatement(database: string, period: RollupPeriod, scope: RollupScope): string {
  const db = sqlIdentifier(database);
  const { table, source, latest, latestColumns, startOf } = ROLLUP_TABLES[period];
  const scoped = scopeFilter(period, scope);
  // A month's backfill (migration 006, which must stay as it ran) reads every row anyway.
  const latestOnly =
    'month' in scope
      ? ''
      : `
        PREWHERE (customer_id, window_start, ${latestColumns.join(', ')}) IN
        (
            SELECT customer_id, window_start, ${latestColumns.map((_, i) => `tupleElement(latest, ${i + 1})`).join(', ')}
            FROM
            (
                SELECT customer_id, window_start, max(${latest}) AS latest
                FROM ${db}.${source}
                WHERE ${scoped}
                GROUP BY customer_id, window_start
            )
        )`;
  const sorted = (kind: number, part: 1 | 2) => `arrayMap(t -> tupleElement(t, ${part}), arraySort(groupArrayIf((key, n), kind = ${kind})))`;
  return `INSERT INTO ${db}.${table} (customer_id, window_start, total_requests, path_keys, path_counts, ua_keys, ua_counts)
SELECT
    customer_id,
    period AS window_start,
    sumIf(n, kind = 0) AS total_requests,
    ${sorted(1, 1)} AS path_keys,
    ${sorted(1, 2)} AS path_counts,
    ${sorted(2, 1)} AS ua_keys,
    ${sorted(2, 2)} AS ua_counts
FROM
(
    SELECT customer_id, period, tupleElement(item, 1) AS kind, tupleElement(item, 2) AS key, sum(tupleElement(item, 3)) AS n
    FROM
    (
        SELECT
            customer_id,
            ${startOf}(window_start) AS period,
            argMax(
                arrayConcat([(0, '', total_requests)], arrayMap((k, c) -> (1, k, c), path_keys, path_counts), arrayMap((k, c) -> (2, k, c), ua_keys, ua_counts)),
                ${latest}
            ) AS items
        FROM ${db}.${source}${latestOnly}
        WHERE ${scoped}
        GROUP BY customer_id, window_start
    )
    ARRAY JOIN items AS item
    GROUP BY customer_id, period, kind, key
)
GROUP BY customer_id, period`;
}
