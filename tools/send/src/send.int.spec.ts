import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppProcess, freePort, metricValue, MinuteRow, Pipeline, runTool, scrape, sleep, startApp, startPipeline, waitFor } from '@pipeline/testing';

// The send tool against the real services (processes) on the real Kafka, MinIO and ClickHouse:
// what ends up in minute_aggregates is counted here from the input, independently of the tool.

const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0';
const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
const UAS: [string, string][] = [
  [CHROME, 'Chrome'],
  [FIREFOX, 'Firefox'],
  [GOOGLEBOT, 'Googlebot'],
  ['curl/8.5.0', 'curl'],
];

type Expected = Record<string, MinuteRow>;

function count(expected: Expected, minute: string, path: string, family: string): void {
  const row = (expected[minute] ??= { windowStart: minute, total: 0, paths: {}, uas: {} });
  row.total++;
  row.paths[path] = (row.paths[path] ?? 0) + 1;
  row.uas[family] = (row.uas[family] ?? 0) + 1;
}

/**
 * NDJSON of `n` valid entries over five minutes of 2025-12-28 (18:00..18:04) and one of 1999 (a
 * backfill), with invalid lines at fixed line numbers and a blank line, large enough for several
 * batches; and what the pipeline must count from it.
 */
function bigNdjson(n: number): { text: string; expected: Expected; bad: Record<number, RegExp>; valid: number } {
  const lines: string[] = [];
  const expected: Expected = {};
  for (let i = 0; i < n; i++) {
    const minute = i % 97 === 0 ? '1999-06-01T12:34' : `2025-12-28T18:0${i % 5}`;
    const [ua, family] = UAS[i % UAS.length];
    const path = `/api/items/${i % 13}`;
    lines.push(JSON.stringify({ receivedAt: `${minute}:${String(i % 60).padStart(2, '0')}.${String(i % 1000).padStart(3, '0')}Z`, method: i % 2 ? 'get' : 'GET', path: `${path}?page=${i}`, userAgent: ua, status: 200 }));
    count(expected, `${minute}Z`, `GET ${path}`, family);
  }
  // Inserted in line order, so each lands on its line number.
  const inserted: [number, string, RegExp | null][] = [
    [3, '{"receivedAt":"2025-12-28T18:03:07","method":"GET","path":"/no-offset","userAgent":""}', /receivedAt must be an RFC 3339 timestamp/],
    [10, 'this is not JSON', /not JSON/],
    [11, '', null],
    [500, '{"receivedAt":"2025-12-28T18:03:07Z","method":"GET","path":"/\\ud800","userAgent":"curl/8.5.0"}', /path must be well-formed Unicode/],
    [20_000, '{"receivedAt":"1969-12-31T23:59:59Z","method":"GET","path":"/too-old","userAgent":"curl/8.5.0"}', /receivedAt must lie between/],
  ];
  const bad: Record<number, RegExp> = {};
  for (const [line, text, reason] of inserted) {
    lines.splice(line - 1, 0, text);
    if (reason) bad[line] = reason;
  }
  return { text: lines.join('\n') + '\n', expected, bad, valid: n };
}

const ARRAY = `[
  {"receivedAt": "2025-12-28T19:03:07+01:00", "method": "post", "path": "/login#x", "userAgent": "${FIREFOX}"},
  {"receivedAt": "2025-12-28T18:03:59.999Z", "method": "GET", "path": "/", "userAgent": ""},
  {"receivedAt": "2025-12-28T18:04:00Z", "method": "G ET", "path": "/bad-method", "userAgent": ""},
  {"receivedAt": "1970-01-01T00:00:00Z", "method": "GET", "path": "/epoch", "userAgent": "curl/8.5.0"}
]`;
const ARRAY_EXPECTED: Expected = {
  '2025-12-28T18:03Z': { windowStart: '2025-12-28T18:03Z', total: 2, paths: { 'POST /login': 1, 'GET /': 1 }, uas: { Firefox: 1, Other: 1 } },
  '1970-01-01T00:00Z': { windowStart: '1970-01-01T00:00Z', total: 1, paths: { 'GET /epoch': 1 }, uas: { curl: 1 } },
};

const COMBINED = [
  `203.0.113.9 - - [28/Dec/2025:10:03:07 -0800] "GET /index.html?utm=1 HTTP/1.1" 200 512 "-" "${CHROME}"`,
  `203.0.113.9 - frank [28/Dec/2025:18:03:59 +0000] "HEAD /health HTTP/1.0" 200 0 "https://example.com/" "-"`,
  `198.51.100.7 - - [28/Dec/2025:18:04:01 +0000] "\\x16\\x03\\x01\\x00\\xa5" 400 157 "-" "-"`,
  `198.51.100.7 - - [28/Dec/2025:18:04:02 +0000] "GET http://proxy.example/a/b HTTP/1.1" 200 1 "-" "${GOOGLEBOT}" "10.0.0.1" rt=0.001`,
  'a truncated line [28/Dec/2025:18:04',
  `198.51.100.7 - - [28/Dec/2025:18:04:03 +0000] "DELETE /a/b/ HTTP/2.0" 204 0 "-" "curl/8.5.0"`,
].join('\n');
const COMBINED_EXPECTED: Expected = {
  '2025-12-28T18:03Z': { windowStart: '2025-12-28T18:03Z', total: 2, paths: { 'GET /index.html': 1, 'HEAD /health': 1 }, uas: { Chrome: 1, Other: 1 } },
  '2025-12-28T18:04Z': { windowStart: '2025-12-28T18:04Z', total: 2, paths: { 'GET /a/b': 1, 'DELETE /a/b/': 1 }, uas: { Googlebot: 1, curl: 1 } },
};

/** Waits until the customer's minutes are exactly `expected`, then checks they stay so (nothing counted twice late). */
async function expectExactly(pipeline: Pipeline, customer: string, expected: Expected): Promise<void> {
  let last: Record<string, MinuteRow> = {};
  await waitFor(
    `minute_aggregates of ${customer} to be exact`,
    async () => {
      last = await pipeline.minutes(customer);
      return JSON.stringify(sorted(last)) === JSON.stringify(sorted(expected));
    },
    90_000,
    500,
  ).catch(() => {
    throw new Error(`${customer}: expected ${JSON.stringify(sorted(expected))}\n got ${JSON.stringify(sorted(last))}`);
  });
  await sleep(2_000);
  expect(sorted(await pipeline.minutes(customer))).toEqual(sorted(expected));
}

const sortKeys = (m: Record<string, number>) => Object.fromEntries(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : 1)));
const sorted = (rows: Record<string, MinuteRow>) =>
  Object.values(rows)
    .map((r) => ({ ...r, paths: sortKeys(r.paths), uas: sortKeys(r.uas) }))
    .sort((a, b) => (a.windowStart < b.windowStart ? -1 : 1));

describe('send (the operator tool) through the real pipeline', () => {
  let pipeline: Pipeline;
  let dir: string;
  let big: ReturnType<typeof bigNdjson>;
  const extra: AppProcess[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'send-it-'));
    big = bigNdjson(30_000);
    writeFileSync(join(dir, 'big.ndjson'), big.text);
    writeFileSync(join(dir, 'access.log'), COMBINED);
    pipeline = await startPipeline('send');
  }, 240_000);

  afterAll(async () => {
    await Promise.allSettled(extra.map((a) => a.stop()));
    await pipeline?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  const sendArgs = (customer: string, ...rest: string[]) => ['--customer', customer, '--url', pipeline.apps['batch-ingestion'].url, ...rest];
  const tokenEnv = () => ({ GATEWAY_TOKEN: pipeline.env.GATEWAY_TOKEN });

  it('counts every valid line of NDJSON, a JSON array and a combined log exactly once, and a second run changes nothing', async () => {
    const ndjson = await runTool('send', sendArgs('cus-ndjson', '--file', join(dir, 'big.ndjson'), '--progress-interval', '1'), { env: tokenEnv() });
    expect(ndjson.code).toBe(0);
    const batches = Number(/batches: (\d+) sent, 0 duplicates/.exec(ndjson.stdout)?.[1]);
    expect(batches).toBeGreaterThanOrEqual(2); // more than 2 MiB: cut into several batches
    expect(ndjson.stdout).toContain(`entries: ${big.valid} sent, 0 in duplicates, 0 in failed batches`);
    expect(ndjson.stdout).toContain(`rejected lines: ${Object.keys(big.bad).length} (not sent)`);
    for (const [line, reason] of Object.entries(big.bad)) expect(ndjson.stdout).toMatch(new RegExp(`line ${line}: ${reason.source}`));
    // Not a terminal: plain progress lines on stderr (the last one with the final count), no control characters.
    expect(ndjson.stderr).toMatch(/^progress: [\d.]+ MiB of [\d.]+ MiB read, \d+ batches answered/m);
    expect(ndjson.stderr.trim().split('\n').pop()).toMatch(new RegExp(`^progress: [\\d.]+ MiB of [\\d.]+ MiB read, ${batches} batches answered \\(${big.valid} entries\\), 0 duplicates, 0 failed, 4 rejected lines$`));
    expect(ndjson.stderr).not.toContain('\u001b[');

    const array = await runTool('send', sendArgs('cus-array'), { env: tokenEnv(), input: ARRAY });
    expect(array.code).toBe(0);
    expect(array.stdout).toContain('entries: 3 sent');
    expect(array.stdout).toMatch(/line 4: method must be an HTTP method token/);

    const combined = await runTool('send', sendArgs('cus-combined', '--file', join(dir, 'access.log'), '--token', pipeline.env.GATEWAY_TOKEN));
    expect(combined.code).toBe(0);
    expect(combined.stdout).toContain('entries: 4 sent');
    expect(combined.stdout).toMatch(/line 3: request line .* is not METHOD target HTTP\/version/);
    expect(combined.stdout).toMatch(/line 5: not a combined access-log line/);

    await expectExactly(pipeline, 'cus-ndjson', big.expected);
    await expectExactly(pipeline, 'cus-array', ARRAY_EXPECTED);
    await expectExactly(pipeline, 'cus-combined', COMBINED_EXPECTED);
    const ingestion = await scrape(pipeline.apps['batch-ingestion'].opsUrl);
    const accepted = metricValue(ingestion, 'ingestion_batches_total', { outcome: 'accepted' });
    expect(accepted).toBe(batches + 2);

    // The same commands again: every batch is already there, nothing is counted twice.
    const again = await runTool('send', sendArgs('cus-ndjson', '--file', join(dir, 'big.ndjson')), { env: tokenEnv() });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`batches: 0 sent, ${batches} duplicates (already sent), 0 failed`);
    expect(again.stdout).toContain(`entries: 0 sent, ${big.valid} in duplicates`);
    const arrayAgain = await runTool('send', sendArgs('cus-array', '--file', '-'), { env: tokenEnv(), input: ARRAY });
    expect([arrayAgain.code, /batches: 0 sent, 1 duplicates/.test(arrayAgain.stdout)]).toEqual([0, true]);
    const combinedAgain = await runTool('send', sendArgs('cus-combined', '--file', join(dir, 'access.log'), '--format', 'combined'), { env: tokenEnv() });
    expect([combinedAgain.code, /batches: 0 sent, 1 duplicates/.test(combinedAgain.stdout)]).toEqual([0, true]);

    await expectExactly(pipeline, 'cus-ndjson', big.expected);
    await expectExactly(pipeline, 'cus-array', ARRAY_EXPECTED);
    await expectExactly(pipeline, 'cus-combined', COMBINED_EXPECTED);
    const after = await scrape(pipeline.apps['batch-ingestion'].opsUrl);
    expect(metricValue(after, 'ingestion_batches_total', { outcome: 'accepted' })).toBe(accepted);
    expect(metricValue(after, 'ingestion_batches_total', { outcome: 'duplicate' })).toBe(batches + 2);
  }, 300_000);

  it('waits out 429 answers (Retry-After) of a rate-limited ingestion and still counts everything once', async () => {
    const limited = await pipeline.startIngestion({ RATE_LIMIT_PER_CUSTOMER: '1', RATE_LIMIT_PER_CUSTOMER_BURST: '1' });
    extra.push(limited);
    const run = await runTool('send', ['--customer', 'cus-limited', '--url', limited.url, '--file', join(dir, 'big.ndjson'), '--concurrency', '3'], { env: tokenEnv() });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`entries: ${big.valid} sent, 0 in duplicates, 0 in failed batches`);
    const retries = Number(/retries: (\d+)/.exec(run.stdout)?.[1] ?? 0);
    expect(retries).toBeGreaterThanOrEqual(1);
    const metrics = await scrape(limited.opsUrl);
    expect(metricValue(metrics, 'ingestion_batches_total', { outcome: 'rate_limited' })).toBe(retries);
    await expectExactly(pipeline, 'cus-limited', big.expected);
  }, 300_000);

  it('retries while the ingestion is not reachable yet, and delivers once it is', async () => {
    const port = await freePort();
    const running = runTool('send', ['--customer', 'cus-late', '--url', `http://127.0.0.1:${port}`, '--file', join(dir, 'access.log'), '--max-attempts', '12', '--max-retry-delay', '2'], { env: tokenEnv() });
    await sleep(1_500);
    extra.push(await startApp('batch-ingestion', { ...pipeline.env, PORT: String(port) }, { timeoutMs: 90_000 }));
    const run = await running;
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('entries: 4 sent');
    expect(Number(/retries: (\d+)/.exec(run.stdout)?.[1] ?? 0)).toBeGreaterThanOrEqual(1);
    await expectExactly(pipeline, 'cus-late', COMBINED_EXPECTED);
  }, 300_000);

  it('exits non-zero when a batch is refused or cannot be delivered, and says which', async () => {
    const refused = await runTool('send', sendArgs('cus-refused', '--file', join(dir, 'access.log')), { env: { GATEWAY_TOKEN: 'not-a-token' } });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/failed batch send1-1-6-[0-9a-f]{32} \(lines 1-6, 4 entries\): 401 unauthorized/);
    const port = await freePort();
    const nobody = await runTool('send', ['--customer', 'cus-x', '--url', `http://127.0.0.1:${port}`, '--file', join(dir, 'access.log'), '--max-attempts', '2', '--max-retry-delay', '1'], { env: tokenEnv() });
    expect(nobody.code).toBe(1);
    expect(nobody.stdout).toMatch(/gave up after 2 attempts: no answer from http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
    const usage = await runTool('send', ['--customer', 'not a customer', '--file', join(dir, 'access.log')], { env: tokenEnv() });
    expect(usage.code).toBe(2);
    expect(await pipeline.minutes('cus-refused')).toEqual({});
  }, 120_000);
});
