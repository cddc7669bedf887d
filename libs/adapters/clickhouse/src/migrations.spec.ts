import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readMigrations, replicatedStatement, statementText } from './migrations';

describe('readMigrations', () => {
  it('marks a statement after `-- for each month of TABLE` as per-month, and fills its month', () => {
    const dir = mkdtempSync(join(tmpdir(), 'migrations-'));
    writeFileSync(
      join(dir, '001_x.sql'),
      [
        '-- a comment',
        'CREATE TABLE IF NOT EXISTS {{database}}.t (w DateTime) ENGINE = Memory;',
        '',
        '-- copies, a month at a time',
        '-- for each month of t',
        'INSERT INTO {{database}}.u SELECT * FROM {{database}}.t WHERE w >= {{month_from}} AND w <= {{month_to}};',
        '',
      ].join('\n'),
    );
    const [m] = readMigrations(dir);
    expect(m.statements).toEqual([
      { sql: 'CREATE TABLE IF NOT EXISTS {{database}}.t (w DateTime) ENGINE = Memory' },
      { sql: 'INSERT INTO {{database}}.u SELECT * FROM {{database}}.t WHERE w >= {{month_from}} AND w <= {{month_to}}', eachMonthOf: 't' },
    ]);
    expect(statementText(m.statements[0], 'db')).toBe('CREATE TABLE IF NOT EXISTS db.t (w DateTime) ENGINE = Memory');
    expect(statementText(m.statements[1], 'db', 202412)).toBe(
      "INSERT INTO db.u SELECT * FROM db.t WHERE w >= toDateTime('2024-12-01 00:00:00', 'UTC') AND w <= toDateTime('2024-12-31 23:59:59', 'UTC')",
    );
    expect(() => statementText(m.statements[1], 'db')).toThrow(/needs its month/);
  });
});

describe('replicated migrations (CLICKHOUSE_REPLICATED)', () => {
  const dir = join(__dirname, '../../../../infra/clickhouse/migrations');
  const creates = (replicated: boolean) =>
    readMigrations(dir)
      .flatMap((m) => m.statements)
      .filter((s) => s.eachMonthOf === undefined)
      .map((s) => statementText(s, 'log_analytics', undefined, { replicated }))
      .filter((sql) => sql.startsWith('CREATE '));

  it('makes every table of the migrations replicated, on a path of its own database and table, and leaves the views alone', () => {
    const engines = Object.fromEntries(
      creates(true)
        .filter((sql) => sql.startsWith('CREATE TABLE'))
        .map((sql) => [/log_analytics\.(\w+)/.exec(sql)![1], /ENGINE = (.*)/.exec(sql)![1]]),
    );
    expect(engines).toEqual({
      window_revisions: "ReplicatedMergeTree('/clickhouse/tables/{shard}/log_analytics/window_revisions', '{replica}')",
      write_probe: "ReplicatedMergeTree('/clickhouse/tables/{shard}/log_analytics/write_probe', '{replica}')",
      hourly_rollup: "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/log_analytics/hourly_rollup', '{replica}', total_requests)",
      daily_rollup: "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/log_analytics/daily_rollup', '{replica}', total_requests)",
    });
    const views = (replicated: boolean) => creates(replicated).filter((sql) => sql.startsWith('CREATE VIEW'));
    expect(views(true)).toEqual(views(false));
    expect(views(true).length).toBeGreaterThanOrEqual(5);
  });

  it('changes nothing without the option, and nothing but CREATE TABLE with it', () => {
    expect(creates(false).filter((sql) => sql.includes('Replicated'))).toEqual([]);
    expect(replicatedStatement('INSERT INTO db.t SELECT * FROM db.u')).toBe('INSERT INTO db.t SELECT * FROM db.u');
    expect(replicatedStatement('CREATE TABLE db.t (x UInt8) ENGINE = Memory')).toBe('CREATE TABLE db.t (x UInt8) ENGINE = Memory');
    const already = "CREATE TABLE db.t (x UInt8) ENGINE = ReplicatedMergeTree('/p', '{replica}') ORDER BY x";
    expect(replicatedStatement(already)).toBe(already);
  });
});
