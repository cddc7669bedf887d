import { execFile } from 'node:child_process';
import { ClickHouseClient, ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './paths';
import { PrivateServer, privateChdb, privateClickHouse, privateKafka, privateMinio } from './servers';

const run = promisify(execFile);
const answers = (kind: string, endpoint: string) =>
  run(process.execPath, [join(REPO_ROOT, 'infra/local/probe.js'), kind, endpoint]).then(
    () => true,
    () => false,
  );

// The fault tests of the services stop and restart these; here we check that they really do.
describe.each([
  ['s3', privateMinio],
  ['clickhouse', privateClickHouse],
  ['kafka', privateKafka],
] as const)('private %s server', (kind, create) => {
  let server: PrivateServer;
  beforeAll(async () => {
    server = await create();
  });
  afterAll(() => server?.dispose());

  it('answers, goes away when stopped, and comes back on start', async () => {
    expect(await answers(kind, server.endpoint)).toBe(true);
    await server.stop();
    expect(await answers(kind, server.endpoint)).toBe(false);
    await server.start();
    expect(await answers(kind, server.endpoint)).toBe(true);
  });
});

// Current ClickHouse (chdb-core) behind the HTTP bridge: the official client must meet a server.
describe('private chdb server', () => {
  let server: PrivateServer;
  let client: ClickHouseClient;
  beforeAll(async () => {
    server = await privateChdb();
    client = createClient({
      url: server.endpoint,
      username: server.credentials!.username,
      password: server.credentials!.password,
      compression: { request: true, response: true },
      log: { level: ClickHouseLogLevel.OFF },
    });
  });
  afterAll(async () => {
    await client?.close();
    await server?.dispose();
  });

  const post = (query: string, headers: Record<string, string> = {}) =>
    fetch(`${server.endpoint}/?query=${encodeURIComponent(query)}`, { method: 'POST', headers, signal: AbortSignal.timeout(10_000) });
  const basic = (user: string, password: string) => ({ Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

  it('refuses a wrong or missing login as ClickHouse does, and accepts its own by either header', async () => {
    for (const headers of [{}, basic(server.credentials!.username, 'wrong'), basic('default', '')]) {
      const res = await post('SELECT 1', headers);
      expect(res.status).toBe(403);
      expect(res.headers.get('x-clickhouse-exception-code')).toBe('516');
      expect(await res.text()).toMatch(/^Code: 516\. DB::Exception: .*Authentication failed.*\(AUTHENTICATION_FAILED\)/);
    }
    const { username, password } = server.credentials!;
    for (const headers of [basic(username, password), { 'X-ClickHouse-User': username, 'X-ClickHouse-Key': password }]) {
      const res = await post('SELECT 1', headers);
      expect([res.status, await res.text()]).toEqual([200, '1\n']);
    }
    expect((await fetch(`${server.endpoint}/ping`)).status).toBe(200);
  });

  it('serves the client: INSERT data in the body, settings for one statement only, compression both ways, errors with their code', async () => {
    await client.command({ query: 'CREATE TABLE default.kit (id UInt64, s String) ENGINE = MergeTree ORDER BY id' });
    await client.insert({ table: 'default.kit', values: [{ id: '18446744073709551615', s: "it's\n😀" }], format: 'JSONEachRow' });
    const read = (settings?: Record<string, number>) =>
      client.query({ query: 'SELECT id, s FROM default.kit', format: 'JSONEachRow', clickhouse_settings: settings }).then((rs) => rs.json());
    expect(await read({ output_format_json_quote_64bit_integers: 1 })).toEqual([{ id: '18446744073709551615', s: "it's\n😀" }]);
    // The setting applied to that statement only, as on a server without a session.
    expect(await read()).toEqual([{ id: 18446744073709551615, s: "it's\n😀" }]);
    await expect(client.query({ query: 'SELECT 1; SELECT 2' })).rejects.toMatchObject({ code: '62' });
    await expect(client.query({ query: 'SELECT * FROM default.missing' })).rejects.toMatchObject({ code: '60', type: 'UNKNOWN_TABLE' });
    await expect(client.query({ query: 'SELECT 1', clickhouse_settings: { no_such_setting: 1 } as Record<string, number> })).rejects.toMatchObject({ code: '115' });
  });

  it('keeps its data across stop and start', async () => {
    await server.stop();
    expect((await fetch(`${server.endpoint}/ping`).catch(() => undefined))?.status).toBeUndefined();
    await server.start();
    const rows = await client.query({ query: 'SELECT count() AS n FROM default.kit', format: 'JSONEachRow' }).then((rs) => rs.json());
    expect(rows).toEqual([{ n: 1 }]);
  });
});
