import { S3ObjectStore } from '@pipeline/s3';
import { AppProcess, PrivateServer, TopicReader, createTopics, privateKafka, startApp, waitFor } from '@pipeline/testing';
import { Kafka } from 'kafkajs';
import { EventProducer, PARTITIONS, appEnv, entryAt, itKafka, itNames, itStore, partialsOf, putEntries, topicsOf } from './it-support';

jest.setTimeout(400_000);

// Kafka goes down under the running service: a private broker this test may stop and start.
const names = itNames('sumkout');
const CUSTOMER = 'cus-kafka-outage';

let broker: PrivateServer;
let kafka: Kafka;
let store: S3ObjectStore;
let app: AppProcess;

const partials = async (reader: TopicReader, batchId: string, count: number) =>
  reader.waitUntil(`${count} partial(s) of ${batchId}`, () => partialsOf(reader, batchId).length >= count, 120_000);

beforeAll(async () => {
  broker = await privateKafka();
  kafka = itKafka(broker.endpoint);
  store = itStore(names.bucket);
  await store.ensureBucket();
  await createTopics(kafka, topicsOf(names), PARTITIONS);
  app = await startApp('batch-summarizer', appEnv(names, { KAFKA_BROKERS: broker.endpoint, KAFKA_REQUEST_TIMEOUT_MS: '2000', SUMMARIZER_RETRY_MAX_MS: '1000' }));
});

afterAll(async () => {
  await app?.stop();
  store?.destroy();
  await broker?.dispose();
});

describe('batch-summarizer while Kafka is down', () => {
  it('keeps running, reports not ready, and consumes again by itself once Kafka is back', async () => {
    const before = await putEntries(store, CUSTOMER, 'batch-before', [entryAt('2025-12-28T18:03:00Z')]);
    const after = await putEntries(store, CUSTOMER, 'batch-after', [entryAt('2025-12-28T18:04:00Z'), entryAt('2025-12-28T18:05:00Z')]);
    let producer = await EventProducer.connect(kafka);
    let reader = await TopicReader.start(kafka, names.insight);
    await producer.sendEvents(names.input, [before]);
    await partials(reader, 'batch-before', 1);
    await reader.stop();
    await producer.disconnect();
    const pid = app.pid;

    await broker.stop();
    await waitFor('readiness to report Kafka down', async () => (await fetch(`${app.opsUrl}/health/ready`)).status === 503, 60_000);
    await broker.start();

    producer = await EventProducer.connect(kafka);
    reader = await TopicReader.start(kafka, names.insight);
    try {
      await producer.sendEvents(names.input, [after]);
      await partials(reader, 'batch-after', 2);
      await app.waitReady(120_000);
      expect(app.pid).toBe(pid);
      const afterPartials = partialsOf(reader, 'batch-after');
      expect(afterPartials.map((m) => m.key).sort()).toEqual([`${CUSTOMER}|2025-12-28T18:04Z`, `${CUSTOMER}|2025-12-28T18:05Z`]);
    } finally {
      await reader.stop();
      await producer.disconnect();
    }
  });
});
