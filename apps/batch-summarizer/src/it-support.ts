// Helpers shared by this service's integration tests (real Kafka and MinIO, names unique per test file).
import { createHash } from 'node:crypto';
import { BatchIngestedEvent, batchIngestedKey, rawBatchKey } from '@pipeline/contract';
import { LogEntry } from '@pipeline/entry';
import { createKafka, kafkaSettingsFromEnv } from '@pipeline/kafka';
import { S3ObjectStore, s3SettingsFromEnv } from '@pipeline/s3';
import { ReadMessage, TopicReader, connectProducer, createTopics, deleteTopics, stackEndpoints, testKafkaEnv, testS3Env, uniqueName } from '@pipeline/testing';
import { Kafka, Producer } from 'kafkajs';

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

export const topicsOf = (names: ItNames) => [names.input, names.insight, names.dlq];

export function itKafka(brokers?: string): Kafka {
  return createKafka(kafkaSettingsFromEnv(testKafkaEnv({ brokers }), 'it-summarizer'));
}

export function itStore(bucket: string, endpoint?: string): S3ObjectStore {
  return S3ObjectStore.fromSettings(s3SettingsFromEnv(testS3Env(bucket, { endpoint })));
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
    return new EventProducer(await connectProducer(kafka));
  }

  /** Publishes the events; returns where each partition's first one landed. */
  async sendEvents(topic: string, events: BatchIngestedEvent[]): Promise<{ partition: number; baseOffset: string }[]> {
    const sent = await this.producer.send({ topic, acks: -1, messages: events.map((e) => ({ key: batchIngestedKey(e.customerId, e.batchId), value: JSON.stringify(e) })) });
    return sent.map((r) => ({ partition: r.partition, baseOffset: r.baseOffset ?? '-1' }));
  }

  async sendRaw(topic: string, partition: number, messages: { key: string; value: string }[]): Promise<void> {
    await this.producer.send({ topic, acks: -1, messages: messages.map((m) => ({ ...m, partition })) });
  }

  disconnect(): Promise<void> {
    return this.producer.disconnect();
  }
}

export const entryAt = (receivedAt: string): LogEntry => ({ receivedAt, method: 'GET', path: '/', userAgent: 'curl/8.5.0' });

/** The partials of one batch `reader` has read so far. */
export const partialsOf = (reader: TopicReader, batchId: string): ReadMessage[] => reader.messages.filter((m) => JSON.parse(m.value).batchId === batchId);

/**
 * What a test file sets up around the service: its topics and bucket, an event producer and
 * readers of both output topics. Whatever `open` got to is released by `close`.
 */
export class SummarizerHarness {
  kafka!: Kafka;
  store!: S3ObjectStore;
  producer!: EventProducer;
  insights!: TopicReader;
  dlq!: TopicReader;

  constructor(private readonly names: ItNames) {}

  async open(options: { s3Endpoint?: string } = {}): Promise<void> {
    this.kafka = itKafka();
    this.store = itStore(this.names.bucket, options.s3Endpoint);
    await this.store.ensureBucket();
    await createTopics(this.kafka, topicsOf(this.names), PARTITIONS);
    this.producer = await EventProducer.connect(this.kafka);
    this.insights = await TopicReader.start(this.kafka, this.names.insight);
    this.dlq = await TopicReader.start(this.kafka, this.names.dlq);
  }

  partialsOf(batchId: string): ReadMessage[] {
    return partialsOf(this.insights, batchId);
  }

  async close(): Promise<void> {
    await this.insights?.stop();
    await this.dlq?.stop();
    await this.producer?.disconnect();
    if (this.kafka) await deleteTopics(this.kafka, topicsOf(this.names));
    this.store?.destroy();
  }
}
