import { ClickHouseGateway, clickHouseSettingsFromEnv } from '@pipeline/clickhouse';
import { createKafka, KafkaEventPublisher, kafkaSettingsFromEnv } from '@pipeline/kafka';
import { WindowStateCache } from '@pipeline/partial';
import { HealthModule, MetricsModule, ReadinessCheck } from '@pipeline/platform';
import { Inject, Module, OnApplicationShutdown, OnModuleInit, Type } from '@nestjs/common';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { WindowAggregator } from './aggregator';
import { AggregatorConfig } from './config';
import { AggregatorConsumer } from './consumer';
import { AggregatorMetrics } from './metrics';
import { ClickHouseWindowStore } from './window-store';

const CONSUMER = Symbol('CONSUMER');

/** Starts the consumer with the application and stops it before the process exits. */
class Lifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(@Inject(CONSUMER) private readonly consumer: AggregatorConsumer) {}

  onModuleInit(): Promise<void> {
    return this.consumer.start();
  }

  onApplicationShutdown(): Promise<void> {
    return this.consumer.stop();
  }
}

/** The service's Nest module. Clients are built here (no connection is opened yet) and shared with the health checks. */
export function aggregatorModule(config: AggregatorConfig, logger: Logger, registry: Registry): Type<unknown> {
  const kafka = createKafka(kafkaSettingsFromEnv(config, 'window-aggregator'), logger);
  const admin = kafka.admin();
  const gateway = ClickHouseGateway.fromSettings(clickHouseSettingsFromEnv(config));
  const cache = new WindowStateCache({ maxWindows: config.AGGREGATOR_MAX_WINDOWS, idleEvictMs: config.AGGREGATOR_IDLE_EVICT_MS });
  const metrics = new AggregatorMetrics(registry, () => cache.size);
  const publisher = new KafkaEventPublisher(kafka, config.KAFKA_REQUEST_TIMEOUT_MS);
  const aggregator = new WindowAggregator(new ClickHouseWindowStore(gateway), publisher, cache, metrics, logger, {
    dlqTopic: config.TOPIC_INSIGHT_EVENTS_DLQ,
    allowedLatenessMs: config.AGGREGATOR_ALLOWED_LATENESS_SECONDS * 1000,
    retryMaxMs: config.AGGREGATOR_RETRY_MAX_MS,
    heartbeatIntervalMs: config.AGGREGATOR_HEARTBEAT_INTERVAL_MS,
  });
  const consumer = new AggregatorConsumer(config, logger, kafka, admin, gateway, publisher, aggregator, cache, metrics);
  const checks: ReadinessCheck[] = [
    { name: 'kafka', check: () => admin.describeCluster() },
    { name: 'clickhouse', check: () => gateway.ping() },
  ];

  @Module({
    imports: [MetricsModule.forRegistry(registry), HealthModule.forChecks({ useFactory: () => checks })],
    providers: [{ provide: CONSUMER, useValue: consumer }, Lifecycle],
  })
  class WindowAggregatorModule {}
  return WindowAggregatorModule;
}
