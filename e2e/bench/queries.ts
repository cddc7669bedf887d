import { ClickHouseClient, ClickHouseLogLevel, ClickHouseSettings, createClient } from '@clickhouse/client';
import { ClickHouseGateway, readMigrations, sqlIdentifier, sqlString, sqlValue } from '@pipeline/clickhouse';
import { WindowState } from '@pipeline/partial';
import { REPO_ROOT } from '@pipeline/testing';
import { DAY_MS, formatMinute, HOUR_MS, MINUTE_MS } from '@pipeline/window';
import { Command, InvalidArgumentError } from 'commander';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
// The load is written by the aggregator's own store code (write and refreshRollups), not a copy.
// eslint-disable-next-line @nx/enforce-module-boundaries
import { ClickHouseWindowStore } from '../../apps/window-aggregator/src/window-store';
import { percentile } from './stats';

/*
 * The query benchmark (`npm run -s bench:queries -- --url U --user X --password P --customers N
 * --days D`): fills database `bench_queries` at that server with the migrations and a month-like
 * load written through the aggregator's own store code (ClickHouseWindowStore.write, then
 * refreshRollups, many windows per insert), then times the analysts' queries. Progress goes to
 * stderr, the figures as JSON to stdout.
 */

export interface QueryBenchOptions {
  url: string;
  user: string;
  password: string;
  customers: number;
  days: number;
  runs: number;
  /** Untimed runs of each query first (caches). */
  warmups?: number;
  database: string;
  /** Apply the migrations up to this version only (e.g. 4: the views before the rollups). */
  migrationsUntil?: number;
  /** Keep the data already loaded with the same customers and days (then only migrate and time). */
  reuse: boolean;
  log: (line: string) => void;
}

export const FIRST_DAY_MS = Date.UTC(2025, 10, 1);
const PATHS = Array.from({ length: 24 }, (_, i) => `${['GET', 'POST', 'PUT'][i % 3]} /api/v1/resource-${i}`);
const AGENTS = ['Chrome', 'Firefox', 'Safari', 'curl', 'Googlebot', 'Other'];
/** Customers written per insert: a day of each, 1,440 windows a customer. */
const CUSTOMERS_PER_INSERT = 10;

/**
 * The revisions of one customer's day, in two write rounds: every minute's first revision (some
 * rows twice: a retried insert) and, for a third of the minutes, a second revision that extends
 * the first (a late partial), some of them written by two writers (equal revisions).
 */
export function customerDay(customer: number, day: number): { first: WindowState[]; again: WindowState[]; second: WindowState[]; tied: WindowState[] } {
  const first: WindowState[] = [];
  const again: WindowState[] = [];
  const second: WindowState[] = [];
  const tied: WindowState[] = [];
  const customerId = `cus-${customer}`;
  for (let m = 0; m < 1440; m++) {
    const windowStart = formatMinute(FIRST_DAY_MS + day * DAY_MS + m * MINUTE_MS);
    const byPath = new Map<string, number>();
    const byUserAgent = new Map<string, number>();
    const add = (path: string, agent: string, n: number) => {
      byPath.set(path, (byPath.get(path) ?? 0) + n);
      byUserAgent.set(agent, (byUserAgent.get(agent) ?? 0) + n);
    };
    add(PATHS[(m + customer) % PATHS.length], AGENTS[(m + day) % AGENTS.length], 1 + ((m * 7 + customer) % 9));
    add(PATHS[(m * 5 + day + customer) % PATHS.length], AGENTS[(customer + m * 3) % AGENTS.length], 1 + ((m + day) % 4));
    const state = (revision: number, id: string): WindowState => ({
      customerId,
      windowStart,
      revision,
      total: [...byPath.values()].reduce((a, b) => a + b, 0),
      byPath: new Map(byPath),
      byUserAgent: new Map(byUserAgent),
      mergedIds: new Set(),
      newIds: new Set([id]),
    });
    const one = state(1, `b-${customer}-${day}-${m}-1`);
    first.push(one);
    if ((m + customer) % 50 === 0) again.push(one);
    if ((m + customer + day) % 3 === 0) {
      add(PATHS[(m * 11 + customer) % PATHS.length], AGENTS[m % AGENTS.length], 2);
      const two = state(2, `b-${customer}-${day}-${m}-2`);
      second.push(two);
      if ((m + day) % 40 === 0) tied.push(two);
    }
  }
  return { first, again, second, tied };
}

interface Query {
  name: string;
  /** The SQL for run `i` (customers and days vary from run to run). */
  sql: (i: number) => string;
}

export function queries(database: string, customers: number, days: number): Query[] {
  const db = sqlIdentifier(database);
  const customer = (i: number) => sqlString(`cus-${(i * 37) % customers}`);
  const day = (i: number) => FIRST_DAY_MS + ((i * 7) % days) * DAY_MS;
  const at = (ms: number) => sqlValue(new Date(ms));
  return [
    {
      name: 'minute rows, 1 customer, 1 hour',
      sql: (i) => {
        const from = day(i) + (i % 24) * HOUR_MS;
        return `SELECT * FROM ${db}.minute_aggregates WHERE customer_id = ${customer(i)} AND window_start >= ${at(from)} AND window_start < ${at(from + HOUR_MS)} ORDER BY window_start`;
      },
    },
    {
      name: 'hourly_aggregates, 1 customer, 1 day',
      sql: (i) => `SELECT * FROM ${db}.hourly_aggregates WHERE customer_id = ${customer(i)} AND window_start >= ${at(day(i))} AND window_start < ${at(day(i) + DAY_MS)} ORDER BY window_start`,
    },
    {
      name: 'daily_aggregates, 1 customer, whole range',
      sql: (i) => `SELECT * FROM ${db}.daily_aggregates WHERE customer_id = ${customer(i)} ORDER BY window_start`,
    },
    {
      name: 'hourly totals, all customers, 1 day',
      sql: (i) =>
        `SELECT window_start, sum(total_requests) AS requests FROM ${db}.hourly_aggregates WHERE window_start >= ${at(day(i))} AND window_start < ${at(day(i) + DAY_MS)} GROUP BY window_start ORDER BY window_start`,
    },
    {
      name: 'top 10 paths, 1 customer, 1 day (from minutes)',
      sql: (i) =>
        `SELECT path, sum(n) AS requests FROM ${db}.minute_aggregates ARRAY JOIN path_keys AS path, path_counts AS n WHERE customer_id = ${customer(i)} AND window_start >= ${at(day(i))} AND window_start < ${at(day(i) + DAY_MS)} GROUP BY path ORDER BY requests DESC, path LIMIT 10`,
    },
  ];
}

export interface QueryFigures {
  name: string;
  runs: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
  /** Rows the engine read per run (median), and how they were learnt. */
  rowsRead: number | null;
  rowsReadFrom: RowsReadSource;
  rowsReturned: number;
}

export interface QueryBenchResult {
  engine: string;
  customers: number;
  days: number;
  revisionRows: number;
  hourlyRollupRows: number | null;
  dailyRollupRows: number | null;
  /** Whether the hour and day views read the rollup tables (migration 006 applied). */
  rollups: boolean;
  loadSeconds: number | null;
  migrateSeconds: number;
  queries: QueryFigures[];
}

const round = (n: number) => Math.round(n * 10) / 10;

export async function runQueryBench(o: QueryBenchOptions): Promise<QueryBenchResult> {
  const database = sqlIdentifier(o.database);
  const gateway = ClickHouseGateway.fromSettings({ url: o.url, username: o.user, password: o.password, database, requestTimeoutMs: 3_600_000 });
  const client = createClient({ url: o.url, username: o.user, password: o.password, request_timeout: 3_600_000, log: { level: ClickHouseLogLevel.OFF } });
  try {
    const [{ version }] = await gateway.query<{ version: string }>('SELECT version() AS version');
    const all = readMigrations(join(REPO_ROOT, 'infra/clickhouse/migrations'));
    const migrations = all.filter((m) => o.migrationsUntil === undefined || m.version <= o.migrationsUntil);
    const rollups = migrations.some((m) => m.name === 'rollups');
    const marker = `${o.customers}x${o.days}`;
    const loaded = o.reuse && (await loadedMarker(gateway, database)) === marker;
    if (!loaded) await gateway.command(`DROP DATABASE IF EXISTS ${database}`);
    const migrateStart = performance.now();
    await gateway.migrate(migrations, (p) => o.log(`migration ${p.version}_${p.name}: ${p.table} ${p.month} done (${p.done}/${p.months}) in ${Math.round(p.ms)} ms`));
    const migrateSeconds = (performance.now() - migrateStart) / 1000;
    let loadSeconds: number | null = null;
    if (!loaded) {
      loadSeconds = await load(gateway, o, rollups);
      await gateway.command(`CREATE TABLE IF NOT EXISTS ${database}.bench_loaded (marker String) ENGINE = TinyLog`);
      await gateway.command(`INSERT INTO ${database}.bench_loaded VALUES (${sqlString(marker)})`);
    } else {
      o.log(`reusing the ${marker} load already in ${database}`);
    }
    const count = async (table: string) => Number((await gateway.query<{ n: string | number }>(`SELECT count() AS n FROM ${database}.${table}`))[0].n);
    const tables = new Set((await gateway.query<{ name: string }>(`SELECT name FROM system.tables WHERE database = ${sqlString(database)}`)).map((t) => t.name));
    const result: QueryBenchResult = {
      engine: `ClickHouse ${version}`,
      customers: o.customers,
      days: o.days,
      revisionRows: await count('window_revisions'),
      hourlyRollupRows: tables.has('hourly_rollup') ? await count('hourly_rollup') : null,
      dailyRollupRows: tables.has('daily_rollup') ? await count('daily_rollup') : null,
      rollups,
      loadSeconds: loadSeconds === null ? null : round(loadSeconds),
      migrateSeconds: round(migrateSeconds),
      queries: [],
    };
    for (const q of queries(database, o.customers, o.days)) result.queries.push(await time(client, gateway, q, o, version));
    return result;
  } finally {
    await client.close();
    await gateway.close();
  }
}

async function loadedMarker(gateway: ClickHouseGateway, database: string): Promise<string | null> {
  const rows = await gateway.query<{ n: string | number }>(`SELECT count() AS n FROM system.tables WHERE database = ${sqlString(database)} AND name = 'bench_loaded'`);
  if (Number(rows[0].n) === 0) return null;
  return (await gateway.query<{ marker: string }>(`SELECT marker FROM ${database}.bench_loaded`))[0]?.marker ?? null;
}

/** Writes every customer-day, CUSTOMERS_PER_INSERT customers at a time, as the aggregator would. */
async function load(gateway: ClickHouseGateway, o: QueryBenchOptions, rollups: boolean): Promise<number> {
  const started = performance.now();
  const store = new ClickHouseWindowStore(gateway);
  // A second writer a second later: equal revisions with another written_at.
  const other = new ClickHouseWindowStore(gateway, () => new Date(Date.now() + 1000));
  const units = o.days * Math.ceil(o.customers / CUSTOMERS_PER_INSERT);
  let done = 0;
  let rows = 0;
  let lastLog = 0;
  for (let day = 0; day < o.days; day++) {
    for (let c0 = 0; c0 < o.customers; c0 += CUSTOMERS_PER_INSERT) {
      const parts = Array.from({ length: Math.min(CUSTOMERS_PER_INSERT, o.customers - c0) }, (_, k) => customerDay(c0 + k, day));
      const firsts = parts.flatMap((p) => [...p.first, ...p.again]);
      const seconds = parts.flatMap((p) => p.second);
      const tied = parts.flatMap((p) => p.tied);
      await store.write(firsts);
      await store.write(seconds);
      await other.write(tied);
      if (rollups) await store.refreshRollups(parts.flatMap((p) => p.first));
      rows += firsts.length + seconds.length + tied.length;
      done++;
      const now = performance.now();
      if (now - lastLog > 5000 || done === units) {
        lastLog = now;
        const s = (now - started) / 1000;
        o.log(`loaded ${done}/${units} inserts (${rows.toLocaleString('en')} revision rows) in ${Math.round(s)} s, ${Math.round(rows / s).toLocaleString('en')} rows/s, ~${Math.round(((units - done) * s) / done)} s left`);
      }
    }
  }
  return (performance.now() - started) / 1000;
}

/**
 * How the rows a query reads are learnt. 18.16 logs them in system.query_log. Current releases
 * answer EXPLAIN ESTIMATE with the rows of the granules the query will read, which is what a
 * MergeTree read reads; the chdb bridge has no query log, and its X-ClickHouse-Summary read_rows
 * is the rows of the result, not those read.
 */
export type RowsReadSource = 'system.query_log' | 'EXPLAIN ESTIMATE';

export function rowsReadSource(version: string): RowsReadSource {
  return Number(version.split('.')[0]) >= 22 ? 'EXPLAIN ESTIMATE' : 'system.query_log';
}

async function time(client: ClickHouseClient, gateway: ClickHouseGateway, q: Query, o: QueryBenchOptions, version: string): Promise<QueryFigures> {
  const durations: number[] = [];
  const read: number[] = [];
  const ids: string[] = [];
  let returned = 0;
  const from = rowsReadSource(version);
  // 18.16: push-down into views as the analysts' profile sets it (the default on current
  // releases), and the query log for the rows read. Nothing sent elsewhere: the chdb bridge
  // applies each setting with statements of its own, which would be timed too.
  const settings: ClickHouseSettings = from === 'system.query_log' ? { enable_optimize_predicate_expression: 1, log_queries: 1 } : {};
  for (let i = -(o.warmups ?? 1); i < o.runs; i++) {
    const id = randomUUID();
    const sql = q.sql(Math.max(i, 0) + 1);
    const started = performance.now();
    const rs = await client.query({ query: sql, format: 'JSONEachRow', query_id: id, clickhouse_settings: settings });
    const rows = await rs.json();
    const ms = performance.now() - started;
    if (i < 0) continue;
    durations.push(ms);
    ids.push(id);
    returned = rows.length;
    if (from === 'EXPLAIN ESTIMATE') {
      const estimate = await gateway.query<{ rows: number | string }>(`EXPLAIN ESTIMATE ${sql}`);
      read.push(estimate.reduce((sum, r) => sum + Number(r.rows), 0));
    }
  }
  if (from === 'system.query_log') {
    await gateway.command('SYSTEM FLUSH LOGS');
    const logged = await gateway.query<{ read_rows: string | number }>(
      `SELECT read_rows FROM system.query_log WHERE type = 2 AND query_id IN (${ids.map((id) => sqlString(id)).join(', ')})`,
    );
    read.push(...logged.map((r) => Number(r.read_rows)));
  }
  const figures: QueryFigures = {
    name: q.name,
    runs: durations.length,
    p50Ms: round(percentile(durations, 50)!),
    p95Ms: round(percentile(durations, 95)!),
    maxMs: round(Math.max(...durations)),
    rowsRead: read.length > 0 ? percentile(read, 50) : null,
    rowsReadFrom: from,
    rowsReturned: returned,
  };
  o.log(`${q.name}: p50 ${figures.p50Ms} ms, p95 ${figures.p95Ms} ms, rows read ${figures.rowsRead ?? 'unknown'}`);
  return figures;
}

const positive = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('a positive integer');
  return n;
};

export async function main(argv = process.argv.slice(2)): Promise<number> {
  const program = new Command('bench:queries')
    .description('Times the analysts\' queries on a month-like load written through the aggregator\'s store code')
    .requiredOption('--url <url>', 'ClickHouse HTTP endpoint')
    .requiredOption('--user <user>', 'a user that may create the database')
    .option('--password <password>', 'its password', '')
    .requiredOption('--customers <n>', 'customers cus-0 .. cus-{n-1}', positive)
    .requiredOption('--days <n>', 'days from 2025-11-01 00:00 UTC', positive)
    .option('--runs <n>', 'timed runs per query', positive, 20)
    .option('--warmups <n>', 'untimed runs of each query first', (v) => (v === '0' ? 0 : positive(v)), 1)
    .option('--database <name>', 'database to fill', 'bench_queries')
    .option('--migrations-until <version>', 'apply the migrations up to this version only (4: the views before the rollups)', positive)
    .option('--reuse', 'keep a load of the same size already in the database: only migrate and time', false)
    .exitOverride();
  program.parse(argv, { from: 'user' });
  const opts = program.opts<{ url: string; user: string; password: string; customers: number; days: number; runs: number; warmups: number; database: string; migrationsUntil?: number; reuse: boolean }>();
  const result = await runQueryBench({ ...opts, log: (line) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`) });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  return 0;
}
