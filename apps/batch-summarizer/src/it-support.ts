// Helpers shared by this service's integration tests (real Kafka and MinIO, names unique per test file).
import { createHash } from 'node:crypto';
import { BatchIngestedEvent, batchEventKey, rawBatchKey } from '@pipeline/batch';
import { LogEntry } from '@pipeline/entry';
import { createKafka, ensureTopics } from '@pipeline/kafka';
import { S3ObjectStore } from '@pipeline/s3';
import { stackEndpoints, uniqueName, waitFor } from '@pipeline/testing';
import { Admin, Consumer, IHeaders, Kafka, Producer } from 'kafkajs';

export interface ItNames {
  input: string;
  insight: string;
  dlq: string;
  bucket: string;
  group: string;
}

export function itNames(prefix: string): ItNames {
  const id = uniqueName(prefix);
  return { input: `batch-ingested-${id}`, insight: `insight-events-${id}`, dlq: `batch-ingested-dlq-${id}`, bucket: `it-${id}`.slice(0, 63), group: `batch-summarizer-${id}` };
}

export const PARTITIONS = 3;

/** The service's environment for one test file: the shared servers, this file's own names. */
export function appEnv(names: ItNames, extra: Record<string, string> = {}): Record<string, string> {
  const { kafkaBrokers, s3Endpoint } = stackEndpoints();
  return {
    KAFKA_BROKERS: kafkaBrokers,
    S3_ENDPOINT: s3Endpoint,
    S3_BUCKET: names.bucket,
    TOPIC_BATCH_INGESTED: names.input,
    TOPIC_INSIGHT_EVENTS: names.insight,
    TOPIC_BATCH_INGESTED_DLQ: names.dlq,
    KAFKA_TOPIC_PARTITIONS: String(PARTITIONS),
    SUMMARIZER_GROUP_ID: names.group,
    SUMMARIZER_SESSION_TIMEOUT_MS: '6000',
    SUMMARIZER_LAG_INTERVAL_MS: '1000',
    LOG_LEVEL: 'info',
    ...extra,
  };
}

export function itKafka(brokers = stackEndpoints().kafkaBrokers): Kafka {
  return createKafka({ brokers: brokers.split(','), clientId: 'it-summarizer', requestTimeoutMs: 10_000 });
}

export function itStore(bucket: string, endpoint = stackEndpoints().s3Endpoint): S3ObjectStore {
  return S3ObjectStore.fromSettings({
    endpoint,
    region: 'us-east-1',
    accessKeyId: 'minioadmin',
    secretAccessKey: 'minioadmin',
    bucket,
    forcePathStyle: true,
    requestTimeoutMs: 5_000,
  });
}

export async function createTopics(kafka: Kafka, names: ItNames): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, [names.input, names.insight, names.dlq].map((topic) => ({ topic, numPartitions: PARTITIONS, replicationFactor: 1 })));
  } finally {
    await admin.disconnect();
  }
}

export async function deleteTopics(kafka: Kafka, names: ItNames): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [names.input, names.insight, names.dlq] }).catch(() => undefined);
  await admin.disconnect();
}

/** The group's committed offset on one partition (-1 when it never committed there). */
export async function committedOffset(admin: Admin, groupId: string, topic: string, partition: number): Promise<number> {
  const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return Number(t.partitions.find((p) => p.partition === partition)?.offset ?? -1);
}

/** Stores a raw batch as ingestion does and returns the event that announces it. */
export async function putRawBatch(store: S3ObjectStore, customerId: string, batchId: string, body: string, entries: number): Promise<BatchIngestedEvent> {
  const objectKey = rawBatchKey(customerId, batchId);
  const sha256 = createHash('sha256').update(body).digest('hex');
  await store.putIfAbsent(objectKey, Buffer.from(body), { sha256, entries: String(entries) });
  return { v: 1, batchId, customerId, objectKey, entries, sha256, ingestedAt: '2025-12-28T19:00:00.000Z' };
}

export async function putEntries(store: S3ObjectStore, customerId: string, batchId: string, entries: LogEntry[]): Promise<BatchIngestedEvent> {
  return putRawBatch(store, customerId, batchId, JSON.stringify(entries), entries.length);
}

export class EventProducer {
  private constructor(private readonly producer: Producer) {}

  static async connect(kafka: Kafka): Promise<EventProducer> {
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    await producer.connect();
    return new EventProducer(producer);
  }

  /** Publishes the events; returns where each partition's first one landed. */
  async sendEvents(topic: string, events: BatchIngestedEvent[]): Promise<{ partition: number; baseOffset: string }[]> {
    const sent = await this.producer.send({ topic, acks: -1, messages: events.map((e) => ({ key: batchEventKey(e.customerId, e.batchId), value: JSON.stringify(e) })) });
    return sent.map((r) => ({ partition: r.partition, baseOffset: r.baseOffset ?? '-1' }));
  }

  async sendRaw(topic: string, partition: number, messages: { key: string; value: string }[]): Promise<void> {
    await this.producer.send({ topic, acks: -1, messages: messages.map((m) => ({ ...m, partition })) });
  }

  disconnect(): Promise<void> {
    return this.producer.disconnect();
  }
}

export interface ReadMessage {
  partition: number;
  offset: string;
  key: string;
  value: string;
  headers: Record<string, string>;
}

const headerText = (h: IHeaders | undefined): Record<string, string> =>
  Object.fromEntries(Object.entries(h ?? {}).map(([k, v]) => [k, Array.isArray(v) ? String(v[0]) : String(v ?? '')]));

/** Reads a topic from the beginning with its own group and keeps every message. */
export class TopicReader {
  readonly messages: ReadMessage[] = [];

  private constructor(private readonly consumer: Consumer) {}

  static async start(kafka: Kafka, topic: string): Promise<TopicReader> {
    const consumer = kafka.consumer({ groupId: uniqueName('it-reader'), sessionTimeout: 6_000, heartbeatInterval: 500 });
    const reader = new TopicReader(consumer);
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        reader.messages.push({
          partition,
          offset: message.offset,
          key: message.key?.toString('utf8') ?? '',
          value: message.value?.toString('utf8') ?? '',
          headers: headerText(message.headers),
        });
      },
    });
    return reader;
  }

  async waitUntil(what: string, done: (messages: ReadMessage[]) => boolean, timeoutMs = 60_000): Promise<ReadMessage[]> {
    await waitFor(what, async () => done(this.messages), timeoutMs, 100);
    return this.messages;
  }

  stop(): Promise<void> {
    return this.consumer.disconnect();
  }
}
