import { join } from 'node:path';
import { privateChdb, REPO_ROOT, stackCredentials, stackEndpoints, uniqueName } from '@pipeline/testing';
import { clickHouseCodeOf, ClickHouseGateway } from './gateway';
import { readMigrations } from './migrations';

/** `allowed`, or `refused <the server's error code>` (read from the answer, whichever release wrote it). */
const outcome = (p: Promise<unknown>) =>
  p.then(
    () => 'allowed',
    (err: Error) => {
      const code = clickHouseCodeOf(err.cause ?? err);
      return code !== undefined ? `refused ${code}` : `refused: ${err.message}`;
    },
  );

/**
 * The ClickHouse users on the native stack (infra/clickhouse/users.d/pipeline-users.xml, the same
 * file docker-compose mounts, with infra/local/clickhouse/users-18.16.xml for that release): the
 * writer may build and fill log_analytics and nothing else, the reader may only read it, and
 * `default` takes no empty password.
 */
describe('ClickHouse users (18.16, the native stack)', () => {
  const creds = stackCredentials();
  const as = (username: string, password: string) => ClickHouseGateway.fromSettings({ url: stackEndpoints().clickhouseUrl, username, password, database: 'log_analytics', requestTimeoutMs: 10_000 });
  const table = `privilege_${uniqueName('t', '_')}`;

  it('the writer creates and fills tables in log_analytics, and nothing elsewhere', async () => {
    const writer = as(creds.CLICKHOUSE_WRITER_USER, creds.CLICKHOUSE_WRITER_PASSWORD);
    try {
      await writer.command('CREATE DATABASE IF NOT EXISTS log_analytics');
      await writer.command(`CREATE TABLE log_analytics.${table} (a UInt8) ENGINE = MergeTree ORDER BY a`);
      await writer.insert(table, [{ a: 1 }]);
      expect(await writer.query(`SELECT count() AS n FROM log_analytics.${table}`)).toEqual([{ n: expect.anything() }]);
      expect(await outcome(writer.command(`CREATE DATABASE ${uniqueName('elsewhere', '_')}`))).toMatch(/^refused/);
    } finally {
      await writer.close();
    }
  });

  it('the writer may enforce retention in log_analytics (list its partitions, drop one); the reader may not', async () => {
    const writer = as(creds.CLICKHOUSE_WRITER_USER, creds.CLICKHOUSE_WRITER_PASSWORD);
    const reader = as(creds.CLICKHOUSE_READER_USER, creds.CLICKHOUSE_READER_PASSWORD);
    const parted = `${table}_months`;
    try {
      await writer.command(`CREATE TABLE log_analytics.${parted} (w DateTime('UTC')) ENGINE = MergeTree PARTITION BY toYYYYMM(w) ORDER BY w`);
      await writer.command(`INSERT INTO log_analytics.${parted} VALUES ('2020-01-05 00:00:00'), ('2020-02-05 00:00:00')`);
      const partitions = () => writer.query<{ partition: string }>(`SELECT DISTINCT partition FROM system.parts WHERE database = 'log_analytics' AND table = '${parted}' AND active ORDER BY partition`);
      expect(await partitions()).toEqual([{ partition: '202001' }, { partition: '202002' }]);
      expect(await outcome(writer.query(`SHOW CREATE TABLE log_analytics.${parted}`))).toBe('allowed');
      expect(await outcome(reader.command(`ALTER TABLE log_analytics.${parted} DROP PARTITION 202001`))).toMatch(/^refused/);
      expect(await outcome(writer.command(`ALTER TABLE log_analytics.${parted} DROP PARTITION 202001`))).toBe('allowed');
      expect(await partitions()).toEqual([{ partition: '202002' }]);
    } finally {
      await writer.command(`DROP TABLE IF EXISTS log_analytics.${parted}`).catch(() => undefined);
      await writer.close();
      await reader.close();
    }
  });

  it('the reader reads log_analytics and cannot change anything', async () => {
    const reader = as(creds.CLICKHOUSE_READER_USER, creds.CLICKHOUSE_READER_PASSWORD);
    try {
      expect(await outcome(reader.query(`SELECT count() AS n FROM log_analytics.${table}`))).toBe('allowed');
      expect(await outcome(reader.command(`INSERT INTO log_analytics.${table} VALUES (2)`))).toMatch(/^refused/);
      expect(await outcome(reader.command(`DROP TABLE log_analytics.${table}`))).toMatch(/^refused/);
      expect(await outcome(reader.command(`CREATE TABLE log_analytics.${table}_2 (a UInt8) ENGINE = Memory`))).toMatch(/^refused/);
    } finally {
      await reader.close();
    }
  });

  it('the reader cannot reach other hosts or files through table functions, run SYSTEM statements, or raise its limits', async () => {
    const reader = as(creds.CLICKHOUSE_READER_USER, creds.CLICKHOUSE_READER_PASSWORD);
    try {
      // Each refused with READONLY (164), before any fetch is tried.
      for (const statement of [
        `SELECT * FROM url('${stackEndpoints().clickhouseUrl}/ping', CSV, 'a String')`,
        `SELECT * FROM file('users.xml', CSV, 'a String')`,
        `SELECT * FROM remote('127.0.0.1', system.one)`,
        'SELECT 1 AS x SETTINGS max_memory_usage = 100000000000',
        'SELECT 1 AS x SETTINGS max_execution_time = 0',
        'SELECT 1 AS x SETTINGS readonly = 0',
      ]) {
        expect([statement, await outcome(reader.query(statement))]).toEqual([statement, 'refused 164']);
      }
      expect(await outcome(reader.command('SYSTEM DROP DNS CACHE'))).toMatch(/^refused/);
      expect(await outcome(reader.query(`SELECT count() AS n FROM log_analytics.${table}`))).toBe('allowed');
    } finally {
      await reader.close();
    }
  });

  it('no login without a password, and no user called default, not even with the administrator\'s password', async () => {
    for (const [user, password] of [['default', ''], ['default', creds.CLICKHOUSE_ADMIN_PASSWORD], [creds.CLICKHOUSE_ADMIN_USER, ''], [creds.CLICKHOUSE_WRITER_USER, '']]) {
      const client = as(user, password);
      try {
        expect([user, password === '', await outcome(client.query('SELECT 1'))]).toEqual([user, password === '', expect.stringMatching(/^refused (192|193|194|516)$/)]); // unknown user, wrong or required password (18.16); authentication failed (current)
      } finally {
        await client.close();
      }
    }
    const admin = as(creds.CLICKHOUSE_ADMIN_USER, creds.CLICKHOUSE_ADMIN_PASSWORD);
    try {
      await admin.command(`DROP TABLE IF EXISTS log_analytics.${table}`);
    } finally {
      await admin.close();
    }
  });
});

/**
 * The same users file on a current release (the engine in process, logged in as each user of the
 * file in turn): there the users hold grants, read back with SHOW GRANTS, and the writer too is
 * refused table functions, SYSTEM statements and everything outside log_analytics. The engine in
 * process cannot switch on what a server's config turns on by default (a read-only user changing
 * a setting within a constraint's bounds, grants on system tables), so those two are read from the
 * file, not tried.
 */
describe('ClickHouse users (current release: grants)', () => {
  let writerEngine: Awaited<ReturnType<typeof privateChdb>> | undefined;
  let readerEngine: Awaited<ReturnType<typeof privateChdb>> | undefined;
  const login = (engine: NonNullable<typeof writerEngine>) =>
    ClickHouseGateway.fromSettings({ url: engine.endpoint, username: engine.credentials!.username, password: engine.credentials!.password, database: 'log_analytics', requestTimeoutMs: 60_000 });
  const grants = async (client: ClickHouseGateway) => (await client.query<Record<string, string>>('SHOW GRANTS')).map((row) => Object.values(row)[0].replace(/ TO \S+$/, ''));
  const migrations = readMigrations(join(REPO_ROOT, 'infra/clickhouse/migrations'));
  const elsewhere = [
    "SELECT * FROM url('http://127.0.0.1:9/x', CSV, 'a String')",
    "SELECT * FROM file('users.xml', CSV, 'a String')",
    "SELECT * FROM remote('127.0.0.1', system.one)",
    "SELECT * FROM s3('http://127.0.0.1:9/bucket/key', CSV, 'a String')",
    'SYSTEM FLUSH LOGS',
    'SYSTEM DROP DNS CACHE',
    'SYSTEM STOP MERGES log_analytics.window_revisions',
    'SELECT count() AS n FROM system.users',
    'CREATE USER intruder',
    `CREATE DATABASE ${uniqueName('elsewhere', '_')}`,
  ];

  beforeAll(async () => {
    writerEngine = await privateChdb({ as: 'pipeline_writer' });
  }, 90_000);
  afterAll(async () => {
    await readerEngine?.dispose();
    await writerEngine?.dispose();
  });

  it('the writer holds its grants alone, and builds, fills and trims the whole schema with them', async () => {
    const writer = login(writerEngine!);
    try {
      expect(await grants(writer)).toEqual([
        'GRANT SHOW, SELECT, INSERT, ALTER DELETE, ALTER TTL, CREATE DATABASE, CREATE TABLE, CREATE VIEW, DROP TABLE, DROP VIEW ON log_analytics.*',
        'GRANT SELECT ON system.parts',
      ]);
      expect(await writer.migrate(migrations)).toEqual(migrations.map((m) => m.version).sort((a, b) => a - b));
      await writer.insert('write_probe', [{ written_at: '2020-01-05 00:00:00', writer: 'least-privilege' }, { written_at: '2020-02-05 00:00:00', writer: 'least-privilege' }]);
      const partitions = () => writer.query<{ partition: string }>("SELECT DISTINCT partition FROM system.parts WHERE database = 'log_analytics' AND table = 'write_probe' AND active ORDER BY partition");
      expect(await partitions()).toEqual([{ partition: '202001' }, { partition: '202002' }]);
      for (const statement of [
        'ALTER TABLE log_analytics.write_probe DROP PARTITION 202001',
        'ALTER TABLE log_analytics.write_probe MODIFY TTL written_at + INTERVAL 400 DAY',
        'ALTER TABLE log_analytics.write_probe REMOVE TTL',
      ]) {
        expect([statement, await outcome(writer.command(statement))]).toEqual([statement, 'allowed']);
      }
      expect(await partitions()).toEqual([{ partition: '202002' }]);
    } finally {
      await writer.close();
    }
  }, 120_000);

  it('the writer reaches no other host, file, server setting, user or database', async () => {
    const writer = login(writerEngine!);
    try {
      for (const statement of elsewhere) expect([statement, await outcome(writer.command(statement))]).toEqual([statement, 'refused 497']); // ACCESS_DENIED
    } finally {
      await writer.close();
    }
  }, 60_000);

  it('the reader reads every table and view of log_analytics, and is refused everything else', async () => {
    await writerEngine!.stop();
    readerEngine = await privateChdb({ as: 'analyst', dir: writerEngine!.dir });
    const reader = login(readerEngine);
    try {
      expect(await grants(reader)).toEqual(['GRANT SHOW, SELECT ON log_analytics.*']);
      for (const table of ['minute_aggregates', 'hourly_aggregates', 'daily_aggregates', 'window_revisions', 'write_probe']) {
        expect([table, await outcome(reader.query(`SELECT count() AS n FROM log_analytics.${table}`))]).toEqual([table, 'allowed']);
      }
      for (const statement of [
        ...elsewhere,
        "INSERT INTO log_analytics.write_probe VALUES ('2020-03-05 00:00:00', 'reader')",
        'ALTER TABLE log_analytics.write_probe DROP PARTITION 202002',
        'CREATE TABLE log_analytics.intruder (a UInt8) ENGINE = Memory',
        'DROP TABLE log_analytics.write_probe',
      ]) {
        expect([statement, await outcome(reader.command(statement))]).toEqual([statement, 'refused 497']);
      }
      for (const statement of ['SELECT 1 AS x SETTINGS max_memory_usage = 100000000000', 'SELECT 1 AS x SETTINGS readonly = 0']) {
        expect([statement, await outcome(reader.query(statement))]).toEqual([statement, 'refused 164']); // READONLY
      }
    } finally {
      await reader.close();
    }
  }, 120_000);
});
