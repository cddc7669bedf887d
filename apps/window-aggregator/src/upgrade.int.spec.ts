// Upgrading a database that holds data to the rollups (migration 006), on both engines: the
// backfill while revisions keep arriving, applied twice, and interrupted then applied again. Each
// time, every hour and day row must be what the minute rows add up to.
import { join } from 'node:path';
import { ClickHouseClient, ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { ClickHouseGateway, clickHouseSettingsFromEnv, readMigrations } from '@pipeline/clickhouse';
import { dateTimeTextToMinute, WindowState } from '@pipeline/partial';
import { PrivateServer, privateChdb, privateClickHouse, REPO_ROOT, sleep, testClickHouseEnv, uniqueName } from '@pipeline/testing';
import { formatMinute, parseMinute, windowKey } from '@pipeline/window';
import { expectedViewRows, ViewRow } from './it-support';
import { ClickHouseWindowStore, WindowRef } from './window-store';

jest.setTimeout(300_000);

const migrations = readMigrations(join(REPO_ROOT, 'infra/clickhouse/migrations'));
const before = migrations.filter((m) => m.name !== 'rollups' && m.version < migrations.find((x) => x.name === 'rollups')!.version);
const rollupVersion = migrations.find((m) => m.name === 'rollups')!.version;
const servers: Array<{ label: string; server: PrivateServer }> = [];

beforeAll(async () => {
  const [server, chdb] = await Promise.all([privateClickHouse(), privateChdb()]);
  servers.push({ label: 'server 18.16', server }, { label: 'chdb-core', server: chdb });
});

afterAll(async () => {
  for (const { server } of servers) await server.dispose();
});

const gateway = (server: PrivateServer, database: string) =>
  ClickHouseGateway.fromSettings(clickHouseSettingsFromEnv(testClickHouseEnv(database, { url: server.endpoint, credentials: server.credentials, requestTimeoutMs: 60_000 })));

/**
 * Revisions as the aggregator makes them: each extends the previous one of its window. Windows
 * cross an hour, a day and a month; a third have three revisions.
 */
function revisions(customers: string[], firstMinute: string, minutes: number, seed: number): WindowState[][] {
  const rounds: WindowState[][] = [[], [], []];
  const start = parseMinute(firstMinute)!;
  customers.forEach((customerId, ci) => {
    for (let m = 0; m < minutes; m++) {
      const windowStart = formatMinute(start + m * 60_000);
      const byPath = new Map<string, number>();
      const byUserAgent = new Map<string, number>();
      const ids = new Set<string>();
      const count = 1 + ((m + ci + seed) % 3);
      for (let r = 1; r <= count; r++) {
        const path = `GET /p${(m * 7 + r + ci) % 13}`;
        const ua = ['Chrome', 'curl', 'Other'][(m + r) % 3];
        byPath.set(path, (byPath.get(path) ?? 0) + r);
        byUserAgent.set(ua, (byUserAgent.get(ua) ?? 0) + r);
        const id = `b-${seed}-${ci}-${m}-${r}`;
        ids.add(id);
        const total = [...byPath.values()].reduce((a, b) => a + b, 0);
        rounds[r - 1].push({ customerId, windowStart, revision: r, total, byPath: new Map(byPath), byUserAgent: new Map(byUserAgent), mergedIds: new Set(), newIds: new Set([id]) });
      }
    }
  });
  return rounds;
}

/** The latest revision of each window. */
function latestOf(states: WindowState[]): WindowState[] {
  const latest = new Map<string, WindowState>();
  for (const s of states) {
    const key = windowKey(s.customerId, s.windowStart);
    if ((latest.get(key)?.revision ?? 0) <= s.revision) latest.set(key, s);
  }
  return [...latest.values()];
}

/** The next revision of a window, as a late partial makes it: everything it had, and more. */
function extended(s: WindowState): WindowState {
  const byPath = new Map(s.byPath);
  const byUserAgent = new Map(s.byUserAgent);
  byPath.set('GET /late', (byPath.get('GET /late') ?? 0) + 2);
  byUserAgent.set('curl', (byUserAgent.get('curl') ?? 0) + 2);
  return { ...s, revision: s.revision + 1, total: s.total + 2, byPath, byUserAgent, mergedIds: new Set(), newIds: new Set([`late-${s.windowStart}`]) };
}

const refs = (states: WindowState[]): WindowRef[] => states.map((s) => ({ customerId: s.customerId, windowStart: s.windowStart }));

type Row = ViewRow;


/** What a rollup view must hold: the latest revision of each window, summed per period. */
const expected = (states: WindowState[], periodMs: number): Row[] => expectedViewRows(latestOf(states), periodMs);

async function read(ch: ClickHouseGateway, view: string): Promise<Row[]> {
  const rows = await ch.query<Record<string, unknown>>(`SELECT * FROM ${ch.database}.${view} ORDER BY customer_id, window_start`);
  return rows.map((r) => ({
    customer_id: r.customer_id as string,
    window_start: dateTimeTextToMinute(r.window_start as string)!,
    total_requests: Number(r.total_requests),
    path_keys: r.path_keys as string[],
    path_counts: (r.path_counts as unknown[]).map(Number),
    ua_keys: r.ua_keys as string[],
    ua_counts: (r.ua_counts as unknown[]).map(Number),
  }));
}

async function expectExact(ch: ClickHouseGateway, states: WindowState[]): Promise<void> {
  const hours = expected(states, 3_600_000);
  const days = expected(states, 86_400_000);
  expect(hours.length).toBeGreaterThan(days.length);
  expect(await read(ch, 'hourly_aggregates')).toEqual(hours);
  expect(await read(ch, 'daily_aggregates')).toEqual(days);
}

/** The data an older pipeline left: revisions over two months, a row inserted twice, two writers' equal revisions. */
async function oldData(ch: ClickHouseGateway): Promise<WindowState[]> {
  const rounds = revisions(['cus-u1', "cus-u'2", 'cus-u3'], '2025-11-30T22:50Z', 200, 0);
  const store = new ClickHouseWindowStore(ch);
  for (const round of rounds) await store.write(round);
  await store.write(rounds[0].slice(0, 20));
  await new ClickHouseWindowStore(ch, () => new Date('2030-01-01T00:00:00Z')).write(rounds[1].slice(0, 20));
  return rounds.flat();
}

describe.each([
  ['ClickHouse 18.16 (server)', 0],
  ['current ClickHouse (chdb-core)', 1],
])('upgrade to the rollups on a database with data: %s', (_engine, index) => {
  const database = uniqueName('upgrade', '_');
  let ch: ClickHouseGateway;

  beforeAll(() => {
    ch = gateway(servers[index].server, database);
  });

  afterAll(async () => {
    await ch.command(`DROP DATABASE IF EXISTS ${database}`);
    await ch.close();
  });

  it('backfills while new revisions keep arriving, swaps the views, and a second run changes nothing', async () => {
    expect(await ch.migrate(before)).toEqual(before.map((m) => m.version));
    const old = await oldData(ch);

    // The pipeline keeps writing: later revisions of old windows and new windows, each unit
    // followed by its refresh, retried (as the consumer retries a unit) until the tables exist.
    const live = [...revisions(['cus-u4'], '2025-12-01T01:30Z', 90, 1), latestOf(old).filter((w) => w.customerId === 'cus-u1').map(extended)];
    const store = new ClickHouseWindowStore(ch);
    const progress: string[] = [];
    let migrating = true;
    const writing = (async () => {
      const all = live.flat();
      let i = 0;
      for (; i < all.length; i += 15) {
        const unit = all.slice(i, i + 15);
        await store.write(unit);
        for (;;) {
          try {
            await store.refreshRollups(refs(unit));
            break;
          } catch {
            await sleep(20);
          }
        }
        if (!migrating) break;
      }
      return all.slice(0, i + 15);
    })();
    const applied = await ch.migrate(migrations, (p) => progress.push(`${p.table} ${p.month} ${p.done}/${p.months}`));
    migrating = false;
    const written = await writing;
    const rest = live.flat().slice(written.length);
    expect(applied).toEqual(migrations.filter((m) => !before.includes(m)).map((m) => m.version));
    expect(progress).toEqual(expect.arrayContaining(['window_revisions 202511 1/2', 'window_revisions 202512 2/2', 'hourly_rollup 202511 1/2', 'hourly_rollup 202512 2/2']));
    // What the live writer did not get to before the migration ended, written now.
    if (rest.length > 0) {
      await store.write(rest);
      await store.refreshRollups(refs(rest));
    }
    await expectExact(ch, [...old, ...live.flat()]);

    const tables = (await ch.query<{ name: string }>(`SELECT name FROM system.tables WHERE database = '${database}' ORDER BY name`)).map((t) => t.name);
    expect(tables).toEqual(['daily_aggregates', 'daily_rollup', 'hourly_aggregates', 'hourly_rollup', 'minute_aggregates', 'schema_migrations', 'window_revisions', 'write_probe']);

    // Applied again (a second instance starting, or the statements run by hand): nothing changes.
    expect(await ch.migrate(migrations)).toEqual([]);
    const rollup = migrations.find((m) => m.name === 'rollups')!;
    await ch.command(`ALTER TABLE ${database}.schema_migrations DELETE WHERE version = ${rollup.version}`);
    await waitMutations(ch);
    expect(await ch.migrate(migrations)).toEqual([rollup.version]);
    await expectExact(ch, [...old, ...live.flat()]);
  });

  it('a swap cut between its two renames (a view missing) is completed by the next run', async () => {
    const db3 = `${database}_swap`;
    const ch3 = gateway(servers[index].server, db3);
    try {
      await ch3.migrate(before);
      const old = await oldData(ch3);
      await ch3.command(`RENAME TABLE ${db3}.hourly_aggregates TO ${db3}.hourly_aggregates_previous`);
      expect(await ch3.migrate(migrations)).toEqual([rollupVersion]);
      await expectExact(ch3, old);
      const tables = (await ch3.query<{ name: string }>(`SELECT name FROM system.tables WHERE database = '${db3}' ORDER BY name`)).map((t) => t.name);
      expect(tables).toEqual(['daily_aggregates', 'daily_rollup', 'hourly_aggregates', 'hourly_rollup', 'minute_aggregates', 'schema_migrations', 'window_revisions', 'write_probe']);
    } finally {
      await ch3.command(`DROP DATABASE IF EXISTS ${db3}`);
      await ch3.close();
    }
  });

  it('a backfill that fails half way is redone whole at the next start, exactly', async () => {
    const db2 = `${database}_broken`;
    const ch2 = gateway(servers[index].server, db2);
    try {
      await ch2.migrate(before);
      const old = await oldData(ch2);
      // Fails on the second month of the hours, after the first month was written.
      const { username, password } = servers[index].server.credentials!;
      const failing = new FailingGateway(createClient({ url: servers[index].server.endpoint, username, password, log: { level: ClickHouseLogLevel.OFF } }), db2, 2);
      await expect(failing.migrate(migrations)).rejects.toThrow(/stopped half way/);
      const tables = (await ch2.query<{ name: string }>(`SELECT name FROM system.tables WHERE database = '${db2}' ORDER BY name`)).map((t) => t.name);
      // The old views still answer; the migration is not recorded.
      expect(tables).toEqual(expect.arrayContaining(['hourly_aggregates', 'daily_aggregates', 'hourly_rollup']));
      expect(tables).not.toContain('hourly_aggregates_next');
      await expectExact(ch2, old);
      expect((await ch2.query<{ version: number }>(`SELECT version FROM ${db2}.schema_migrations`)).map((r) => Number(r.version))).not.toContain(rollupVersion);
      await failing.close();
      expect(await ch2.migrate(migrations)).toEqual([rollupVersion]);
      await expectExact(ch2, old);
    } finally {
      await ch2.command(`DROP DATABASE IF EXISTS ${db2}`);
      await ch2.close();
    }
  });
});

/** A gateway to the real server whose Nth INSERT fails, as a server going away half way would make it. */
class FailingGateway extends ClickHouseGateway {
  private inserts = 0;
  constructor(
    client: ClickHouseClient,
    database: string,
    private readonly failAt: number,
  ) {
    super(client, database);
  }
  override async command(sql: string): Promise<void> {
    if (sql.startsWith('INSERT INTO') && ++this.inserts === this.failAt) throw new Error('stopped half way');
    return super.command(sql);
  }
}

async function waitMutations(ch: ClickHouseGateway): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const [{ n }] = await ch.query<{ n: number | string }>(`SELECT count() AS n FROM system.mutations WHERE database = '${ch.database}' AND NOT is_done`);
    if (Number(n) === 0) return;
    await sleep(50);
  }
  throw new Error('mutations did not finish');
}
