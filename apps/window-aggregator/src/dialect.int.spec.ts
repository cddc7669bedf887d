// The ClickHouse dialect suite: every statement the aggregator sends, through its real code paths
// (ClickHouseGateway.migrate/query/insert/ping, ClickHouseWindowStore.write/load) and the query
// surface read with plain SELECTs, on both engines the product meets: Debian's ClickHouse 18.16
// server (what the native stack runs) and current ClickHouse (the docker-compose pin, 26.3) as
// chdb-core behind ClickHouse's HTTP interface (infra/clickhouse/chdb/http_bridge.py). Each case
// runs on both and must give the same answer on both, and the answer a plain computation here
// expects. Run it alone with `npm run test:dialect`.
import { join } from 'node:path';
import { ClickHouseError, ClickHouseGateway, clickHouseSettingsFromEnv, readMigrations, sqlString, sqlValue, SqlValue } from '@pipeline/clickhouse';
import { dateTimeTextToMinute, WindowState } from '@pipeline/partial';
import { PrivateServer, privateChdb, privateClickHouse, REPO_ROOT, stackInstall, testClickHouseEnv, uniqueName } from '@pipeline/testing';
import { expiredPartitions, formatMinute, monthPartition, windowKey } from '@pipeline/window';
import pino from 'pino';
import { Registry } from 'prom-client';
import { ClickHouseRetention, RetentionMode } from './retention';
import { expectedViewRows, ViewRow } from './it-support';
import { ClickHouseWindowStore, WindowRef } from './window-store';

jest.setTimeout(180_000);

interface Engine {
  /** `18.16` or `26.3`: the release line, as the facts recorded below are keyed. */
  line: string;
  label: string;
  server: PrivateServer;
  ch: ClickHouseGateway;
  /** Engine version as the engine itself reports it. */
  version: string;
}

const migrations = readMigrations(join(REPO_ROOT, 'infra/clickhouse/migrations'));
const database = uniqueName('dialect', '_');
const engines: Engine[] = [];

async function open(label: string, start: () => Promise<PrivateServer>): Promise<Engine> {
  const server = await start();
  const ch = ClickHouseGateway.fromSettings(
    clickHouseSettingsFromEnv(testClickHouseEnv(database, { url: server.endpoint, credentials: server.credentials, requestTimeoutMs: 60_000 })),
  );
  const [{ version }] = await ch.query<{ version: string }>('SELECT version() AS version');
  return { line: version.split('.').slice(0, 2).join('.'), label: `${label} ${version}`, server, ch, version };
}

beforeAll(async () => {
  engines.push(...(await Promise.all([open('server', privateClickHouse), open('chdb-core', privateChdb)])));
});

afterAll(async () => {
  for (const e of engines) {
    await e.ch.close();
    await e.server.dispose();
  }
});

/** Runs `fn` on every engine; one result per engine, keyed by its label for readable failures. */
async function onBoth<T>(fn: (e: Engine) => Promise<T>): Promise<Record<string, T>> {
  const out: Record<string, T> = {};
  for (const e of engines) out[e.label] = await fn(e);
  return out;
}

/** Expects every engine's result to equal `expected`. */
function expectOnBoth<T>(results: Record<string, T>, expected: T): void {
  expect(Object.keys(results)).toHaveLength(2);
  expect(results).toEqual(Object.fromEntries(Object.keys(results).map((label) => [label, expected])));
}

const store = (e: Engine, clock?: () => Date) => new ClickHouseWindowStore(e.ch, clock);

describe('ClickHouse dialect: 18.16 server and current ClickHouse (chdb-core)', () => {
  it('runs both engines: a 18.16 server and chdb-core at the pinned version', () => {
    expect(engines.map((e) => e.line)).toEqual(['18.16', stackInstall().chdbVersion.split('.').slice(0, 2).join('.')]);
  });

  it('answers the ping the aggregator sends', async () => {
    expectOnBoth(await onBoth((e) => e.ch.ping().then(() => 'ok')), 'ok');
  });

  it('applies the migrations on a fresh database through ClickHouseGateway.migrate, and a second run applies nothing', async () => {
    const versions = migrations.map((m) => m.version);
    expectOnBoth(await onBoth((e) => e.ch.migrate(migrations)), versions);
    expectOnBoth(await onBoth((e) => e.ch.migrate(migrations)), []);
    const recorded = await onBoth((e) => e.ch.query<{ version: number; checksum: string }>(`SELECT version, checksum FROM ${database}.schema_migrations ORDER BY version`));
    expectOnBoth(
      recorded,
      migrations.map((m) => ({ version: m.version, checksum: m.checksum })),
    );
    const tables = await onBoth(async (e) =>
      (await e.ch.query<{ name: string }>(`SELECT name FROM system.tables WHERE database = ${sqlString(database)} ORDER BY name`)).map((t) => t.name),
    );
    expectOnBoth(tables, ['daily_aggregates', 'daily_rollup', 'hourly_aggregates', 'hourly_rollup', 'minute_aggregates', 'schema_migrations', 'window_revisions', 'write_probe']);
    const edited = migrations.map((m, i) => (i === 0 ? { ...m, checksum: 'edited' } : m));
    expectOnBoth(await onBoth((e) => e.ch.migrate(edited).then(() => 'applied', (err: Error) => err.message)), expect.stringMatching(/changed after it was applied/));
  });

  it('takes the known-good write of the failure policy into write_probe', async () => {
    const at = new Date('2026-12-06T12:00:00Z');
    await onBoth((e) => store(e, () => at).probeWrite());
    const rows = await onBoth((e) => e.ch.query<{ n: number | string; at: string }>(`SELECT count() AS n, toString(max(written_at)) AS at FROM ${database}.write_probe`));
    expectOnBoth(
      Object.fromEntries(Object.entries(rows).map(([label, r]) => [label, r.map((x) => ({ n: Number(x.n), at: x.at }))])),
      [{ n: 1, at: '2026-12-06 12:00:00' }],
    );
  });

  it('types a failing statement by where the fault lies, from either engine\'s error text', async () => {
    // Current releases answer `Code: 60. DB::Exception: ... (UNKNOWN_TABLE)`; 18.16 answers
    // `Code: 60, e.displayText() = ...`. Both must come out as the same kind.
    const decisionOf = (err: unknown) => (err instanceof ClickHouseError ? `${err.kind}:${err.code}` : `untyped: ${String(err)}`);
    const missing = await onBoth((e) => e.ch.query(`SELECT * FROM system.no_such_table`).then(() => 'succeeded', decisionOf));
    expectOnBoth(missing, 'refusing:unknown_table');
    const garbage = await onBoth((e) => e.ch.query(`SELECT toUInt8('not a number') AS x`).then(() => 'succeeded', decisionOf));
    expectOnBoth(garbage, expect.stringMatching(/^input:/));
  });

  it('sends 64-bit integers in JSON as each engine does, and the store reads both forms', async () => {
    // 18.16 quotes UInt64 in JSON output (output_format_json_quote_64bit_integers=1 then); current
    // releases do not. Counts are read with Number() and checked to be safe integers either way.
    const rows = await onBoth((e) => e.ch.query<{ n: number | string }>('SELECT toUInt64(5) AS n'));
    expect(Object.fromEntries(engines.map((e) => [e.label, rows[e.label]]))).toEqual(
      Object.fromEntries(engines.map((e) => [e.label, [{ n: e.line === '18.16' ? '5' : 5 }]])),
    );
  });
});

// --- the shared escaping: sqlString / sqlValue ------------------------------------------------

const CONTROL_CHARACTERS = Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)).join('') + '\x7f';

const HOSTILE_STRINGS: Array<[string, string]> = [
  ['a quote', "it's"],
  ['double quote and backtick', 'say "hi" `now`'],
  ['backslashes and escape look-alikes', '\\ \\\\ \\\' \\n \\0 \\x41 \\N \\u0041'],
  ['a trailing backslash', 'end\\'],
  ['every ASCII control character, NUL included', CONTROL_CHARACTERS],
  ['NUL alone', '\0'],
  ['BMP text', 'ünïcødé ✓ 中文 Ελληνικά'],
  ['astral characters', '𝔸𝔹 𠜎 🂡'],
  ['emoji with ZWJ and modifiers', '👩🏽‍💻 🏳️‍🌈 😀'],
  ['RTL text and bidi controls', '\u200fשלום\u202eabc\u202c\u200e'],
  ['separators, BOM and a noncharacter', '\u2028\u2029\ufeff\uffff'],
  ['2048 characters', 'é'.repeat(1024) + 'a'.repeat(1024)],
  ['SQL', "'; DROP TABLE window_revisions; --"],
  ['a comment and a terminator', "x' /* */ ; SELECT 1 -- "],
  ['the migration placeholder', '{{database}}'],
  ['query-parameter syntax', '{x:String} {{x}} ?'],
  ['a FORMAT clause', "' FORMAT JSONEachRow"],
  ['the empty string', ''],
];

describe('the shared escaping round-trips hostile values on both engines', () => {
  it.each(HOSTILE_STRINGS)('sqlString: %s', async (_label, value) => {
    const expected = { v: value, bytes: Buffer.byteLength(value), hex: Buffer.from(value).toString('hex').toUpperCase() };
    const literal = sqlString(value);
    const read = await onBoth(async (e) => {
      const [row] = await e.ch.query<{ v: string; bytes: number | string; hex: string }>(`SELECT ${literal} AS v, length(v) AS bytes, hex(v) AS hex`);
      return { ...row, bytes: Number(row.bytes) };
    });
    expectOnBoth(read, expected);
  });

  it.each(HOSTILE_STRINGS)('insert, then WHERE made by sqlString: %s', async (label, value) => {
    const id = `${HOSTILE_STRINGS.findIndex(([l]) => l === label)}`;
    const read = await onBoth(async (e) => {
      await e.ch.command(`CREATE TABLE IF NOT EXISTS ${database}.escaping (id String, s String) ENGINE = MergeTree ORDER BY id`);
      await e.ch.insert('escaping', [{ id, s: value }]);
      return e.ch.query<{ id: string; s: string }>(`SELECT id, s FROM ${database}.escaping WHERE s = ${sqlString(value)} AND id = ${sqlString(id)}`);
    });
    expectOnBoth(read, [{ id, s: value }]);
  });

  const VALUES: Array<[string, SqlValue, string]> = [
    ['UInt64 0', 0n, '0'],
    ['UInt64 max as bigint', 18446744073709551615n, '18446744073709551615'],
    ['Int64 min as bigint', -9223372036854775808n, '-9223372036854775808'],
    ['the largest safe integer', Number.MAX_SAFE_INTEGER, '9007199254740991'],
    ['a negative number', -42, '-42'],
    ['a fraction', 0.5, '0.5'],
    ['true', true, '1'],
    ['an array of hostile strings', ["a'b", '\\', '😀', ''], "['a\\'b','\\\\','😀','']"],
  ];

  it.each(VALUES)('sqlValue: %s', async (_label, value, text) => {
    expectOnBoth(await onBoth((e) => e.ch.query<{ v: string }>(`SELECT toString(${sqlValue(value)}) AS v`)), [{ v: text }]);
  });

  it('sqlValue: NULL', async () => {
    expectOnBoth(await onBoth((e) => e.ch.query(`SELECT ${sqlValue(null)} AS v`)), [{ v: null }]);
  });

  it.each([
    ['1970-01-01 00:00:00, the first second', '1970-01-01T00:00:00Z'],
    ['a minute of 2025', '2025-12-28T18:03:00Z'],
    ['milliseconds dropped', '2025-12-28T18:03:59.999Z'],
    ['2105-12-31 23:59:59, the last second the contract allows', '2105-12-31T23:59:59Z'],
  ])('sqlValue: DateTime at %s', async (_label, iso) => {
    const date = new Date(iso);
    const expected = [{ epoch: Math.floor(date.getTime() / 1000), minute: formatMinute(date.getTime()) }];
    const read = await onBoth(async (e) => {
      const rows = await e.ch.query<{ epoch: number; text: string }>(`SELECT toUInt32(${sqlValue(date)}) AS epoch, toString(toStartOfMinute(${sqlValue(date)})) AS text`);
      return rows.map((r) => ({ epoch: r.epoch, minute: dateTimeTextToMinute(r.text) }));
    });
    expectOnBoth(read, expected);
  });
});

/**
 * A migrated database of its own on every engine for the tests of one describe block (call it in
 * the block): the gateway of each engine, closed after the block.
 */
function migratedOnEveryEngine(db: string, prepare?: (ch: ClickHouseGateway) => Promise<unknown>): (e: Engine) => ClickHouseGateway {
  const gateways = new Map<string, ClickHouseGateway>();
  beforeAll(async () => {
    for (const e of engines) {
      const ch = ClickHouseGateway.fromSettings(
        clickHouseSettingsFromEnv(testClickHouseEnv(db, { url: e.server.endpoint, credentials: e.server.credentials, requestTimeoutMs: 60_000 })),
      );
      gateways.set(e.label, ch);
      await ch.migrate(migrations);
      await prepare?.(ch);
    }
  });
  afterAll(async () => {
    for (const ch of gateways.values()) await ch.close();
  });
  return (e) => gateways.get(e.label)!;
}

// --- what each engine does with what the ingestion must reject ---------------------------------
// Recorded facts, keyed by release line: they are why batch-ingestion rejects timestamps outside
// 1970-01-01..2105-12-31 and strings that are not well-formed Unicode. Neither engine refuses
// them all: some values are silently changed, and the two engines change them differently.

describe('values the ingestion must reject, as each engine treats them', () => {
  const range = `${database}_range`;
  const gatewayOf = migratedOnEveryEngine(range, (ch) => ch.command(`CREATE TABLE IF NOT EXISTS ${range}.strings (id String, s String) ENGINE = MergeTree ORDER BY id`));


  /** The epoch seconds each engine makes of `toDateTime(text, 'UTC')` (what sqlValue sends). */
  const DATE_TIMES: Record<string, Record<string, number>> = {
    // 18.16 wraps: a date before 1970 keeps its time of day on 1970-01-01, or becomes 0;
    // past its calendar (2105) a value becomes 0 or wraps modulo 2^32.
    '18.16': { '1969-12-31T23:59:00Z': 86_340, '1900-01-01T00:00:00Z': 0, '2106-01-01T00:00:00Z': 0, '2106-02-07T06:28:16Z': 23_296 },
    // Current releases saturate: 0 before 1970, 2106-02-07 06:28:15 (2^32 - 1) after it.
    '26.3': { '1969-12-31T23:59:00Z': 0, '1900-01-01T00:00:00Z': 0, '2106-01-01T00:00:00Z': 4_291_747_200, '2106-02-07T06:28:16Z': 4_294_967_295 },
  };

  it.each(Object.keys(DATE_TIMES['26.3']))('sqlValue(DateTime %s) is changed without an error', async (iso) => {
    const read = await onBoth(async (e) => (await e.ch.query<{ epoch: number }>(`SELECT toUInt32(${sqlValue(new Date(iso))}) AS epoch`))[0].epoch);
    for (const e of engines) expect({ [e.label]: read[e.label] }).toEqual({ [e.label]: DATE_TIMES[e.line][iso] });
    expect(read[engines[0].label]).not.toBe(Date.parse(iso) / 1000);
  });

  /**
   * What a state written through the store (JSONEachRow text) becomes: the stored window_start in
   * epoch seconds, and the window the store loads it back as (null: under no whole minute at all).
   */
  const WINDOWS: Record<string, Record<string, { stored: number; loadedAs: string | null }>> = {
    '18.16': {
      '1969-12-31T23:59Z': { stored: 86_340, loadedAs: '1970-01-01T23:59Z' },
      '2106-01-01T00:00Z': { stored: 0, loadedAs: '1970-01-01T00:00Z' },
      '2106-02-07T06:29Z': { stored: 23_340, loadedAs: '1970-01-01T06:29Z' },
    },
    // JSON text is read modulo 2^32 past 2106-02-07 06:28:15 (unlike toDateTime, which saturates).
    '26.3': {
      '1969-12-31T23:59Z': { stored: 0, loadedAs: '1970-01-01T00:00Z' },
      '2106-01-01T00:00Z': { stored: 4_291_747_200, loadedAs: '2106-01-01T00:00Z' },
      '2106-02-07T06:29Z': { stored: 44, loadedAs: null },
    },
  };

  it.each(Object.keys(WINDOWS['26.3']))('a window at %s is written without an error, and stored as another instant', async (minute) => {
    const customerId = `cus-range-${minute.replace(/[^0-9]/g, '')}`;
    const read = await onBoth(async (e) => {
      const s = store({ ...e, ch: gatewayOf(e) });
      await s.write([windowState(customerId, minute, 1, [['GET /', 1]], [['Other', 1]], ['b1'])]);
      const [{ stored }] = await gatewayOf(e).query<{ stored: number }>(`SELECT toUInt32(window_start) AS stored FROM ${range}.window_revisions WHERE customer_id = ${sqlString(customerId)}`);
      const refs = [{ customerId, windowStart: minute }];
      if (stored % 60 === 0) refs.push({ customerId, windowStart: formatMinute(stored * 1000) });
      const loaded = await s.load(refs);
      return { stored, loadedAs: [...loaded.values()].map((w) => w.windowStart)[0] ?? null };
    });
    for (const e of engines) expect({ [e.label]: read[e.label] }).toEqual({ [e.label]: WINDOWS[e.line][minute] });
  });

  it('a lone surrogate in a SQL literal arrives as U+FFFD on both (the client encodes the body as UTF-8)', async () => {
    expectOnBoth(await onBoth((e) => e.ch.query<{ hex: string }>(`SELECT hex(${sqlString('\ud800')}) AS hex`)), [{ hex: 'EFBFBD' }]);
  });

  it('a lone high surrogate in an inserted row makes both refuse the whole insert; a lone low one is stored as invalid UTF-8', async () => {
    const refused = await onBoth((e) =>
      gatewayOf(e)
        .insert('strings', [{ id: 'high', s: 'a\ud800b' }])
        .then(
          () => 'stored',
          (err: Error) => (/surrogate pair/.test(err.message) ? 'refused: missing second part of surrogate pair' : err.message),
        ),
    );
    expectOnBoth(refused, 'refused: missing second part of surrogate pair');
    const stored = await onBoth(async (e) => {
      await gatewayOf(e).insert('strings', [{ id: 'low', s: 'a\udc00b' }]);
      return gatewayOf(e).query<{ hex: string }>(`SELECT hex(s) AS hex FROM ${range}.strings WHERE id = 'low'`);
    });
    // ED B0 80: the surrogate's three-byte form, which is not UTF-8.
    expectOnBoth(stored, [{ hex: '61EDB08062' }]);
  });

  it('a window state with a lone high surrogate in a key cannot be written on either engine: it would fail the same way on every retry', async () => {
    const poisoned = windowState('cus-range-surrogate', '2025-12-28T18:03Z', 1, [['GET /\ud800', 1]], [['Other', 1]], ['b1']);
    const result = await onBoth((e) =>
      store({ ...e, ch: gatewayOf(e) })
        .write([poisoned])
        .then(
          () => 'written',
          // Typed as refused for good: the consumer runtime dead-letters it instead of retrying forever.
          (err: Error) => (/surrogate pair/.test(err.message) && err instanceof ClickHouseError && !err.retryable ? 'refused for good' : `${err.name}: ${err.message}`),
        ),
    );
    expectOnBoth(result, 'refused for good');
  });
});

// --- window states through ClickHouseWindowStore ------------------------------------------------

/**
 * A state as the aggregator writes it: its counts, and the ids merged since its previous revision
 * (`newIds`). The user-agent counts must add up to the path counts.
 */
function windowState(customerId: string, windowStart: string, revision: number, byPath: Array<[string, number]>, byUa: Array<[string, number]>, newIds: string[]): WindowState {
  const total = byPath.reduce((sum, [, n]) => sum + n, 0);
  if (byUa.reduce((sum, [, n]) => sum + n, 0) !== total) throw new Error(`fixture ${customerId}|${windowStart}: user-agent counts do not add up`);
  return { customerId, windowStart, revision, total, byPath: new Map(byPath), byUserAgent: new Map(byUa), mergedIds: new Set(), newIds: new Set(newIds) };
}

const PATH_KEYS = [
  'GET /',
  'GET /about',
  "GET /it's",
  'GET /back\\slash\\',
  'GET /new\nline\ttab\r',
  'GET /ctl\u0001\u001f\u007f',
  'GET /nul\0byte',
  'GET /😀',
  'GET /é',
  'GET /\uffff',
  'GET /𝔸',
  'GET /\u202eevil\u200f',
  "GET /'; DROP TABLE window_revisions; --",
  'GET /{{database}}',
  'POST /api/users',
  'GET /' + 'x'.repeat(2043),
];
const UA_KEYS = ['Chrome', 'Firefox', 'Googlebot', 'curl', 'Other', '', "Bot'\\\"", '🤖 Agent'];
const CUSTOMERS = ['cus-axon', 'cus.beta_2', 'c'.repeat(64), "cus'o\\hara 😀"];
const MINUTES = [
  '1970-01-01T00:00Z',
  '1970-01-01T00:01Z',
  '1970-01-01T01:00Z',
  '2025-12-28T18:03Z',
  '2025-12-28T18:04Z',
  '2025-12-28T18:59Z',
  '2025-12-28T19:00Z',
  '2025-12-29T00:01Z',
  '2105-12-31T00:00Z',
  '2105-12-31T23:59Z',
];

/**
 * Every revision the fixture writes, in write rounds (round r holds the revision r of each window
 * that has one): several customers, 1 to 3 revisions per window, hostile keys, windows at both
 * edges of the range, a window with many keys, and windows with empty arrays.
 */
function fixtureRounds(): WindowState[][] {
  const rounds: WindowState[][] = [[], [], []];
  CUSTOMERS.forEach((customerId, ci) => {
    MINUTES.forEach((minute, mi) => {
      const revisions = 1 + ((ci + mi) % 3);
      for (let r = 1; r <= revisions; r++) {
        const paths = PATH_KEYS.map((k, i) => [k, 1 + ((i * 7 + r * 3 + mi + ci) % 11)] as [string, number]).filter((_, i) => (i + ci + mi + r) % 3 !== 0);
        const total = paths.reduce((sum, [, n]) => sum + n, 0);
        const uaKeys = UA_KEYS.filter((_, i) => (i + ci + r) % 2 === 0);
        const uas = uaKeys.map((k, i) => [k, Math.floor(total / uaKeys.length) + (i === 0 ? total % uaKeys.length : 0)] as [string, number]);
        const batches = Array.from({ length: r * 2 }, (_, j) => `batch:${ci}-${mi}-${String(j).padStart(6, '0')}`);
        rounds[r - 1].push(windowState(customerId, minute, r, paths, uas, batches));
      }
    });
  });
  const many = Array.from({ length: 1000 }, (_, i) => [`GET /page/${i}`, 1 + (i % 5)] as [string, number]);
  const manyTotal = many.reduce((sum, [, n]) => sum + n, 0);
  const manyUas = Array.from({ length: 200 }, (_, i) => [`agent ${i}`, Math.floor(manyTotal / 200) + (i === 0 ? manyTotal % 200 : 0)] as [string, number]);
  rounds[0].push(windowState('cus-many', '2025-12-28T18:03Z', 1, many.slice(0, 10), manyUas.slice(0, 1).map(([k]) => [k, many.slice(0, 10).reduce((s, [, n]) => s + n, 0)] as [string, number]), ['b-1']));
  rounds[1].push(windowState('cus-many', '2025-12-28T18:03Z', 2, many, manyUas, Array.from({ length: 500 }, (_, i) => `b-${i}`)));
  // Empty arrays: a window alone in its hour, and one sharing its hour with counted windows.
  rounds[0].push(windowState('cus-empty', '2025-12-28T20:00Z', 1, [], [], []));
  rounds[0].push(windowState('cus-empty', '2025-12-28T21:30Z', 1, [], [], ['b-empty']));
  rounds[0].push(windowState('cus-empty', '2025-12-28T21:31Z', 1, [['GET /', 2]], [['curl', 2]], ['b-1']));
  return rounds;
}

/** What a load must give after these writes: per window, the latest revision's counts and the ids of all its revisions. */
const latestOf = (rounds: WindowState[][]) => {
  const latest = new Map<string, WindowState>();
  for (const round of rounds) {
    for (const s of round) {
      const key = windowKey(s.customerId, s.windowStart);
      const ids = new Set([...(latest.get(key)?.mergedIds ?? []), ...s.newIds]);
      latest.set(key, { ...s, mergedIds: ids, newIds: new Set() });
    }
  }
  return latest;
};
const loaded = (s: WindowState, ids: string[]): WindowState => ({ ...s, mergedIds: new Set(ids), newIds: new Set() });

const refsOf = (states: Iterable<WindowState>): WindowRef[] => [...states].map((s) => ({ customerId: s.customerId, windowStart: s.windowStart }));

describe('window states through ClickHouseWindowStore.write and .load', () => {
  const rounds = fixtureRounds();
  const latest = latestOf(rounds);

  it('loads nothing for windows never written', async () => {
    expectOnBoth(await onBoth(async (e) => (await store(e).load(refsOf(latest.values()))).size), 0);
  });

  it('reads back, after each round of writes, the latest revision of every window written so far', async () => {
    for (let r = 0; r < rounds.length; r++) {
      await onBoth(async (e) => {
        await store(e).write(rounds[r]);
        // The fixture's revisions are not extensions of each other as the aggregator's are (a
        // later one may count less), so the rollups, which keep the most complete row, are
        // refreshed once all are written; rollups under real revisions are tested below.
        if (r === rounds.length - 1) await store(e).refreshRollups(refsOf(latest.values()));
      });
      const expected = latestOf(rounds.slice(0, r + 1));
      // Every fixture window, written or not yet: unwritten ones are absent from the answer.
      expectOnBoth(await onBoth((e) => store(e).load(refsOf(latest.values()))), expected);
    }
  });

  it('keeps loading once the window at 1970-01-01 00:00 exists, on every later load', async () => {
    const edge = [...latest.values()].filter((s) => s.windowStart === '1970-01-01T00:00Z');
    expect(edge.length).toBe(CUSTOMERS.length);
    for (let i = 0; i < 3; i++) {
      expectOnBoth(await onBoth((e) => store(e).load(refsOf(latest.values()))), latest);
    }
    const loaded = await onBoth((e) => store(e).load(refsOf(edge)));
    expectOnBoth(loaded, new Map(edge.map((s) => [windowKey(s.customerId, s.windowStart), s])));
  });

  it('loads more windows than one statement holds (several statements), absent ones left out', async () => {
    const absent: WindowRef[] = Array.from({ length: 1200 }, (_, i) => ({ customerId: CUSTOMERS[i % CUSTOMERS.length], windowStart: formatMinute(Date.parse('2030-01-01T00:00:00Z') + i * 60_000) }));
    expectOnBoth(await onBoth((e) => store(e).load([...absent.slice(0, 600), ...refsOf(latest.values()), ...absent.slice(600)])), latest);
  });

  it('resolves a tie on the revision the same way on both engines, all columns from one row, as the minute view does', async () => {
    const at = (iso: string) => () => new Date(iso);
    const minute = '2025-12-28T18:10Z';
    const a = windowState('cus-tie', minute, 5, [['GET /a', 1]], [['Chrome', 1]], ['a']);
    const b = windowState('cus-tie', minute, 5, [['GET /b', 2]], [['curl', 2]], ['b']);
    const c = windowState('cus-tie', minute, 5, [['GET /c', 3]], [['Other', 3]], ['c']);
    const ref = [{ customerId: 'cus-tie', windowStart: minute }];
    const key = windowKey('cus-tie', minute);
    const viewRow = async (e: Engine) => {
      const rows = await e.ch.query<{ total_requests: number | string; path_keys: string[] }>(
        `SELECT total_requests, path_keys FROM ${database}.minute_aggregates WHERE customer_id = 'cus-tie'`,
      );
      return rows.map((r) => ({ total: Number(r.total_requests), paths: r.path_keys }));
    };

    // The later write wins a tie; the ids of both are the window's.
    await onBoth((e) => store(e, at('2026-01-01T00:00:00Z')).write([a]).then(() => store(e).refreshRollups(ref)));
    await onBoth((e) => store(e, at('2026-01-01T00:00:01Z')).write([b]).then(() => store(e).refreshRollups(ref)));
    expectOnBoth(await onBoth(async (e) => (await store(e).load(ref)).get(key)), loaded(b, ['a', 'b']));
    expectOnBoth(await onBoth(viewRow), [{ total: 2, paths: ['GET /b'] }]);

    // Written in the same second: the content decides, identically on both engines.
    await onBoth((e) => store(e, at('2026-01-01T00:00:01Z')).write([c]).then(() => store(e).refreshRollups(ref)));
    const chosen = await onBoth(async (e) => (await store(e).load(ref)).get(key));
    const [first, second] = engines.map((e) => chosen[e.label]);
    expect(second).toEqual(first);
    expect([loaded(b, ['a', 'b', 'c']), loaded(c, ['a', 'b', 'c'])]).toContainEqual(first);
    expectOnBoth(await onBoth(viewRow), [{ total: first!.total, paths: [...first!.byPath.keys()] }]);

    // A higher revision ends the tie; it carries only its own new id.
    const d = windowState('cus-tie', minute, 6, [['GET /d', 4]], [['Firefox', 4]], ['d']);
    await onBoth((e) => store(e, at('2026-01-01T00:00:00Z')).write([d]).then(() => store(e).refreshRollups(ref)));
    expectOnBoth(await onBoth(async (e) => (await store(e).load(ref)).get(key)), loaded(d, ['a', 'b', 'c', 'd']));
    latest.set(key, loaded(d, ['a', 'b', 'c', 'd']));
  });
});

// --- the query surface ---------------------------------------------------------------------------

type RawViewRow = Omit<ViewRow, 'total_requests' | 'path_counts' | 'ua_counts'> & {
  total_requests: number | string;
  path_counts: Array<number | string>;
  ua_counts: Array<number | string>;
};

/** ClickHouse's String order: by UTF-8 bytes. */

const count = (n: number | string) => {
  const v = Number(n);
  if (!Number.isSafeInteger(v)) throw new Error(`not a count: ${JSON.stringify(n)}`);
  return v;
};

/**
 * The one normalisation between the engines' JSON: 18.16 quotes 64-bit integers and writes the
 * DateTime 0 as 0000-00-00 00:00:00. Everything else must match as sent.
 */
function normalise(row: RawViewRow): ViewRow {
  const minute = dateTimeTextToMinute(row.window_start);
  if (minute === null) throw new Error(`not a whole minute: ${JSON.stringify(row.window_start)}`);
  return { ...row, window_start: minute, total_requests: count(row.total_requests), path_counts: row.path_counts.map(count), ua_counts: row.ua_counts.map(count) };
}

const PERIODS = { minute_aggregates: 60_000, hourly_aggregates: 3_600_000, daily_aggregates: 86_400_000 } as const;
type View = keyof typeof PERIODS;

describe('the query surface: minute, hourly and daily views with a plain SELECT', () => {
  const latest = latestOf(fixtureRounds());
  latest.set(windowKey('cus-tie', '2025-12-28T18:10Z'), windowState('cus-tie', '2025-12-28T18:10Z', 6, [['GET /d', 4]], [['Firefox', 4]], ['a', 'b', 'c', 'd']));

  const read = (e: Engine, view: View, where = '') =>
    e.ch.query<RawViewRow>(`SELECT * FROM ${database}.${view}${where} ORDER BY customer_id, window_start`).then((rows) => rows.map(normalise));

  it.each(Object.keys(PERIODS) as View[])('%s holds the same rows on both engines, the rows the fixture makes', async (view) => {
    const expected = expectedViewRows(latest.values(), PERIODS[view]);
    expect(expected.length).toBeGreaterThan({ minute_aggregates: 40, hourly_aggregates: 25, daily_aggregates: 10 }[view]);
    expectOnBoth(await onBoth((e) => read(e, view)), expected);
  });

  it('answers filters on customer and window_start (pushed into the views) with the same rows', async () => {
    const customer = "cus'o\\hara 😀";
    const from = Date.parse('2025-12-28T18:00:00Z');
    for (const view of Object.keys(PERIODS) as View[]) {
      const where = ` WHERE customer_id = ${sqlString(customer)} AND window_start >= ${sqlValue(new Date(from))} AND window_start < ${sqlValue(new Date('2105-01-01T00:00:00Z'))}`;
      const expected = expectedViewRows(latest.values(), PERIODS[view]).filter((r) => r.customer_id === customer && Date.parse(r.window_start) >= from && r.window_start < '2105');
      expect(expected.length).toBeGreaterThan(0);
      expectOnBoth(await onBoth((e) => read(e, view, where)), expected);
    }
    const edge = expectedViewRows(latest.values(), PERIODS.hourly_aggregates).filter((r) => r.window_start === '1970-01-01T00:00Z');
    expectOnBoth(await onBoth((e) => read(e, 'hourly_aggregates', ` WHERE window_start = ${sqlValue(new Date(0))}`)), edge);
  });
});

// --- rollups kept as data arrives ---------------------------------------------------------------

describe('hour and day rollups recomputed by ClickHouseWindowStore.refreshRollups', () => {
  const rollupDb = uniqueName('rollups', '_');
  const gatewayOf = migratedOnEveryEngine(rollupDb);
  const storeOf = (e: Engine, clock?: () => Date) => new ClickHouseWindowStore(gatewayOf(e), clock);
  /** Every state written so far, per window the latest: what the views must add up. */
  const latest = new Map<string, WindowState>();
  const write = async (states: WindowState[], clock?: () => Date, refresh: WindowState[] | null = states) => {
    await onBoth(async (e) => {
      await storeOf(e, clock).write(states);
      if (refresh) await storeOf(e).refreshRollups(refsOf(refresh));
    });
    for (const s of states) {
      const key = windowKey(s.customerId, s.windowStart);
      if ((latest.get(key)?.revision ?? 0) <= s.revision) latest.set(key, s);
    }
  };
  const read = (e: Engine, view: View) =>
    gatewayOf(e)
      .query<RawViewRow>(`SELECT * FROM ${rollupDb}.${view} ORDER BY customer_id, window_start`)
      .then((rows) => rows.map(normalise));
  const expectViews = async () => {
    for (const view of ['hourly_aggregates', 'daily_aggregates'] as const) {
      const expected = expectedViewRows(latest.values(), PERIODS[view]);
      expect(expected.length).toBeGreaterThan(0);
      expectOnBoth(await onBoth((e) => read(e, view)), expected);
    }
  };
  const rowsOf = (e: Engine, table: string) =>
    gatewayOf(e)
      .query<{ n: number | string }>(`SELECT count() AS n FROM ${rollupDb}.${table}`)
      .then(([r]) => Number(r.n));


  it('sums minutes across hour, day and month boundaries, hostile keys and empty arrays included', async () => {
    const minutes = ['2025-11-30T23:59Z', '2025-12-01T00:00Z', '2025-12-01T00:59Z', '2025-12-01T01:00Z', '2025-12-31T23:59Z', '2026-01-01T00:00Z'];
    const states = minutes.flatMap((m, i) => [
      windowState('cus-r1', m, 1, [[PATH_KEYS[i], 2], [PATH_KEYS[i + 3], 1]], [[UA_KEYS[i], 3]], [`r1-${i}`]),
      windowState("cus'r2 😀", m, 1, [[PATH_KEYS[i + 6], 1]], [[UA_KEYS[(i + 5) % UA_KEYS.length], 1]], [`r2-${i}`]),
    ]);
    states.push(windowState('cus-r1', '2025-12-01T02:00Z', 1, [], [], []));
    await write(states);
    await expectViews();
  });

  it('follows late revisions of a minute, however late, and unit after unit', async () => {
    await write([windowState('cus-r1', '2025-12-01T00:30Z', 1, [['GET /late', 1]], [['curl', 1]], ['l1'])]);
    await expectViews();
    await write([windowState('cus-r1', '2025-12-01T00:30Z', 2, [['GET /late', 1], ['GET /later', 4]], [['curl', 5]], ['l2'])]);
    await write([windowState('cus-r1', '2025-11-30T23:59Z', 2, [[PATH_KEYS[0], 2], [PATH_KEYS[3], 1], ['GET /z', 7]], [[UA_KEYS[0], 10]], ['l3'])]);
    await expectViews();
  });

  it('counts a duplicated revision row once: the same row inserted twice, and two writers\' equal revisions', async () => {
    const s = windowState('cus-r3', '2025-12-02T10:10Z', 1, [['GET /', 3]], [['Chrome', 3]], ['d1']);
    await write([s, s]);
    await write([s], () => new Date('2026-01-01T00:00:00Z'));
    await write([s], () => new Date('2026-01-01T00:00:05Z'));
    expectOnBoth(await onBoth((e) => rowsOf(e, 'window_revisions').then(() => 'written')), 'written');
    await expectViews();
  });

  it('never lets an older recomputation win, whatever order the rows land in, merged or not', async () => {
    const minute = '2025-12-03T05:05Z';
    await write([windowState('cus-r4', minute, 1, [['GET /a', 1]], [['curl', 1]], ['o1'])]);
    const older = await onBoth((e) =>
      gatewayOf(e).query<RawViewRow>(`SELECT * FROM ${rollupDb}.hourly_rollup WHERE customer_id = 'cus-r4'`).then((rows) => rows.map(normalise)),
    );
    await write([windowState('cus-r4', minute, 2, [['GET /a', 1], ['GET /b', 2]], [['curl', 3]], ['o2'])]);
    // The older snapshot's rows written again after the newer ones (a slow writer), hour and day.
    await onBoth(async (e) => {
      for (const table of ['hourly_rollup', 'daily_rollup']) {
        await gatewayOf(e).command(
          `INSERT INTO ${rollupDb}.${table} (customer_id, window_start, total_requests, path_keys, path_counts, ua_keys, ua_counts) SELECT customer_id, window_start, total_requests, path_keys, path_counts, ua_keys, ua_counts FROM ${rollupDb}.${table} WHERE customer_id = 'cus-r4' AND total_requests = 1`,
        );
      }
    });
    expect(Object.values(older).map((rows) => rows.map((r) => r.total_requests))).toEqual([[1], [1]]);
    await expectViews();
    // Background merges keep the most complete row too.
    await onBoth((e) => Promise.all(['hourly_rollup', 'daily_rollup'].map((t) => gatewayOf(e).command(`OPTIMIZE TABLE ${rollupDb}.${t} FINAL`))));
    await expectViews();
  });

  it('converges when a unit is refreshed before another writer\'s minutes of the same hour land, once the last refresh runs', async () => {
    const first = windowState('cus-r5', '2025-12-04T08:01Z', 1, [['GET /', 1]], [['curl', 1]], ['c1']);
    const second = windowState('cus-r5', '2025-12-04T08:02Z', 1, [['GET /x', 2]], [['curl', 2]], ['c2']);
    // The second minute written without its refresh (a process killed between the two)...
    await write([second], undefined, null);
    await write([first]);
    // ...then its redelivery: only duplicates, refreshed all the same.
    await onBoth((e) => storeOf(e).refreshRollups(refsOf([second])));
    await expectViews();
  });

  it('splits a refresh of many periods into several statements, and refreshes periods without minutes as nothing', async () => {
    const many = Array.from({ length: 1300 }, (_, i) => windowState(`cus-m${i % 7}`, formatMinute(Date.parse('2025-10-01T00:00:00Z') + i * 3_600_000), 1, [['GET /', 1]], [['curl', 1]], [`m${i}`]));
    await write(many);
    const absent: WindowRef[] = Array.from({ length: 700 }, (_, i) => ({ customerId: 'cus-absent', windowStart: formatMinute(Date.parse('2030-01-01T00:00:00Z') + i * 3_600_000) }));
    await onBoth((e) => storeOf(e).refreshRollups(absent));
    await expectViews();
  });
});

// --- retention: a table TTL where the engine has one, the partition job everywhere ------------

describe('retention of window revisions', () => {
  const retentionDb = uniqueName('retention', '_');
  const gatewayOf = migratedOnEveryEngine(retentionDb);
  const retention = (e: Engine, days: number, mode: RetentionMode, now = Date.now()) =>
    new ClickHouseRetention(gatewayOf(e), { days, mode, intervalMs: 60_000, logger: pino({ level: 'silent' }), registry: new Registry(), now: () => now });
  const row = (windowStart: string, batch: string) => ({
    customer_id: 'cus-retention',
    window_start: windowStart,
    revision: 1,
    total_requests: 1,
    path_keys: ['GET /'],
    path_counts: [1],
    ua_keys: ['curl'],
    ua_counts: [1],
    batch_ids: [batch],
    written_at: '2026-01-01 00:00:00',
  });
  const windowsLeft = (e: Engine, view = 'minute_aggregates') =>
    gatewayOf(e)
      .query<{ w: string }>(`SELECT toString(window_start) AS w FROM ${retentionDb}.${view} ORDER BY w`)
      .then((rows) => rows.map((r) => r.w));
  const createStatement = (e: Engine, table = 'window_revisions') => gatewayOf(e).query<{ statement: string }>(`SHOW CREATE TABLE ${retentionDb}.${table}`).then(([r]) => r.statement);


  it('a table TTL is a syntax error on 18.16 and is taken by current ClickHouse', async () => {
    const outcome = await onBoth((e) =>
      gatewayOf(e)
        .command(`CREATE TABLE ${retentionDb}.ttl_probe (w DateTime('UTC')) ENGINE = MergeTree PARTITION BY toYYYYMM(w) ORDER BY w TTL w + INTERVAL 1 DAY`)
        .then(() => 'created', (err: ClickHouseError) => err.code),
    );
    expect(Object.fromEntries(engines.map((e) => [e.line, outcome[e.label]]))).toEqual({ '18.16': 'syntax_error', [engines[1].line]: 'created' });
  });

  it('chooses the mechanism by version: the partition job on 18.16, the TTL on current ClickHouse; a forced TTL fails on 18.16', async () => {
    const mechanisms = await onBoth(async (e) => {
      const r = retention(e, 0, 'auto');
      await r.prepare();
      return r.mechanism;
    });
    expect(Object.fromEntries(engines.map((e) => [e.line, mechanisms[e.label]]))).toEqual({ '18.16': 'partitions', [engines[1].line]: 'ttl' });
    const forced = await onBoth((e) => retention(e, 30, 'ttl').prepare().then(() => 'ttl set', (err: Error) => err.message));
    expect(forced[engines[0].label]).toMatch(/has no table TTL/);
    expect(forced[engines[1].label]).toBe('ttl set');
    await onBoth((e) => retention(e, 0, 'auto').prepare());
  });

  it('the partition job drops exactly the months whose windows are all past the retention, the same on both', async () => {
    const windows = ['2025-10-31 23:59:00', '2025-11-01 00:00:00', '2025-11-30 23:59:00', '2025-12-01 00:00:00', '2025-12-20 10:00:00', '2026-01-14 12:00:00'];
    await onBoth(async (e) => {
      await gatewayOf(e).insert('window_revisions', windows.map((w, i) => row(w, `b${i}`)));
      await new ClickHouseWindowStore(gatewayOf(e)).refreshRollups(windows.map((w) => ({ customerId: 'cus-retention', windowStart: `${w.slice(0, 10)}T${w.slice(11, 16)}Z` })));
    });
    // Now 2026-01-15, 30 days: windows before 2025-12-15 are closed (the door's horizon less the
    // delivery day); November ended 2025-12-01, 14 days before, past the grace day; December still
    // holds open windows.
    const now = Date.parse('2026-01-15T00:00:00Z');
    const dropped = await onBoth((e) => retention(e, 30, 'partitions', now).dropExpired());
    expectOnBoth(dropped, [202510, 202511]);
    expectOnBoth(await onBoth(windowsLeft), ['2025-12-01 00:00:00', '2025-12-20 10:00:00', '2026-01-14 12:00:00']);
    // The rollups of those months went with them.
    expectOnBoth(await onBoth((e) => windowsLeft(e, 'hourly_aggregates')), ['2025-12-01 00:00:00', '2025-12-20 10:00:00', '2026-01-14 12:00:00']);
    expectOnBoth(await onBoth((e) => windowsLeft(e, 'daily_aggregates')), ['2025-12-01 00:00:00', '2025-12-20 00:00:00', '2026-01-14 00:00:00']);
    expectOnBoth(await onBoth((e) => retention(e, 30, 'partitions', now).dropExpired()), []);
    // At 0 days nothing is ever dropped.
    expectOnBoth(await onBoth((e) => retention(e, 0, 'partitions', Date.parse('2100-01-01T00:00:00Z')).dropExpired()), []);
    expectOnBoth(await onBoth(windowsLeft), ['2025-12-01 00:00:00', '2025-12-20 10:00:00', '2026-01-14 12:00:00']);
  });

  it('current ClickHouse: the TTL is set once, removes the months the job would, and goes at 0 days', async () => {
    const current = engines[1];
    const recent = new Date(Date.now() - 86_400_000).toISOString().slice(0, 16).replace('T', ' ') + ':00';
    await gatewayOf(current).insert('window_revisions', [row('2020-03-10 00:00:00', 'ancient'), row(recent, 'recent')]);
    await retention(current, 30, 'auto').prepare();
    const statement = await createStatement(current);
    expect(statement).toMatch(/TTL .*toIntervalDay\(32\)/);
    for (const table of ['hourly_rollup', 'daily_rollup']) expect(await createStatement(current, table)).toMatch(/TTL .*toIntervalDay\(32\)/);
    await retention(current, 30, 'auto').prepare();
    expect(await createStatement(current)).toBe(statement);
    const before = await windowsLeft(current);
    // A TTL merge removes expired rows; OPTIMIZE ... FINAL forces one now.
    await gatewayOf(current).command(`OPTIMIZE TABLE ${retentionDb}.window_revisions FINAL`);
    const left = await windowsLeft(current);
    expect(left).toContain(recent);
    expect(left).not.toContain('2020-03-10 00:00:00');
    // The same rule as the partition job: exactly the windows of months it would keep remain.
    const keptByJob = before.filter((w) => expiredPartitions([monthPartition(Date.parse(`${w.replace(' ', 'T')}Z`))], Date.now(), 30).length === 0);
    expect(left).toEqual(keptByJob);
    await retention(current, 0, 'auto').prepare();
    for (const table of ['window_revisions', 'hourly_rollup', 'daily_rollup']) expect(await createStatement(current, table)).not.toMatch(/\bTTL\b/);
  });
});
