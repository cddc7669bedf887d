import { join } from 'node:path';
import { ClickHouseGateway, clickHouseSettingsFromEnv } from './gateway';
import { readMigrations } from './migrations';
import { sqlString } from './sql';
import { REPO_ROOT, testClickHouseEnv, uniqueName } from '@pipeline/testing';

const database = uniqueName('it_ch', '_');
const gateway = ClickHouseGateway.fromSettings(clickHouseSettingsFromEnv(testClickHouseEnv(database, { requestTimeoutMs: 30_000 })));
const migrations = readMigrations(join(REPO_ROOT, 'infra/clickhouse/migrations'));

afterAll(async () => {
  await gateway.command(`DROP DATABASE IF EXISTS ${database}`);
  await gateway.close();
});

describe('ClickHouse gateway against a real server', () => {
  it('applies the migrations once and records them; a second run is a no-op', async () => {
    const first = await gateway.migrate(migrations);
    expect(first).toEqual(migrations.map((m) => m.version));
    expect(await gateway.migrate(migrations)).toEqual([]);
    const recorded = await gateway.query<{ version: number }>(`SELECT version FROM ${database}.schema_migrations ORDER BY version`);
    expect(recorded.map((r) => Number(r.version))).toEqual(migrations.map((m) => m.version));
    const tables = await gateway.query<{ name: string }>(`SELECT name FROM system.tables WHERE database = ${sqlString(database)} ORDER BY name`);
    expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(['minute_aggregates', 'hourly_aggregates', 'daily_aggregates', 'window_revisions']));
  });

  it('refuses to run when an applied migration file was edited', async () => {
    const edited = migrations.map((m, i) => (i === 0 ? { ...m, checksum: 'edited' } : m));
    await expect(gateway.migrate(edited)).rejects.toThrow(/changed after it was applied/);
  });

  it.each([
    ["it's"],
    ['back\\slash'],
    ['new\nline and\ttab'],
    ["'; DROP TABLE x; --"],
    ['\\\'mixed\\n\' quotes'],
    ['unicode ünïcødé ✓ 🚀'],
    ['nul\0byte'],
  ])('round-trips the hostile string %j through insert and a WHERE made by sqlString', async (hostile) => {
    await gateway.command(`CREATE TABLE IF NOT EXISTS ${database}.strings (id String, value String) ENGINE = MergeTree ORDER BY id`);
    const id = uniqueName('row');
    await gateway.insert('strings', [{ id, value: hostile }]);
    const rows = await gateway.query<{ id: string; value: string }>(
      `SELECT id, value FROM ${database}.strings WHERE value = ${sqlString(hostile)} AND id = ${sqlString(id)}`,
    );
    expect(rows).toEqual([{ id, value: hostile }]);
  });
});
