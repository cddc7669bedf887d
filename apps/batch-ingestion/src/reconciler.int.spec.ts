import { parseBatchIngestedEvent, summaryKey } from '@pipeline/contract';
import { S3ObjectStore } from '@pipeline/s3';
import { AppProcess, metricValue, PrivateServer, privateKafka, scrape, sleep, TopicReader, startApp, waitFor } from '@pipeline/testing';
import { Kafka } from 'kafkajs';
import { appEnv, dropBucket, entry, itKafka, itNames, itStore, postLogs } from './it-support';

jest.setTimeout(300_000);

const CUSTOMER = 'cus-orphan';
const body = (...entries: unknown[]) => Buffer.from(JSON.stringify(entries));

/**
 * A batch stored in S3 whose announcement never happened (the process died between the write and
 * the publish, and the client gave up) is found and announced by the reconciler; a summarized one
 * is left alone. Real processes, a broker of this test's own (stopped to hold the publish back).
 */
describe('batch-ingestion reconciler', () => {
  const names = itNames('ingest-orphan');
  let broker: PrivateServer;
  let kafka: Kafka;
  let store: S3ObjectStore;
  let app: AppProcess | undefined;
  const env = () =>
    appEnv(names, {
      KAFKA_BROKERS: broker.endpoint,
      KAFKA_REQUEST_TIMEOUT_MS: '20000',
      RECONCILER_MIN_AGE_MS: '1500',
      RECONCILER_INTERVAL_MS: '1000',
    });

  beforeAll(async () => {
    broker = await privateKafka();
    kafka = itKafka(broker.endpoint);
    store = itStore(names.bucket);
  });

  afterAll(async () => {
    await app?.stop();
    store?.destroy();
    await dropBucket(names.bucket);
    await broker?.dispose();
  });

  it('announces a batch stored by a process killed before its publish, once, and leaves summarized ones alone', async () => {
    app = await startApp('batch-ingestion', env());
    const summarized = body(entry({ path: '/summarized' }));
    expect((await postLogs(app.url, summarized, { 'x-customer-id': CUSTOMER, 'idempotency-key': 'summarized' })).status).toBe(202);
    // What the summarizer leaves behind once it is done with a batch.
    await store.putIfAbsent(summaryKey(CUSTOMER, 'summarized'), Buffer.from('{}'), {});

    // Kafka goes away: the next batch is written to S3, then its publish waits for the broker...
    await broker.stop();
    const orphan = body(entry({ path: '/orphan' }), entry({ path: '/orphan', method: 'POST' }));
    const pending = postLogs(app.url, orphan, { 'x-customer-id': CUSTOMER, 'idempotency-key': 'orphan' }).then(
      (answer) => `answered ${answer.status}`,
      () => 'no answer',
    );
    await waitFor('the raw batch in S3', async () => (await store.head(`raw/${CUSTOMER}/orphan.json`)) !== null, 30_000, 50);
    // ...and the process dies right there, between the write and the publish.
    await app.kill('SIGKILL');
    expect(await pending).toBe('no answer');

    await broker.start();
    const reader = await TopicReader.start(kafka, names.topic);
    try {
      app = await startApp('batch-ingestion', env());
      await reader.waitUntil('the orphan announced', () => reader.withKey(`${CUSTOMER}|orphan`).length > 0, 60_000);
      const [announced] = reader.withKey(`${CUSTOMER}|orphan`);
      const event = parseBatchIngestedEvent(JSON.parse(announced.value));
      expect(event.ok && event.value).toMatchObject({ batchId: 'orphan', customerId: CUSTOMER, entries: 2, objectKey: `raw/${CUSTOMER}/orphan.json` });

      // Later scans find it still unsummarized but do not announce it again before the re-announce interval.
      await waitFor('two more scans', async () => metricValue(await scrape(app!.opsUrl), 'reconciler_scans_total') >= 3, 30_000, 200);
      const metrics = await scrape(app.opsUrl);
      expect(metricValue(metrics, 'reconciler_orphans_found_total')).toBeGreaterThanOrEqual(1);
      expect(metricValue(metrics, 'reconciler_orphans_announced_total')).toBe(1);
      await sleep(500);
      expect(reader.withKey(`${CUSTOMER}|orphan`)).toHaveLength(1);
      expect(reader.withKey(`${CUSTOMER}|summarized`)).toHaveLength(1);
    } finally {
      await reader.stop();
    }
  });
});
