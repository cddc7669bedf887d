import { request } from 'node:http';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { Kafka } from 'kafkajs';
import { MAX_BATCH_BYTES } from '@pipeline/batch';
import { parseBatchIngestedEvent } from '@pipeline/contract';
import { S3ObjectStore } from '@pipeline/s3';
import { AppProcess, TopicReader, deleteTopics, metricValue, scrape, sleep, startApp, waitFor } from '@pipeline/testing';
import { ItNames, IT_GATEWAY_TOKEN, appEnv, dropBucket, entry, itKafka, itNames, itStore, listKeys, postLogs } from './it-support';

jest.setTimeout(180_000);

const names: ItNames = itNames('ingest');
let app: AppProcess;
let kafka: Kafka;
let reader: TopicReader;
let store: S3ObjectStore;

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const body = (...entries: unknown[]) => Buffer.from(JSON.stringify(entries));
const s3Calls = async () => metricValue(await scrape(app.opsUrl), 'ingestion_s3_call_duration_seconds_count');
const publishes = async () => metricValue(await scrape(app.opsUrl), 'ingestion_kafka_publish_duration_seconds_count');

beforeAll(async () => {
  app = await startApp('batch-ingestion', appEnv(names));
  kafka = itKafka();
  reader = await TopicReader.start(kafka, names.topic);
  store = itStore(names.bucket);
});

afterAll(async () => {
  await app?.stop();
  await reader?.stop();
  await deleteTopics(kafka, [names.topic]);
  store?.destroy();
  await dropBucket(names.bucket);
});

describe('batch-ingestion against MinIO and Kafka', () => {
  it('stores an accepted batch byte for byte in S3 and announces it on the topic', async () => {
    const sent = body(entry(), entry({ method: 'post', path: '/api/users?id=1' }), entry({ receivedAt: '2025-12-28T19:04:00+01:00' }));
    const res = await postLogs(app.url, sent, { 'idempotency-key': 'b-accepted' });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ batchId: 'b-accepted', entries: 3 });

    const stored = await store.get('raw/cus-it/b-accepted.json');
    expect(stored?.body.equals(sent)).toBe(true);
    expect(stored?.metadata.sha256).toBe(sha256(sent));

    await reader.waitUntil('the batch-ingested event', () => reader.withKey('cus-it|b-accepted').length === 1);
    const event = parseBatchIngestedEvent(JSON.parse(reader.withKey('cus-it|b-accepted')[0].value));
    expect(event).toEqual({
      ok: true,
      value: { v: 1, batchId: 'b-accepted', customerId: 'cus-it', objectKey: 'raw/cus-it/b-accepted.json', entries: 3, sha256: sha256(sent), ingestedAt: expect.any(String) },
    });
  });

  it('answers 409 to a duplicate: from memory in the process that announced it, announcing it again in another', async () => {
    const sent = body(entry({ path: '/dup' }));
    expect((await postLogs(app.url, sent, { 'idempotency-key': 'b-dup' })).status).toBe(202);
    const again = await postLogs(app.url, sent, { 'idempotency-key': 'b-dup' });
    expect(again.status).toBe(409);
    expect(again.body).toEqual({ batchId: 'b-dup', status: 'duplicate' });
    await reader.waitUntil('the event for b-dup', () => reader.withKey('cus-it|b-dup').length === 1);
    await sleep(1_000);
    expect(reader.withKey('cus-it|b-dup')).toHaveLength(1);

    // A process that did not announce it (a restart, another instance) cannot know the announcement
    // happened: it announces the batch again before answering, with the same event.
    await app.stop();
    await app.restart();
    expect((await postLogs(app.url, sent, { 'idempotency-key': 'b-dup' })).status).toBe(409);
    await reader.waitUntil('two events for b-dup', () => reader.withKey('cus-it|b-dup').length === 2);
    const [first, second] = reader.withKey('cus-it|b-dup');
    expect(second.value).toBe(first.value);
  });

  it('recognises an identical retry without an idempotency key', async () => {
    const sent = body(entry({ path: '/no-key' }));
    const first = await postLogs(app.url, sent);
    expect(first.status).toBe(202);
    expect(first.body.batchId).toBe(`sha256-${sha256(sent).slice(0, 32)}`);
    expect((await postLogs(app.url, sent)).status).toBe(409);
  });

  it('answers 422 to a reused key with another body, keeps the original and publishes nothing', async () => {
    const original = body(entry({ path: '/original' }));
    expect((await postLogs(app.url, original, { 'idempotency-key': 'b-reuse' })).status).toBe(202);
    const before = await publishes();
    const res = await postLogs(app.url, body(entry({ path: '/other' })), { 'idempotency-key': 'b-reuse' });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('idempotency_key_reused');
    expect((await store.get('raw/cus-it/b-reuse.json'))?.body.equals(original)).toBe(true);
    expect(await publishes()).toBe(before);
  });

  it('answers 10 concurrent identical requests with one 202 and nine 409', async () => {
    const sent = body(entry({ path: '/concurrent' }), entry());
    const answers = await Promise.all(Array.from({ length: 10 }, () => postLogs(app.url, sent, { 'idempotency-key': 'b-concurrent' })));
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([202, 409, 409, 409, 409, 409, 409, 409, 409, 409]);
    expect((await listKeys(names.bucket)).filter((k) => k.includes('b-concurrent'))).toEqual(['raw/cus-it/b-concurrent.json']);
    // Each 409 that raced the first announcement announced the batch itself (the later ones knew it
    // was announced): between one and ten events, all the same.
    await reader.waitUntil('the events for b-concurrent', () => reader.withKey('cus-it|b-concurrent').length >= 1);
    await sleep(1_000);
    const events = reader.withKey('cus-it|b-concurrent');
    expect(events.length).toBeLessThanOrEqual(10);
    expect(new Set(events.map((m) => m.value)).size).toBe(1);
  });

  it('lets two customers use the same key', async () => {
    const a = await postLogs(app.url, body(entry({ path: '/a' })), { 'idempotency-key': 'shared-key', 'x-customer-id': 'cus-a' });
    const b = await postLogs(app.url, body(entry({ path: '/b' }), entry()), { 'idempotency-key': 'shared-key', 'x-customer-id': 'cus-b' });
    expect([a.status, b.status]).toEqual([202, 202]);
    expect((await store.get('raw/cus-a/shared-key.json'))?.body.toString()).toContain('/a');
    expect((await store.get('raw/cus-b/shared-key.json'))?.body.toString()).toContain('/b');
    await reader.waitUntil('both events', () => reader.withKey('cus-a|shared-key').length === 1 && reader.withKey('cus-b|shared-key').length === 1);
  });

  it('answers 400 to hostile keys and customer ids without touching S3', async () => {
    const keysBefore = await listKeys(names.bucket);
    const callsBefore = await s3Calls();
    for (const key of ['../x', 'a/b', 'k'.repeat(129), '..', '../../etc/passwd']) {
      const res = await postLogs(app.url, body(entry()), { 'idempotency-key': key });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('invalid_idempotency_key');
    }
    for (const customer of ['../x', 'a/b', '..']) {
      const res = await postLogs(app.url, body(entry()), { 'x-customer-id': customer });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('invalid_customer_id');
    }
    expect(await s3Calls()).toBe(callsBefore);
    expect(await listKeys(names.bucket)).toEqual(keysBefore);
  });

  it('accepts gzip and stores the decompressed body', async () => {
    const sent = body(entry({ path: '/gzip' }));
    const res = await postLogs(app.url, gzipSync(sent), { 'content-encoding': 'gzip', 'idempotency-key': 'b-gzip' });
    expect(res.status).toBe(202);
    expect((await store.get('raw/cus-it/b-gzip.json'))?.body.equals(sent)).toBe(true);
  });

  it('accepts exactly 2 MiB and answers 413 to one byte more, over a real socket', async () => {
    const text = JSON.stringify([entry({ path: '/big' })]);
    const exact = Buffer.from(text.slice(0, -1) + ' '.repeat(MAX_BATCH_BYTES - text.length) + ']');
    expect(exact.byteLength).toBe(MAX_BATCH_BYTES);
    expect((await postLogs(app.url, exact, { 'idempotency-key': 'b-2mib' })).status).toBe(202);
    expect((await store.get('raw/cus-it/b-2mib.json'))?.body.byteLength).toBe(MAX_BATCH_BYTES);
    const over = Buffer.concat([exact.subarray(0, -1), Buffer.from(' ]')]);
    const res = await postLogs(app.url, over, { 'idempotency-key': 'b-2mib-plus' });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('payload_too_large');
  });

  it('answers 413 to an endless chunked body while it is still being sent, and stays healthy', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${app.url}/logs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-customer-id': 'cus-it', authorization: `Bearer ${IT_GATEWAY_TOKEN}`, 'transfer-encoding': 'chunked' },
      });
      let answered = false;
      req.on('response', (res) => {
        answered = true;
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      req.on('error', (err) => !answered && reject(err));
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let sent = 0;
      const pump = () => {
        while (!answered && sent < 64 * 1024 * 1024) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        if (!answered) req.end();
      };
      req.write('[');
      pump();
    });
    expect(status).toBe(413);
    expect((await fetch(`${app.opsUrl}/health/ready`)).status).toBe(200);
  });

  it('answers JSON errors for missing customer, wrong media type and bad entries', async () => {
    const missing = await postLogs(app.url, body(entry()), { 'x-customer-id': undefined });
    expect(missing.status).toBe(401);
    expect(missing.body).toEqual({ error: { code: 'missing_customer_id', message: expect.any(String) } });
    expect((await postLogs(app.url, body(entry()), { 'content-type': 'text/plain' })).status).toBe(415);
    const bad = await postLogs(app.url, body(entry(), entry({ receivedAt: '2025-12-28T18:03:07' })));
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.errors).toEqual([{ index: 1, field: 'receivedAt', reason: expect.any(String) }]);
  });

  it('refuses at the door what a later stage could not keep: a method above 32 characters, a time beyond the clock skew', async () => {
    const calls = await s3Calls();
    const ahead = new Date(Date.now() + 2 * 86_400_000).toISOString();
    const refused = await postLogs(app.url, body(entry(), entry({ method: 'G'.repeat(600_000) }), entry({ receivedAt: ahead })));
    expect(refused.status).toBe(400);
    expect(refused.body.error.details.errors).toEqual([
      { index: 1, field: 'method', reason: 'must be at most 32 characters' },
      { index: 2, field: 'receivedAt', reason: expect.stringMatching(/further in the future than the allowed clock skew/) },
    ]);
    expect(await s3Calls()).toBe(calls);
  });

  it('exposes its outcomes in /metrics', async () => {
    const text = await scrape(app.opsUrl);
    expect(metricValue(text, 'ingestion_batches_total', { outcome: 'accepted' })).toBeGreaterThanOrEqual(7);
    expect(metricValue(text, 'ingestion_batches_total', { outcome: 'duplicate' })).toBeGreaterThanOrEqual(10);
    expect(metricValue(text, 'ingestion_batches_total', { outcome: 'key_reused' })).toBe(1);
    expect(metricValue(text, 'ingestion_batches_total', { outcome: 'too_large' })).toBe(2);
    expect(metricValue(text, 'http_request_duration_seconds_count', { route: '/logs', status: '202' })).toBeGreaterThanOrEqual(7);
  });

  // Last: it stops the service.
  it('finishes an in-flight request on SIGTERM before exiting', async () => {
    const sent = body(entry({ path: '/in-flight' }), entry());
    const half = Math.floor(sent.length / 2);
    const req = request(`${app.url}/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-customer-id': 'cus-it', authorization: `Bearer ${IT_GATEWAY_TOKEN}`, 'idempotency-key': 'b-in-flight', 'content-length': String(sent.length) },
    });
    const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
      req.on('response', (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
    });
    req.write(sent.subarray(0, half));
    await new Promise((r) => setTimeout(r, 200)); // the request is in the handler, waiting for its body
    const exited = app.kill('SIGTERM');
    // The listener closes first: once new connections are refused, shutdown is under way.
    await waitFor('the listener to close', async () => {
      try {
        await fetch(`${app.opsUrl}/health/live`, { signal: AbortSignal.timeout(1_000) });
        return false;
      } catch {
        return true;
      }
    }, 10_000, 50);
    req.end(sent.subarray(half));
    const res = await answer;
    expect(res.status).toBe(202);
    expect(JSON.parse(res.text)).toEqual({ batchId: 'b-in-flight', entries: 2 });
    await exited;
    expect((await store.get('raw/cus-it/b-in-flight.json'))?.body.equals(sent)).toBe(true);
    await reader.waitUntil('the in-flight batch event', () => reader.withKey('cus-it|b-in-flight').length === 1);
  });
});
