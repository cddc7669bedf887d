import { SUMMARY_PREFIX } from '@pipeline/contract';
import { UserAgentClassifier } from '@pipeline/entry';
import { CoalescingPublisher, consumerSettings, createKafka, KafkaEventPublisher, kafkaSettingsFromEnv, KafkaSource, provisionTopics, topicSettingsFromEnv } from '@pipeline/kafka';
import { ServiceDefinition } from '@pipeline/platform';
import { S3ObjectStore, s3SettingsFromEnv } from '@pipeline/s3';
import { summarizerEnv } from './config';
import { SummarizerMetrics } from './metrics';
import { announcedBytes, customerOfEventKey, SummarizeHandler } from './summarize-handler';

/**
 * batch-ingested -> summarize -> summaries in S3, partials on insight-events.
 * Source: the consumer group on batch-ingested. Sinks: S3 (raw batches read, summaries written),
 * Kafka (partials, dead letters).
 */
export const summarizerService: ServiceDefinition<typeof summarizerEnv> = {
  name: 'batch-summarizer',
  env: summarizerEnv,
  build(config, runtime) {
    const kafka = createKafka(kafkaSettingsFromEnv(config, 'batch-summarizer'), runtime.logger);
    const producer = new KafkaEventPublisher(kafka, config.KAFKA_REQUEST_TIMEOUT_MS);
    // Events finish concurrently; their partials share produce requests instead of queueing.
    const publisher = new CoalescingPublisher(producer);
    const store = S3ObjectStore.fromSettings({ ...s3SettingsFromEnv(config), home: SUMMARY_PREFIX });
    const classifier = new UserAgentClassifier(config.UA_CACHE_SIZE);
    const metrics = new SummarizerMetrics(runtime.registry, classifier);

    const handler = new SummarizeHandler({
      store,
      publisher,
      classifier,
      metrics,
      logger: runtime.logger,
      insightTopic: config.TOPIC_INSIGHT_EVENTS,
      maxPartialBytes: config.SUMMARIZER_MAX_PARTIAL_BYTES,
    });
    const source: KafkaSource = new KafkaSource(
      kafka,
      publisher,
      {
        ...consumerSettings('SUMMARIZER', config),
        topic: config.TOPIC_BATCH_INGESTED,
        dlqTopic: config.TOPIC_BATCH_INGESTED_DLQ,
        handler,
        unit: 'message',
        concurrency: config.SUMMARIZER_EVENT_CONCURRENCY,
        weightOf: (message) => announcedBytes(message.value),
        // One customer's backlog of large batches must not hold every other customer's behind it.
        share: {
          keyOf: (message) => customerOfEventKey(message.key),
          maxWeight: config.SUMMARIZER_MAX_BYTES_IN_FLIGHT_PER_CUSTOMER ?? Math.max(1, Math.floor(config.SUMMARIZER_MAX_BYTES_IN_FLIGHT / 4)),
        },
        // Both sinks answer: an unclassified failure that keeps coming back for one batch is that batch's.
        canary: (): Promise<unknown> => Promise.all([store.ping(), source.ping()]),
      },
      runtime,
    );

    const topics = [config.TOPIC_BATCH_INGESTED, config.TOPIC_INSIGHT_EVENTS, config.TOPIC_BATCH_INGESTED_DLQ];
    return {
      async provision() {
        // The bucket and its expiry rules are the provisioning step's (see the ingestion).
        await store.ping();
        await provisionTopics(kafka, topics, topicSettingsFromEnv(config));
        await producer.connect();
      },
      sources: [source],
      sinks: [
        { name: 's3', ping: () => store.ping(), close: () => store.destroy() },
        { name: 'kafka', ping: () => source.ping(), close: () => producer.disconnect() },
      ],
    };
  },
};
