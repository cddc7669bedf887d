import { UserAgentClassifier } from '@pipeline/entry';
import { CoalescingPublisher, KafkaEventPublisher, createKafka, kafkaSettingsFromEnv } from '@pipeline/kafka';
import type { Logger } from '@pipeline/platform';
import { ReadinessCheck, createRegistry } from '@pipeline/platform';
import { S3ObjectStore, s3SettingsFromEnv } from '@pipeline/s3';
import { Registry } from 'prom-client';
import { BatchProcessor } from './batch-processor';

import { SummarizerConfig } from './config';
import { SummarizerConsumer } from './consumer';
import { SummarizerMetrics } from './metrics';

export const SERVICE_NAME = 'batch-summarizer';

/** Every long-lived object of the service, built from its configuration. */
export interface Summarizer {
  registry: Registry;
  classifier: UserAgentClassifier;
  processor: BatchProcessor;
  consumer: SummarizerConsumer;
  checks: ReadinessCheck[];
}

export function createSummarizer(config: SummarizerConfig, logger: Logger): Summarizer {
  const registry = createRegistry(SERVICE_NAME);
  const classifier = new UserAgentClassifier(config.UA_CACHE_SIZE);
  const metrics = new SummarizerMetrics(registry, classifier);
  const kafka = createKafka(kafkaSettingsFromEnv(config, SERVICE_NAME), logger);
  const admin = kafka.admin();
  const publisher = new KafkaEventPublisher(kafka, config.KAFKA_REQUEST_TIMEOUT_MS);
  const store = S3ObjectStore.fromSettings(s3SettingsFromEnv(config));
  const processor = new BatchProcessor({
    store,
    // Events finish concurrently; their partials share produce requests instead of queueing.
    publisher: new CoalescingPublisher(publisher),
    classifier,
    metrics,
    logger,
    insightTopic: config.TOPIC_INSIGHT_EVENTS,
    dlqTopic: config.TOPIC_BATCH_INGESTED_DLQ,
    retryMaxMs: config.SUMMARIZER_RETRY_MAX_MS,
  });
  const consumer = new SummarizerConsumer(
    kafka,
    admin,
    publisher,
    store,
    processor,
    metrics,
    {
      groupId: config.SUMMARIZER_GROUP_ID,
      inputTopic: config.TOPIC_BATCH_INGESTED,
      insightTopic: config.TOPIC_INSIGHT_EVENTS,
      dlqTopic: config.TOPIC_BATCH_INGESTED_DLQ,
      partitions: config.KAFKA_TOPIC_PARTITIONS,
      replicationFactor: config.KAFKA_REPLICATION_FACTOR,
      partitionsConcurrency: config.SUMMARIZER_PARTITIONS_CONCURRENCY,
      eventConcurrency: config.SUMMARIZER_EVENT_CONCURRENCY,
      maxEntriesInFlight: config.SUMMARIZER_MAX_ENTRIES_IN_FLIGHT,
      lagIntervalMs: config.SUMMARIZER_LAG_INTERVAL_MS,
      sessionTimeoutMs: config.SUMMARIZER_SESSION_TIMEOUT_MS,
      retryMaxMs: config.SUMMARIZER_RETRY_MAX_MS,
    },
    logger,
  );
  const checks: ReadinessCheck[] = [
    { name: 's3', check: () => store.ping() },
    { name: 'kafka', check: () => consumer.pingKafka() },
    {
      name: 'consumer',
      check: async () => {
        if (!consumer.isConsuming) throw new Error('not a member of the consumer group yet');
      },
    },
  ];
  return { registry, classifier, processor, consumer, checks };
}
