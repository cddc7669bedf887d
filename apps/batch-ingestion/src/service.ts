import { Type } from '@nestjs/common';
import { Admin } from 'kafkajs';
import { Logger } from 'pino';
import { Registry } from 'prom-client';
import { CoalescingPublisher, KafkaEventPublisher, createKafka, ensureTopics, kafkaSettingsFromEnv } from '@pipeline/kafka';
import { ReadinessCheck, createRegistry } from '@pipeline/platform';
import { S3ObjectStore, s3SettingsFromEnv } from '@pipeline/s3';
import { IngestionConfig } from './config';

import { MeasuredPublisher, MeasuredStore } from './dependencies';
import { IngestionHandler } from './handler';
import { IngestionMetrics } from './metrics';
import { ingestionModule } from './module';
import { Provisioner } from './provisioner';

export interface IngestionService {
  module: Type<unknown>;
  registry: Registry;
  metrics: IngestionMetrics;
  isDraining: () => boolean;
}

/** A kafkajs admin that connects on first use and again after a disconnect. */
function lazyAdmin(admin: Admin) {
  let connected: Promise<void> | undefined;
  admin.on(admin.events.DISCONNECT, () => {
    connected = undefined;
  });
  return {
    get: async (): Promise<Admin> => {
      connected ??= admin.connect().catch((err) => {
        connected = undefined;
        throw err;
      });
      await connected;
      return admin;
    },
    close: async () => {
      if (connected) await admin.disconnect();
    },
  };
}

/** Wires the real S3 store, Kafka producer and admin, metrics and readiness into the Nest module. */
export function createIngestionService(config: IngestionConfig, logger: Logger): IngestionService {
  const registry = createRegistry('batch-ingestion');
  const metrics = new IngestionMetrics(registry);
  const topic = config.TOPIC_BATCH_INGESTED;

  const s3 = S3ObjectStore.fromSettings(s3SettingsFromEnv(config));
  const kafka = createKafka(kafkaSettingsFromEnv(config, 'batch-ingestion'), logger);
  const admin = lazyAdmin(kafka.admin());
  const producer = new KafkaEventPublisher(kafka, config.KAFKA_REQUEST_TIMEOUT_MS);

  const provisioner = new Provisioner(async () => {
    await s3.ensureBucket();
    await ensureTopics(await admin.get(), [
      { topic, numPartitions: config.KAFKA_TOPIC_PARTITIONS, replicationFactor: config.KAFKA_REPLICATION_FACTOR },
    ]);
    // Connecting now spares the first batch the handshake; a failure here is retried on publish.
    await producer.connect().catch((err) => logger.warn({ err: (err as Error).message }, 'producer connect failed; will retry on publish'));
  }, logger);

  const readinessChecks: ReadinessCheck[] = [
    {
      name: 'provisioning',
      check: async () => {
        if (!provisioner.done) throw new Error('bucket and topic not provisioned yet');
      },
    },
    { name: 's3', check: () => s3.ping() },
    { name: 'kafka', check: async () => (await admin.get()).fetchTopicMetadata({ topics: [topic] }) },
  ];

  const handler = new IngestionHandler({
    store: new MeasuredStore(s3, metrics, config.S3_REQUEST_TIMEOUT_MS),
    // The producer enforces KAFKA_REQUEST_TIMEOUT_MS per send; the outer deadline bounds a
    // request's whole wait, including the send ahead of it in the coalescing queue.
    publisher: new MeasuredPublisher(new CoalescingPublisher(producer), metrics, config.KAFKA_REQUEST_TIMEOUT_MS + 1_000),
    topic,
    metrics,
    logger,
    isProvisioned: () => provisioner.done,
    bodyTimeoutMs: config.HTTP_BODY_TIMEOUT_MS,
  });

  let draining = false;
  const module = ingestionModule({
    handler,
    registry,
    readinessChecks,
    lifecycle: {
      start: () => void provisioner.start(),
      drain: () => {
        draining = true;
        provisioner.stop();
      },
      close: async () => {
        await producer.disconnect().catch((err) => logger.warn({ err: (err as Error).message }, 'producer disconnect failed'));
        await admin.close().catch(() => undefined);
        s3.destroy();
        logger.info('batch-ingestion stopped');
      },
    },
  });
  return { module, registry, metrics, isDraining: () => draining };
}
