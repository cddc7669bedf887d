import { stackCredentials, stackEndpoints, uniqueName } from '@pipeline/testing';
import { ClickHouseGateway } from './gateway';

/**
 * The ClickHouse users on the native stack (infra/clickhouse/users.d/pipeline-users.xml, the same
 * file docker-compose mounts): the writer may build and fill log_analytics and nothing else, the
 * reader may only read it, and `default` takes no empty password.
 */
describe('ClickHouse users', () => {
  const creds = stackCredentials();
  const as = (username: string, password: string) => ClickHouseGateway.fromSettings({ url: stackEndpoints().clickhouseUrl, username, password, database: 'log_analytics', requestTimeoutMs: 10_000 });
  const outcome = (p: Promise<unknown>) => p.then(() => 'allowed', (err: Error) => (/Code: (\d+)/.exec(err.message)?.[1] ? `refused ${/Code: (\d+)/.exec(err.message)![1]}` : `refused: ${err.message}`));
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
