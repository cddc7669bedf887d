import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readMigrations, statementText } from './migrations';

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
