import { join } from 'node:path';
import { readMigrations, statementText } from '@pipeline/clickhouse';
import { rollupRefreshStatement } from './rollup-statements';

const at = (iso: string) => Date.parse(iso);
const rollups = readMigrations(join(__dirname, '../../../infra/clickhouse/migrations')).find((m) => m.name === 'rollups')!;

describe('rollupRefreshStatement', () => {
  it('is, for a month, exactly the backfill the migration runs: one text for both', () => {
    const perMonth = rollups.statements.filter((s) => s.eachMonthOf !== undefined);
    expect(perMonth.map((s) => s.eachMonthOf)).toEqual(['window_revisions', 'hourly_rollup']);
    expect(statementText(perMonth[0], 'log_analytics', 202511)).toBe(rollupRefreshStatement('log_analytics', 'hour', { month: 202511 }));
    expect(statementText(perMonth[1], 'log_analytics', 210512)).toBe(rollupRefreshStatement('log_analytics', 'day', { month: 210512 }));
  });

  it('reads the hours of the given pairs only, filtered on the sort key first, with every value escaped', () => {
    const sql = rollupRefreshStatement('db', 'hour', {
      periods: [
        { customerId: "o'hara", startMs: at('2025-11-01T10:00:00Z') },
        { customerId: 'b', startMs: at('2025-11-01T11:00:00Z') },
        { customerId: 'b', startMs: at('2025-11-01T13:00:00Z') },
      ],
    });
    expect(sql).toMatch(/^INSERT INTO db\.hourly_rollup \(customer_id, window_start, total_requests, path_keys, path_counts, ua_keys, ua_counts\)\nSELECT/);
    expect(sql).toContain('FROM db.window_revisions');
    expect(sql).toContain(`WHERE customer_id IN ('o\\'hara', 'b')`);
    expect(sql).toContain(
      "(window_start >= toDateTime('2025-11-01 10:00:00', 'UTC') AND window_start <= toDateTime('2025-11-01 11:59:59', 'UTC') OR window_start >= toDateTime('2025-11-01 13:00:00', 'UTC') AND window_start <= toDateTime('2025-11-01 13:59:59', 'UTC'))",
    );
    expect(sql).toContain(
      "(customer_id, toStartOfHour(window_start)) IN (('o\\'hara', toDateTime('2025-11-01 10:00:00', 'UTC')), ('b', toDateTime('2025-11-01 11:00:00', 'UTC')), ('b', toDateTime('2025-11-01 13:00:00', 'UTC')))",
    );
    expect(sql).toContain('(revision, written_at, content_hash)');
  });

  it("unfolds only each minute's latest revision, found from the ordering columns alone, for given periods (not in a month's backfill)", () => {
    const sql = rollupRefreshStatement('db', 'hour', { periods: [{ customerId: 'a', startMs: at('2025-11-01T10:00:00Z') }] });
    expect(sql).toMatch(/PREWHERE \(customer_id, window_start, revision, written_at, content_hash\) IN\s+\(\s+SELECT customer_id, window_start, tupleElement\(latest, 1\), tupleElement\(latest, 2\), tupleElement\(latest, 3\)/);
    expect(sql).toMatch(/max\(\(revision, written_at, content_hash\)\) AS latest\s+FROM db\.window_revisions\s+WHERE customer_id IN \('a'\)/);
    const day = rollupRefreshStatement('db', 'day', { periods: [{ customerId: 'a', startMs: at('2025-11-01T00:00:00Z') }] });
    expect(day).toMatch(/PREWHERE \(customer_id, window_start, tupleElement\(precedence, 1\), tupleElement\(precedence, 2\)\) IN/);
    expect(rollupRefreshStatement('db', 'hour', { month: 202511 })).not.toContain('PREWHERE');
  });

  it('computes days from the most complete hour rows', () => {
    const sql = rollupRefreshStatement('db', 'day', { periods: [{ customerId: 'a', startMs: at('2025-11-01T00:00:00Z') }] });
    expect(sql).toMatch(/^INSERT INTO db\.daily_rollup /);
    expect(sql).toContain('FROM db.hourly_rollup');
    expect(sql).toContain("(customer_id, toStartOfDay(window_start)) IN (('a', toDateTime('2025-11-01 00:00:00', 'UTC')))");
    expect(sql).toMatch(/argMax\(\n.*\n\s+precedence\n/);
  });

  it('refuses an empty scope and an unsafe database name', () => {
    expect(() => rollupRefreshStatement('db', 'hour', { periods: [] })).toThrow(/at least one period/);
    expect(() => rollupRefreshStatement('db; DROP', 'hour', { month: 202511 })).toThrow(/not a safe SQL identifier/);
  });
});
