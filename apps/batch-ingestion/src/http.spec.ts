import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import pino from 'pino';
import { Registry } from 'prom-client';
import {
  Admission,
  BatchEventPublisher,
  GatewayAuthenticator,
  gatewayTokenFromSecret,
  gatewayTokenHash,
  MAX_BATCH_BYTES,
  parseGatewayTokens,
  RawBatchStore,
} from '@pipeline/batch';
import { parseBatchIngestedEvent } from '@pipeline/contract';
import { ReadinessCheck, serviceModule } from '@pipeline/platform';
import { MeasuredPublisher, MeasuredStore } from './dependencies';
import { IngestionHandler } from './handler';
import { configureHttp, INGESTION_HANDLER, LogsController } from './http';
import { IngestionMetrics } from './metrics';

/** In-memory S3: create-only writes, metadata, and switchable failures. */
class FakeStore implements RawBatchStore {
  readonly objects = new Map<string, { body: Buffer; metadata: Record<string, string> }>();
  calls = 0;
  mode: 'up' | 'down' | 'hang' = 'up';
  async putIfAbsent(key: string, body: Buffer, metadata: Record<string, string>) {
    await this.gate();
    if (this.objects.has(key)) return { status: 'exists' as const };
    this.objects.set(key, { body: Buffer.from(body), metadata });
    return { status: 'created' as const };
  }
  async head(key: string) {
    await this.gate();
    return this.objects.get(key)?.metadata ?? null;
  }
  private gate(): Promise<void> {
    this.calls++;
    if (this.mode === 'down') return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:9000'));
    if (this.mode === 'hang') return new Promise(() => undefined);
    return Promise.resolve();
  }
}

class FakePublisher implements BatchEventPublisher {
  readonly sent: { topic: string; key: string; value: string }[] = [];
  mode: 'up' | 'down' | 'hang' = 'up';
  async publish(topic: string, messages: { key: string; value: string }[]) {
    if (this.mode === 'down') throw new Error('KafkaJSConnectionError: Connection refused');
    if (this.mode === 'hang') return new Promise<void>(() => undefined);
    for (const m of messages) this.sent.push({ topic, ...m });
  }
}

const entry = (over: Record<string, unknown> = {}) => ({ receivedAt: '2025-12-28T18:03:07.123Z', method: 'GET', path: '/', userAgent: 'curl/8.5.0', ...over });
const json = (v: unknown) => Buffer.from(JSON.stringify(v));
/** A valid batch of exactly `size` bytes (whitespace padding inside the array). */
function batchOfSize(size: number): Buffer {
  const text = JSON.stringify([entry(), entry()]);
  return Buffer.from(text.slice(0, -1) + ' '.repeat(size - text.length) + ']');
}
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const TOKEN = 'edge-token-0123456789abcdef';
const SCOPED = 'scoped-token-0123456789abcdef';
const ROTATED = 'rotated-token-0123456789abcdef';
/** The rate-limit tests run with a small per-customer budget; every other test with a large one. */
const limitFor = (test: string) => (/rate limit/.test(test) ? 3 : 1_000_000);
/** Likewise the byte-limit tests with 10,000 bytes a second. */
const bytesFor = (test: string) => (/byte limit/.test(test) ? 10_000 : 1e12);

describe('POST /logs over HTTP (in-memory S3 and Kafka)', () => {
  let app: NestFastifyApplication;
  let store: FakeStore;
  let publisher: FakePublisher;
  let registry: Registry;
  let provisioned: boolean;
  let draining: boolean;
  let checks: ReadinessCheck[];

  let clock: number;
  let limitPerCustomer: number;

  beforeEach(async () => {
    clock = 0;
    limitPerCustomer = limitFor(expect.getState().currentTestName ?? '');
    store = new FakeStore();
    publisher = new FakePublisher();
    registry = new Registry();
    provisioned = true;
    draining = false;
    const metrics = new IngestionMetrics(registry);
    const logger = pino({ level: 'silent' });
    checks = [{ name: 's3', check: async () => (store.mode === 'up' ? undefined : Promise.reject(new Error('down'))) }];
    const handler = new IngestionHandler({
      auth: new GatewayAuthenticator([
        gatewayTokenFromSecret('edge', TOKEN, '*'),
        ...parseGatewayTokens(`scoped=${gatewayTokenHash(SCOPED)}@cus-axon|cus-beta rotated=${gatewayTokenHash(ROTATED)}@*`),
      ]),
      admission: new Admission(
        {
          customer: {
            requests: { perSecond: limitPerCustomer, burst: limitPerCustomer },
            bytes: { perSecond: bytesFor(expect.getState().currentTestName ?? ''), burst: bytesFor(expect.getState().currentTestName ?? '') },
            bytesInFlight: 64 * 1024 * 1024,
          },
          token: { perSecond: 1_000, burst: 1_000 },
          maxBytesInFlight: 64 * 1024 * 1024,
          busyRetryAfterSeconds: 2,
        },
        () => clock,
      ),
      store: new MeasuredStore(store, metrics, 200),
      publisher: new MeasuredPublisher(publisher, metrics, 200),
      topic: 'batch-ingested',
      metrics,
      logger,
      isProvisioned: () => provisioned,
      bodyTimeoutMs: 1_000,
      now: () => '2026-01-01T00:00:00.000Z',
    });
    const module = serviceModule('batch-ingestion', { registry, checks, http: { controllers: [LogsController], providers: [{ provide: INGESTION_HANDLER, useValue: handler }] } });
    app = await NestFactory.create<NestFastifyApplication>(module, new FastifyAdapter(), { logger: false, bodyParser: false });
    configureHttp(app, { metrics, logger, isDraining: () => draining, bodyTimeoutMs: 1_000 });
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });

  afterEach(() => app.close());

  /** POST /logs as an authenticated gateway; a header given as undefined is left out. */
  const post = (payload: Buffer | Readable | string | undefined, headers: Record<string, string | undefined> = {}) =>
    app.inject({
      method: 'POST',
      url: '/logs',
      headers: Object.fromEntries(
        Object.entries({ 'content-type': 'application/json', 'x-customer-id': 'cus-axon', authorization: `Bearer ${TOKEN}`, ...headers }).filter(([, v]) => v !== undefined),
      ) as Record<string, string>,
      payload,
    });

  describe('gateway authentication', () => {
    it.each([
      ['no Authorization header', undefined],
      ['an empty one', ''],
      ['another scheme', `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`],
      ['an unknown token', 'Bearer not-a-known-token-at-all'],
      ['a token with a stray character', `Bearer ${TOKEN}x`],
    ])('answers 401 to %s, before reading the body, storing or publishing nothing', async (_label, authorization) => {
      const res = await post(json([entry()]), { authorization, 'idempotency-key': 'k' });
      expect(res.statusCode).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="log-analytics"');
      expect(res.json()).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
      expect(res.body).not.toContain(TOKEN);
      expect(store.calls).toBe(0);
      expect(publisher.sent).toEqual([]);
    });

    it('answers 401 before even the customer header is looked at', async () => {
      const res = await post(json([entry()]), { authorization: 'Bearer nope-nope-nope-nope', 'x-customer-id': '../../etc' });
      expect(res.statusCode).toBe(401);
    });

    it('accepts every active token: two at once is how one is rotated', async () => {
      expect((await post(json([entry()]), { 'idempotency-key': 'a' })).statusCode).toBe(202);
      expect((await post(json([entry()]), { authorization: `Bearer ${ROTATED}`, 'idempotency-key': 'b' })).statusCode).toBe(202);
      expect((await post(json([entry()]), { authorization: `bearer   ${ROTATED}`, 'idempotency-key': 'c' })).statusCode).toBe(202);
    });

    it('answers 403 to a token used for a customer outside its scope, and accepts it inside', async () => {
      const outside = await post(json([entry()]), { authorization: `Bearer ${SCOPED}`, 'x-customer-id': 'cus-gamma' });
      expect(outside.statusCode).toBe(403);
      expect(outside.json().error.code).toBe('forbidden_customer');
      expect(store.calls).toBe(0);
      expect((await post(json([entry()]), { authorization: `Bearer ${SCOPED}`, 'x-customer-id': 'cus-beta' })).statusCode).toBe(202);
    });

    it('answers 429 with Retry-After beyond a customer\'s rate limit, and accepts again once it refilled', async () => {
      for (let i = 0; i < 3; i++) expect((await post(json([entry()]), { 'idempotency-key': `r${i}` })).statusCode).toBe(202);
      const limited = await post(json([entry()]), { 'idempotency-key': 'r3' });
      expect(limited.statusCode).toBe(429);
      expect(limited.headers['retry-after']).toBe('1');
      expect(limited.json().error.code).toBe('rate_limited');
      // Another customer has its own budget.
      expect((await post(json([entry()]), { 'x-customer-id': 'cus-other', 'idempotency-key': 'r3' })).statusCode).toBe(202);
      clock += 1_000;
      expect((await post(json([entry()]), { 'idempotency-key': 'r3' })).statusCode).toBe(202);
    });

    it('charges a customer\'s byte limit by the decompressed body: a small gzip body that inflates is paid in full, and the next waits', async () => {
      const entries = Array.from({ length: 150 }, (_, i) => entry({ path: `/same/path/${i % 3}` }));
      const inflated = json(entries);
      expect(inflated.length).toBeGreaterThan(10_000);
      const zipped = gzipSync(inflated);
      expect(zipped.length).toBeLessThan(2_000);
      // Admitted on its small declared size; charged what it inflated to.
      expect((await post(zipped, { 'content-encoding': 'gzip', 'idempotency-key': 'z1' })).statusCode).toBe(202);
      const limited = await post(zipped, { 'content-encoding': 'gzip', 'idempotency-key': 'z2' });
      expect(limited.statusCode).toBe(429);
      expect(limited.json().error).toMatchObject({ code: 'rate_limited', details: { scope: 'customer', limit: 'bytes' } });
      expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(store.calls).toBe(1);
      expect((await post(zipped, { 'content-encoding': 'gzip', 'idempotency-key': 'z2', 'x-customer-id': 'cus-other' })).statusCode).toBe(202);
      clock += Number(limited.headers['retry-after']) * 1_000;
      expect((await post(zipped, { 'content-encoding': 'gzip', 'idempotency-key': 'z2' })).statusCode).toBe(202);
    });
  });

  describe('accepted batches', () => {
    it('stores the body byte for byte under raw/{customer}/{key}.json, publishes, then answers 202', async () => {
      const body = json([entry(), entry({ method: 'post', path: '/api/users' })]);
      const res = await post(body, { 'idempotency-key': 'batch-1' });
      expect(res.statusCode).toBe(202);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(res.json()).toEqual({ batchId: 'batch-1', entries: 2 });
      const stored = store.objects.get('raw/cus-axon/batch-1.json')!;
      expect(stored.body.equals(body)).toBe(true);
      expect(stored.metadata.sha256).toBe(sha256(body));
      expect(publisher.sent).toHaveLength(1);
      expect(publisher.sent[0]).toMatchObject({ topic: 'batch-ingested', key: 'cus-axon|batch-1' });
      expect(parseBatchIngestedEvent(JSON.parse(publisher.sent[0].value))).toEqual({
        ok: true,
        value: { v: 1, batchId: 'batch-1', customerId: 'cus-axon', objectKey: 'raw/cus-axon/batch-1.json', entries: 2, sha256: sha256(body), ingestedAt: '2026-01-01T00:00:00.000Z' },
      });
    });

    it('derives the batch id from the body when there is no idempotency key', async () => {
      const body = json([entry()]);
      const res = await post(body);
      expect(res.statusCode).toBe(202);
      expect(res.json().batchId).toBe(`sha256-${sha256(body).slice(0, 32)}`);
      expect((await post(body)).json()).toEqual({ batchId: res.json().batchId, status: 'duplicate' });
    });

    it('accepts lower-case methods, unicode paths, offsets, empty user agents and extra fields', async () => {
      const res = await post(
        json([
          entry({ method: 'get', path: '/über/日本/😀?q=ä', receivedAt: '2025-12-28T19:03:07+01:00' }),
          entry({ method: 'Patch', userAgent: '', receivedAt: '2025-12-28T13:03:07.5-05:00', status: 200, latencyMs: 3 }),
        ]),
      );
      expect(res.statusCode).toBe(202);
      expect(res.json().entries).toBe(2);
    });

    it('accepts a charset parameter', async () => {
      expect((await post(json([entry()]), { 'content-type': 'application/json; charset=UTF-8' })).statusCode).toBe(202);
    });
  });

  describe('duplicates and key reuse', () => {
    it('answers 409 for the same body and key, and publishes the batch again', async () => {
      const body = json([entry()]);
      await post(body, { 'idempotency-key': 'k' });
      const res = await post(body, { 'idempotency-key': 'k' });
      expect(res.statusCode).toBe(409);
      expect(res.json()).toEqual({ batchId: 'k', status: 'duplicate' });
      expect(publisher.sent).toHaveLength(2);
      expect(publisher.sent[1]).toEqual(publisher.sent[0]);
    });

    it('answers 422 for the same key with another body and keeps the original', async () => {
      const original = json([entry()]);
      await post(original, { 'idempotency-key': 'k' });
      const res = await post(json([entry(), entry()]), { 'idempotency-key': 'k' });
      expect(res.statusCode).toBe(422);
      expect(res.json().error.code).toBe('idempotency_key_reused');
      expect(store.objects.get('raw/cus-axon/k.json')!.body.equals(original)).toBe(true);
      expect(publisher.sent).toHaveLength(1);
    });

    it('scopes keys per customer', async () => {
      expect((await post(json([entry()]), { 'idempotency-key': 'k', 'x-customer-id': 'cus-a' })).statusCode).toBe(202);
      expect((await post(json([entry(), entry()]), { 'idempotency-key': 'k', 'x-customer-id': 'cus-b' })).statusCode).toBe(202);
      expect([...store.objects.keys()].sort()).toEqual(['raw/cus-a/k.json', 'raw/cus-b/k.json']);
    });
  });

  describe('headers', () => {
    it('answers 401 without x-customer-id', async () => {
      const res = await app.inject({ method: 'POST', url: '/logs', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, payload: json([entry()]) });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({ error: { code: 'missing_customer_id', message: expect.any(String) } });
    });

    it.each(['../x', 'a/b', 'x'.repeat(65), '..'])('answers 400 for the customer id %p without touching S3', async (id) => {
      const res = await post(json([entry()]), { 'x-customer-id': id });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('invalid_customer_id');
      expect(store.calls).toBe(0);
    });

    it.each(['../x', 'a/b', 'x'.repeat(129), '..', '.', 'a b', 'k%2F..'])('answers 400 for the idempotency key %p without touching S3', async (key) => {
      const res = await post(json([entry()]), { 'idempotency-key': key });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('invalid_idempotency_key');
      expect(store.calls).toBe(0);
      expect(publisher.sent).toHaveLength(0);
    });

    it('accepts a 128-character key', async () => {
      expect((await post(json([entry()]), { 'idempotency-key': 'k'.repeat(128) })).statusCode).toBe(202);
    });

    it.each(['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1'])('answers 415 for Content-Type %p', async (ct) => {
      const res = await post(json([entry()]), { 'content-type': ct });
      expect(res.statusCode).toBe(415);
      expect(res.json().error.code).toBe('unsupported_media_type');
    });

    it('answers 415 without a Content-Type', async () => {
      const res = await app.inject({ method: 'POST', url: '/logs', headers: { 'x-customer-id': 'c', authorization: `Bearer ${TOKEN}` }, payload: json([entry()]) });
      expect(res.statusCode).toBe(415);
    });

    it('answers 415 for an unsupported Content-Encoding', async () => {
      const res = await post(json([entry()]), { 'content-encoding': 'br' });
      expect(res.statusCode).toBe(415);
      expect(res.json().error.code).toBe('unsupported_content_encoding');
    });
  });

  describe('body size', () => {
    it('accepts a body of exactly 2 MiB', async () => {
      const body = batchOfSize(MAX_BATCH_BYTES);
      expect(body.byteLength).toBe(2_097_152);
      const res = await post(body);
      expect(res.statusCode).toBe(202);
      expect([...store.objects.values()][0].body.byteLength).toBe(2_097_152);
    });

    it('answers 413 for one byte more', async () => {
      const res = await post(batchOfSize(MAX_BATCH_BYTES + 1));
      expect(res.statusCode).toBe(413);
      expect(res.json().error.code).toBe('payload_too_large');
      expect(store.calls).toBe(0);
    });

    it('accepts exactly 2 MiB streamed without a Content-Length and refuses one byte more', async () => {
      const exact = await post(Readable.from(chunksOf(batchOfSize(MAX_BATCH_BYTES), 65_536)));
      expect(exact.statusCode).toBe(202);
      const over = await post(Readable.from(chunksOf(batchOfSize(MAX_BATCH_BYTES + 1), 65_536)));
      expect(over.statusCode).toBe(413);
    });

    it('stops reading an endless body after the limit plus a bounded discard', async () => {
      let produced = 0;
      const endless = new Readable({
        read() {
          produced += 65_536;
          this.push(Buffer.alloc(65_536, 0x20));
        },
      });
      const res = await post(endless);
      expect(res.statusCode).toBe(413);
      await new Promise((r) => setTimeout(r, 50));
      // 2 MiB read, at most 16 MiB more read and dropped so the client can see the answer, then cut.
      expect(produced).toBeLessThan(MAX_BATCH_BYTES + 8 * MAX_BATCH_BYTES + 1_048_576);
      endless.destroy();
    });

    it('answers 408 and closes the connection when the body stalls', async () => {
      const stalled = new Readable({ read() {} });
      stalled.push('[');
      const res = await post(stalled);
      expect(res.statusCode).toBe(408);
      expect(res.headers.connection).toBe('close');
      expect(res.json().error.code).toBe('request_timeout');
      stalled.destroy();
    });

    it('answers 413 from a declared Content-Length above the limit before reading', async () => {
      const res = await post(json([entry()]), { 'content-length': String(MAX_BATCH_BYTES + 1) });
      expect(res.statusCode).toBe(413);
    });
  });

  describe('gzip', () => {
    it('decompresses and stores the decompressed body', async () => {
      const body = json([entry(), entry()]);
      const res = await post(gzipSync(body), { 'content-encoding': 'gzip', 'idempotency-key': 'gz' });
      expect(res.statusCode).toBe(202);
      expect(store.objects.get('raw/cus-axon/gz.json')!.body.equals(body)).toBe(true);
      expect(store.objects.get('raw/cus-axon/gz.json')!.metadata.sha256).toBe(sha256(body));
    });

    it('recognises the same content sent gzipped and plain as one batch', async () => {
      const body = json([entry()]);
      expect((await post(gzipSync(body), { 'content-encoding': 'gzip' })).statusCode).toBe(202);
      expect((await post(body)).statusCode).toBe(409);
    });

    it('accepts exactly 2 MiB after decompression and refuses one byte more', async () => {
      expect((await post(gzipSync(batchOfSize(MAX_BATCH_BYTES)), { 'content-encoding': 'gzip' })).statusCode).toBe(202);
      const res = await post(gzipSync(batchOfSize(MAX_BATCH_BYTES + 1)), { 'content-encoding': 'gzip' });
      expect(res.statusCode).toBe(413);
      expect(res.json().error.message).toContain('decompressed');
    });

    it('refuses a zip bomb (64 MiB of zeros in 64 KiB) without inflating it', async () => {
      const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
      expect(bomb.byteLength).toBeLessThan(MAX_BATCH_BYTES);
      const before = process.memoryUsage().arrayBuffers;
      const res = await post(bomb, { 'content-encoding': 'gzip' });
      expect(res.statusCode).toBe(413);
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(32 * 1024 * 1024);
      expect(store.calls).toBe(0);
    });

    it('answers 400 for a body that is not gzip', async () => {
      const res = await post(json([entry()]), { 'content-encoding': 'gzip' });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('invalid_body');
    });
  });

  describe('body validation', () => {
    it.each([
      ['invalid JSON', '[{', 'invalid_json'],
      ['a non-array', JSON.stringify(entry()), 'not_an_array'],
      ['an empty array', '[]', 'empty_batch'],
      ['an empty body', '', 'invalid_json'],
    ])('answers 400 for %s', async (_, payload, code) => {
      const res = await post(Buffer.from(payload));
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({ error: { code, message: expect.any(String) } });
      expect(store.calls).toBe(0);
    });

    it('rejects the whole batch for one bad entry, listing index, field and reason', async () => {
      const res = await post(json([entry(), entry({ receivedAt: '2025-12-28T18:03:07' }), entry({ path: 'no-slash', method: 'GE T' })]));
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({
        error: {
          code: 'invalid_entries',
          message: expect.any(String),
          details: {
            errorCount: 3,
            errors: [
              { index: 1, field: 'receivedAt', reason: expect.any(String) },
              { index: 2, field: 'method', reason: expect.any(String) },
              { index: 2, field: 'path', reason: expect.any(String) },
            ],
          },
        },
      });
      expect(store.objects.size).toBe(0);
    });

    it('lists at most 20 problems', async () => {
      const res = await post(json(Array.from({ length: 50 }, () => entry({ userAgent: 'u'.repeat(1025) }))));
      expect(res.statusCode).toBe(400);
      expect(res.json().error.details.errors).toHaveLength(20);
      expect(res.json().error.details.errorCount).toBe(50);
    });
  });

  describe('dependency failures', () => {
    it.each(['down', 'hang'] as const)('answers 503 with Retry-After when S3 is %s, then 202 once it is back', async (mode) => {
      store.mode = mode;
      const body = json([entry()]);
      const res = await post(body, { 'idempotency-key': 'k' });
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBe('2');
      expect(res.json().error.code).toBe('unavailable');
      expect(res.body).not.toMatch(/ECONNREFUSED|at \w+ \(/);
      store.mode = 'up';
      expect((await post(body, { 'idempotency-key': 'k' })).statusCode).toBe(202);
      expect(publisher.sent).toHaveLength(1);
    });

    it.each(['down', 'hang'] as const)('answers 503 when Kafka is %s; the retry publishes and is answered 202, the next 409', async (mode) => {
      publisher.mode = mode;
      const body = json([entry()]);
      const res = await post(body, { 'idempotency-key': 'k' });
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBe('2');
      expect(store.objects.has('raw/cus-axon/k.json')).toBe(true);
      publisher.mode = 'up';
      const retry = await post(body, { 'idempotency-key': 'k' });
      expect(retry.statusCode).toBe(202);
      expect(retry.json()).toEqual({ batchId: 'k', entries: 1 });
      expect(publisher.sent).toHaveLength(1);
      expect(JSON.parse(publisher.sent[0].value).batchId).toBe('k');
      expect((await post(body, { 'idempotency-key': 'k' })).statusCode).toBe(409);
    });

    it('answers 503 until the bucket and topic are provisioned, without touching S3', async () => {
      provisioned = false;
      const res = await post(json([entry()]));
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBe('2');
      expect(store.calls).toBe(0);
    });

    it('still answers 400 for invalid batches while dependencies are down', async () => {
      store.mode = 'down';
      expect((await post(Buffer.from('[]'))).statusCode).toBe(400);
    });
  });

  describe('operations endpoints', () => {
    it('answers unknown routes with a JSON error', async () => {
      const res = await app.inject({ method: 'GET', url: '/nope' });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toEqual({ error: { code: 'not_found', message: expect.any(String) } });
    });

    it('closes connections after each answer once shutdown began', async () => {
      draining = true;
      const res = await post(json([entry()]));
      expect(res.statusCode).toBe(202);
      expect(res.headers.connection).toBe('close');
    });

    it('reports readiness from the checks', async () => {
      expect((await app.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);
      store.mode = 'down';
      const down = await app.inject({ method: 'GET', url: '/health/ready' });
      expect(down.statusCode).toBe(503);
      expect(down.json().status).toBe('error');
      store.mode = 'up';
      expect((await app.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);
      expect((await app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
    });

    it('exposes outcomes, entries, sizes, dependency latency and request durations', async () => {
      await post(json([entry(), entry()]), { 'idempotency-key': 'k' });
      await post(json([entry(), entry()]), { 'idempotency-key': 'k' });
      await post(json([entry()]), { 'idempotency-key': 'k' });
      await post(Buffer.from('[]'));
      await post(batchOfSize(MAX_BATCH_BYTES + 1));
      publisher.mode = 'down';
      await post(json([entry()]), { 'idempotency-key': 'other' });
      const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      expect(text).toContain('ingestion_batches_total{outcome="accepted"} 1');
      expect(text).toContain('ingestion_batches_total{outcome="duplicate"} 1');
      expect(text).toContain('ingestion_batches_total{outcome="key_reused"} 1');
      expect(text).toContain('ingestion_batches_total{outcome="invalid"} 1');
      expect(text).toContain('ingestion_batches_total{outcome="too_large"} 1');
      expect(text).toContain('ingestion_batches_total{outcome="unavailable"} 1');
      expect(text).toContain('ingestion_entries_accepted_total 2');
      expect(text).toMatch(/ingestion_batch_bytes_count \d+/);
      expect(text).toContain('ingestion_s3_call_duration_seconds_count{operation="PutObject",result="ok"} 4');
      expect(text).toContain('ingestion_kafka_publish_errors_total{topic="batch-ingested"} 1');
      expect(text).toContain('http_request_duration_seconds_count{route="/logs",method="POST",status="202"} 1');
      expect(text).toContain('http_request_duration_seconds_count{route="/logs",method="POST",status="413"} 1');
    });
  });
});

function* chunksOf(buf: Buffer, size: number) {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}
