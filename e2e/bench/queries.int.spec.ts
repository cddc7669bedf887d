// A small run of the query benchmark on both engines, so that it keeps working: the loader
// through the aggregator's store code, the rollups it refreshes, every query timed with the rows
// it read.
import { PrivateServer, privateChdb, privateClickHouse } from '@pipeline/testing';
import { customerDay, runQueryBench } from './queries';

jest.setTimeout(180_000);

const servers: PrivateServer[] = [];

beforeAll(async () => {
  servers.push(...(await Promise.all([privateClickHouse(), privateChdb()])));
});

afterAll(async () => {
  for (const s of servers) await s.dispose();
});

describe.each([
  ['ClickHouse 18.16 (server)', 0, 'system.query_log'],
  ['current ClickHouse (chdb-core)', 1, 'EXPLAIN ESTIMATE'],
])('bench:queries, 2 customers x 1 day: %s', (_engine, index, rowsReadFrom) => {
  it('loads through the store, refreshes the rollups, and times every query with its rows read', async () => {
    const server = servers[index];
    const lines: string[] = [];
    const options = { url: server.endpoint, user: server.credentials!.username, password: server.credentials!.password, customers: 2, days: 1, runs: 2, database: 'bench_smoke', reuse: false, log: (l: string) => lines.push(l) };
    const result = await runQueryBench(options);
    const days = [customerDay(0, 0), customerDay(1, 0)];
    expect(result.revisionRows).toBe(days.reduce((n, d) => n + d.first.length + d.again.length + d.second.length + d.tied.length, 0));
    expect(days.every((d) => d.again.length > 0 && d.second.length > 0 && d.tied.length > 0)).toBe(true);
    expect(result.rollups).toBe(true);
    // One refresh per insert: one row per customer hour and day.
    expect([result.hourlyRollupRows, result.dailyRollupRows]).toEqual([48, 2]);
    expect(result.queries.map((q) => [q.name, q.runs, q.rowsReturned, q.rowsReadFrom])).toEqual([
      ['minute rows, 1 customer, 1 hour', 2, 60, rowsReadFrom],
      ['hourly_aggregates, 1 customer, 1 day', 2, 24, rowsReadFrom],
      ['daily_aggregates, 1 customer, whole range', 2, 1, rowsReadFrom],
      ['hourly totals, all customers, 1 day', 2, 24, rowsReadFrom],
      ['top 10 paths, 1 customer, 1 day (from minutes)', 2, 10, rowsReadFrom],
    ]);
    for (const q of result.queries) {
      expect(q.rowsRead).toBeGreaterThan(0);
      expect(q.p95Ms).toBeGreaterThanOrEqual(q.p50Ms);
    }
    expect(lines.some((l) => /loaded 1\/1 inserts/.test(l))).toBe(true);

    // Again with --reuse: nothing loaded, the same data timed.
    const again = await runQueryBench({ ...options, reuse: true });
    expect(again.loadSeconds).toBeNull();
    expect(again.revisionRows).toBe(result.revisionRows);
  });
});
