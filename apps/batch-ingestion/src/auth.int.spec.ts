import { gatewayTokenHash } from '@pipeline/batch';
import { AppProcess, sleep, startApp, TopicReader, freePort, deleteTopics, waitFor } from '@pipeline/testing';
import { Kafka } from 'kafkajs';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appEnv, dropBucket, entry, IT_GATEWAY_TOKEN, itKafka, itNames, listKeys, postLogs } from './it-support';

jest.setTimeout(180_000);

const body = (...entries: unknown[]) => Buffer.from(JSON.stringify(entries));
const TOKEN_A = 'gateway-a-0123456789abcdefghij';
const TOKEN_B = 'gateway-b-0123456789abcdefghij';
const SCOPED = 'gateway-scoped-0123456789abcdef';
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/**
 * Only authenticated gateways get in, against the real service with its real dependencies:
 * refusals before anything is stored, scopes, rate limits, the operational endpoints on a port of
 * their own, rotation of a token without one failed request, and no secret in the logs.
 */
describe('batch-ingestion gateway authentication', () => {
  const names = itNames('ingest-auth');
  const dir = mkdtempSync(join(tmpdir(), 'gateway-tokens-'));
  const tokensFile = join(dir, 'tokens');
  let app: AppProcess;
  let opsPort: number;
  let kafka: Kafka;
  let reader: TopicReader;

  beforeAll(async () => {
    writeFileSync(tokensFile, `# the gateways of the test\nedge-a=${gatewayTokenHash(TOKEN_A)}@*\n`);
    opsPort = await freePort();
    app = await startApp(
      'batch-ingestion',
      appEnv(names, {
        GATEWAY_TOKEN: '',
        GATEWAY_TOKENS: `scoped=${gatewayTokenHash(SCOPED)}@cus-one|cus-two`,
        GATEWAY_TOKENS_FILE: tokensFile,
        GATEWAY_TOKENS_RELOAD_MS: '200',
        OPS_PORT: String(opsPort),
      }),
    );
    kafka = itKafka();
    reader = await TopicReader.start(kafka, names.topic);
  });

  afterAll(async () => {
    await app?.stop();
    await reader?.stop();
    await deleteTopics(kafka, [names.topic]);
    await dropBucket(names.bucket);
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['no credential', undefined],
    ['another scheme', `Basic ${Buffer.from(`edge:${TOKEN_A}`).toString('base64')}`],
    ['an unknown token', 'Bearer gateway-x-0123456789abcdefghij'],
  ])('answers 401 to %s, and stores and announces nothing', async (_label, authorization) => {
    const res = await postLogs(app.url, body(entry()), { authorization, 'x-customer-id': 'cus-intruder', 'idempotency-key': 'k' });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    await sleep(300);
    expect((await listKeys(names.bucket).catch(() => [])).filter((k) => k.includes('cus-intruder'))).toEqual([]);
    expect(reader.messages.filter((m) => m.key.startsWith('cus-intruder'))).toEqual([]);
  });

  it('answers 403 to a token outside its customers, and accepts it inside', async () => {
    const outside = await postLogs(app.url, body(entry()), { ...bearer(SCOPED), 'x-customer-id': 'cus-three' });
    expect(outside.status).toBe(403);
    expect(outside.body.error.code).toBe('forbidden_customer');
    expect((await postLogs(app.url, body(entry()), { ...bearer(SCOPED), 'x-customer-id': 'cus-two' })).status).toBe(202);
  });

  it('serves /metrics and /health only on the operations port', async () => {
    expect((await fetch(`http://127.0.0.1:${opsPort}/metrics`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${opsPort}/health/ready`)).status).toBe(200);
    expect((await fetch(`${app.url}/metrics`)).status).toBe(404);
    expect((await fetch(`${app.url}/health/live`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${opsPort}/logs`, { method: 'POST' })).status).toBe(404);
  });

  it('serves everything on its main port when OPS_PORT is PORT', async () => {
    const port = await freePort();
    const single = await startApp('batch-ingestion', appEnv(names, { PORT: String(port), OPS_PORT: String(port) }));
    try {
      expect(single.opsUrl).toBe(single.url);
      expect((await fetch(`${single.url}/metrics`)).status).toBe(200);
      expect((await fetch(`${single.url}/health/ready`)).status).toBe(200);
      expect((await postLogs(single.url, body(entry()), { ...bearer(IT_GATEWAY_TOKEN), 'x-customer-id': 'cus-single' })).status).toBe(202);
    } finally {
      await single.stop();
    }
  });

  it('rotates a token through the tokens file without one failed request', async () => {
    let current = TOKEN_A;
    let sending = true;
    const answers: number[] = [];
    const loop = (async () => {
      for (let i = 0; sending; i++) {
        answers.push((await postLogs(app.url, body(entry({ path: `/r/${i}` })), { ...bearer(current), 'x-customer-id': 'cus-rotate', 'idempotency-key': `rot-${i}` })).status);
        await sleep(20);
      }
    })();
    await sleep(500);
    // 1. the new token joins the old one; 2. once it is taken (as an operator checks), the gateways
    // move to it; 3. the old one goes. Checked by a probe rather than a fixed wait: how soon the
    // file is read again depends on how busy the machine is.
    let probes = 0;
    const answersTo = async (token: string) => (await postLogs(app.url, body(entry()), { ...bearer(token), 'x-customer-id': 'cus-rotate', 'idempotency-key': `probe-${probes++}` })).status;
    writeFileSync(tokensFile, `edge-a=${gatewayTokenHash(TOKEN_A)}@*\nedge-b=${gatewayTokenHash(TOKEN_B)}@*\n`);
    await waitFor('the new token to be taken', async () => (await answersTo(TOKEN_B)) === 202, 30_000, 100);
    current = TOKEN_B;
    await sleep(500);
    writeFileSync(tokensFile, `edge-b=${gatewayTokenHash(TOKEN_B)}@*\n`);
    await waitFor('the old token to be refused', async () => (await answersTo(TOKEN_A)) === 401, 30_000, 100);
    await sleep(300);
    sending = false;
    await loop;
    expect(answers.length).toBeGreaterThan(20);
    expect(answers.filter((s) => s !== 202)).toEqual([]);
    expect((await postLogs(app.url, body(entry()), { ...bearer(TOKEN_A), 'x-customer-id': 'cus-rotate', 'idempotency-key': 'after-a' })).status).toBe(401);
    expect((await postLogs(app.url, body(entry()), { ...bearer(TOKEN_B), 'x-customer-id': 'cus-rotate', 'idempotency-key': 'after-b' })).status).toBe(202);

    // A file that no longer parses leaves the tokens in force.
    writeFileSync(tokensFile, 'edge-b=not-a-hash\n');
    await sleep(800);
    expect((await postLogs(app.url, body(entry()), { ...bearer(TOKEN_B), 'x-customer-id': 'cus-rotate', 'idempotency-key': 'after-bad-file' })).status).toBe(202);
  });

  it('writes no secret into its log', async () => {
    const log = readFileSync(app.logFile, 'utf8');
    expect(log).toContain('gateway tokens reloaded');
    for (const secret of [TOKEN_A, TOKEN_B, SCOPED, process.env.S3_SECRET_ACCESS_KEY ?? 'unset-secret']) expect(log.includes(secret)).toBe(false);
  });
});

describe('batch-ingestion rate limits', () => {
  const names = itNames('ingest-limit');
  let app: AppProcess;

  beforeAll(async () => {
    app = await startApp('batch-ingestion', appEnv(names, { RATE_LIMIT_PER_CUSTOMER: '5', RATE_LIMIT_PER_CUSTOMER_BURST: '5' }));
  });

  afterAll(async () => {
    await app?.stop();
    await deleteTopics(itKafka(), [names.topic]);
    await dropBucket(names.bucket);
  });

  it('answers 429 with Retry-After beyond a customer\'s rate, while another customer goes on', async () => {
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => postLogs(app.url, body(entry()), { 'x-customer-id': 'cus-busy', 'idempotency-key': `busy-${i}` })));
    const limited = answers.filter((a) => a.status === 429);
    expect(limited.length).toBeGreaterThanOrEqual(5);
    expect(answers.filter((a) => a.status === 202).length).toBeGreaterThanOrEqual(5);
    for (const a of limited) {
      expect(Number(a.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(a.body.error.code).toBe('rate_limited');
    }
    expect((await postLogs(app.url, body(entry()), { 'x-customer-id': 'cus-calm' })).status).toBe(202);
    // Nothing of a refused request was stored.
    expect((await listKeys(names.bucket)).filter((k) => k.includes('cus-busy')).length).toBe(answers.filter((a) => a.status === 202).length);
  });
});
