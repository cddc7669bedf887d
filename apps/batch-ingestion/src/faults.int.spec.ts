import { Kafka } from 'kafkajs';
import { S3ObjectStore } from '@pipeline/s3';
import { AppProcess, PrivateServer, TopicReader, deleteTopics, privateKafka, privateMinio, provisionBucket, sleep, startApp, waitFor } from '@pipeline/testing';
import { appEnv, dropBucket, entry, itKafka, itNames, itStore, postLogs } from './it-support';

jest.setTimeout(300_000);

const body = (...entries: unknown[]) => Buffer.from(JSON.stringify(entries));
const readyStatus = async (app: AppProcess) => (await fetch(`${app.opsUrl}/health/ready`, { signal: AbortSignal.timeout(10_000) })).status;
const events = (reader: TopicReader, key: string) => reader.withKey(`cus-fault|${key}`);

describe('batch-ingestion while MinIO is down', () => {
  const names = itNames('ingest-s3down');
  let minio: PrivateServer;
  let app: AppProcess;
  let kafka: Kafka;
  let reader: TopicReader;
  let store: S3ObjectStore;

  beforeAll(async () => {
    minio = await privateMinio();
    app = await startApp('batch-ingestion', appEnv(names, { S3_ENDPOINT: minio.endpoint, S3_REQUEST_TIMEOUT_MS: '2000' }));
    kafka = itKafka();
    reader = await TopicReader.start(kafka, names.topic);
    store = itStore(names.bucket, minio.endpoint);
  });

  afterAll(async () => {
    await app?.stop();
    await reader?.stop();
    await deleteTopics(kafka, [names.topic]);
    store?.destroy();
    await minio?.dispose();
  });

  it('answers 503 with Retry-After, turns unready, and accepts again after MinIO restarts, losing nothing', async () => {
    const before = body(entry({ path: '/before' }));
    const during = body(entry({ path: '/during' }), entry());
    expect((await postLogs(app.url, before, { 'x-customer-id': 'cus-fault', 'idempotency-key': 'before' })).status).toBe(202);

    await minio.stop();
    const refused = await postLogs(app.url, during, { 'x-customer-id': 'cus-fault', 'idempotency-key': 'during' });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('2');
    expect(refused.body).toEqual({ error: { code: 'unavailable', message: expect.any(String) } });
    await waitFor('unready while MinIO is down', async () => (await readyStatus(app)) === 503, 30_000);

    await minio.start();
    await app.waitReady(60_000);
    const retried = await postLogs(app.url, during, { 'x-customer-id': 'cus-fault', 'idempotency-key': 'during' });
    expect(retried.status).toBe(202);
    expect(retried.body).toEqual({ batchId: 'during', entries: 2 });

    expect((await store.get('raw/cus-fault/before.json'))?.body.equals(before)).toBe(true);
    expect((await store.get('raw/cus-fault/during.json'))?.body.equals(during)).toBe(true);
    await reader.waitUntil('both events', () => events(reader, 'before').length === 1 && events(reader, 'during').length === 1);
  });

  it('starts while MinIO is down: live but unready, then serves once MinIO is back and its bucket provisioned', async () => {
    const late = itNames('ingest-late');
    await minio.stop();
    const lateApp = await startApp('batch-ingestion', appEnv(late, { S3_ENDPOINT: minio.endpoint, S3_REQUEST_TIMEOUT_MS: '2000' }), { waitFor: 'live' });
    try {
      expect(await readyStatus(lateApp)).toBe(503);
      const refused = await postLogs(lateApp.url, body(entry()), { 'x-customer-id': 'cus-fault', 'idempotency-key': 'late' });
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('2');

      await minio.start();
      // The bucket is the provisioning step's: the service waits for it, unready.
      await sleep(1_000);
      expect(await readyStatus(lateApp)).toBe(503);
      expect(await provisionBucket({ ...process.env, ...appEnv(late, { S3_ENDPOINT: minio.endpoint }) })).toBe(true);
      await lateApp.waitReady(60_000);
      expect((await postLogs(lateApp.url, body(entry()), { 'x-customer-id': 'cus-fault', 'idempotency-key': 'late' })).status).toBe(202);
      const lateStore = itStore(late.bucket, minio.endpoint);
      expect(await lateStore.head('raw/cus-fault/late.json')).toMatchObject({ sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
      lateStore.destroy();
    } finally {
      await lateApp.stop();
      await deleteTopics(kafka, [late.topic]);
    }
  });
});

describe('batch-ingestion while Kafka is down', () => {
  const names = itNames('ingest-kdown');
  let broker: PrivateServer;
  let app: AppProcess;
  let kafka: Kafka;
  let store: S3ObjectStore;

  beforeAll(async () => {
    broker = await privateKafka();
    app = await startApp('batch-ingestion', appEnv(names, { KAFKA_BROKERS: broker.endpoint, KAFKA_REQUEST_TIMEOUT_MS: '3000' }));
    kafka = itKafka(broker.endpoint);
    store = itStore(names.bucket);
  });

  afterAll(async () => {
    await app?.stop();
    store?.destroy();
    await dropBucket(names.bucket);
    await broker?.dispose();
  });

  it('answers 503 with Retry-After, turns unready, and accepts again after Kafka restarts, losing nothing', async () => {
    const before = body(entry({ path: '/before' }));
    const during = body(entry({ path: '/during' }), entry());
    const after = body(entry({ path: '/after' }));
    expect((await postLogs(app.url, before, { 'x-customer-id': 'cus-fault', 'idempotency-key': 'before' })).status).toBe(202);

    await broker.stop();
    const refused = await postLogs(app.url, during, { 'x-customer-id': 'cus-fault', 'idempotency-key': 'during' });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('2');
    expect(refused.body).toEqual({ error: { code: 'unavailable', message: expect.any(String) } });
    await waitFor('unready while Kafka is down', async () => (await readyStatus(app)) === 503, 30_000);

    await broker.start();
    await app.waitReady(90_000);
    // The batch was stored before the publish failed; its retry announces it and is its first acceptance.
    const retried = await postLogs(app.url, during, { 'x-customer-id': 'cus-fault', 'idempotency-key': 'during' });
    expect(retried.status).toBe(202);
    expect(retried.body).toEqual({ batchId: 'during', entries: 2 });
    expect((await postLogs(app.url, after, { 'x-customer-id': 'cus-fault', 'idempotency-key': 'after' })).status).toBe(202);

    for (const [key, sent] of [['before', before], ['during', during], ['after', after]] as const) {
      expect((await store.get(`raw/cus-fault/${key}.json`))?.body.equals(sent)).toBe(true);
    }
    const reader = await TopicReader.start(kafka, names.topic);
    try {
      await reader.waitUntil('every batch announced', () => ['before', 'during', 'after'].every((k) => events(reader, k).length >= 1), 60_000);
    } finally {
      await reader.stop();
    }
  });
});
