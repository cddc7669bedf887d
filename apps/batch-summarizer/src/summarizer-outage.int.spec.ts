import { LogEntry } from '@pipeline/entry';
import { AppProcess, PrivateServer, metricValue, privateMinio, scrape, startApp, waitFor } from '@pipeline/testing';
import { S3ObjectStore } from '@pipeline/s3';
import { Kafka } from 'kafkajs';
import { EventProducer, TopicReader, appEnv, committedOffset, createTopics, deleteTopics, itKafka, itNames, itStore, putEntries } from './it-support';

jest.setTimeout(300_000);

// S3 goes down under the running service: a private MinIO that this test may stop and start.
const names = itNames('sumout');
const CUSTOMER = 'cus-outage';
const entry = (receivedAt: string): LogEntry => ({ receivedAt, method: 'GET', path: '/', userAgent: 'curl/8.5.0' });

let minio: PrivateServer;
let kafka: Kafka;
let store: S3ObjectStore;
let producer: EventProducer;
let insights: TopicReader;
let dlq: TopicReader;
let app: AppProcess;

const partialsOf = (batchId: string) => insights.messages.filter((m) => JSON.parse(m.value).batchId === batchId);

beforeAll(async () => {
  minio = await privateMinio();
  kafka = itKafka();
  store = itStore(names.bucket, minio.endpoint);
  await store.ensureBucket();
  await createTopics(kafka, names);
  producer = await EventProducer.connect(kafka);
  insights = await TopicReader.start(kafka, names.insight);
  dlq = await TopicReader.start(kafka, names.dlq);
  app = await startApp('batch-summarizer', appEnv(names, { S3_ENDPOINT: minio.endpoint, S3_REQUEST_TIMEOUT_MS: '1000', SUMMARIZER_RETRY_MAX_MS: '1000' }));
});

afterAll(async () => {
  await app?.stop();
  await insights?.stop();
  await dlq?.stop();
  await producer?.disconnect();
  await deleteTopics(kafka, names);
  store?.destroy();
  await minio?.dispose();
});

describe('batch-summarizer while S3 is down', () => {
  it('retries without committing or dead-lettering, and resumes by itself when S3 returns', async () => {
    const before = await putEntries(store, CUSTOMER, 'batch-before', [entry('2025-12-28T18:03:00Z')]);
    const during = await putEntries(store, CUSTOMER, 'batch-during', [entry('2025-12-28T18:04:00Z'), entry('2025-12-28T18:05:00Z')]);
    await producer.sendEvents(names.input, [before]);
    await insights.waitUntil('partial of batch-before', () => partialsOf('batch-before').length === 1);

    await minio.stop();
    const [sent] = await producer.sendEvents(names.input, [during]);
    await waitFor('retries while S3 is down', async () => metricValue(await scrape(app.url), 'summarizer_retries_total', { operation: 'get_raw' }) >= 2);
    // Nothing past the stuck event is committed while it waits.
    const admin = kafka.admin();
    await admin.connect();
    try {
      expect(await committedOffset(admin, names.group, names.input, sent.partition)).toBeLessThanOrEqual(Number(sent.baseOffset));
    } finally {
      await admin.disconnect();
    }
    const ready = await fetch(`${app.url}/health/ready`);
    expect(ready.status).toBe(503);
    expect(partialsOf('batch-during')).toHaveLength(0);

    await minio.start();
    await insights.waitUntil('partials of batch-during', () => partialsOf('batch-during').length === 2);
    await app.waitReady();
    expect(dlq.messages).toHaveLength(0);
    const metrics = await scrape(app.url);
    expect(metricValue(metrics, 'summarizer_batches_total', { outcome: 'summarized' })).toBe(2);
    expect(metricValue(metrics, 'summarizer_dlq_total')).toBe(0);
    expect(await store.head(`summaries/${CUSTOMER}/batch-during.json`)).not.toBeNull();
  });
});
