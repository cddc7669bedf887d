import { ClickHouseGateway, clickHouseSettingsFromEnv, readMigrations } from '@pipeline/clickhouse';
import { consumerSettings, createKafka, KafkaEventPublisher, kafkaSettingsFromEnv, KafkaSource, provisionTopics, topicSettingsFromEnv } from '@pipeline/kafka';
import { WindowStateCache } from '@pipeline/partial';
import { ServiceDefinition } from '@pipeline/platform';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { WindowAggregator } from './aggregator';
import { AggregatorConfig, aggregatorEnv } from './config';
import { AggregatorMetrics } from './metrics';
import { ClickHouseRetention } from './retention';
import { RollupRefresher } from './rollup-refresher';
import { ClickHouseWindowStore } from './window-store';

/** The migrations shipped next to the bundle, or the repository's when running from sources. */
export function migrationsDir(config: Pick<AggregatorConfig, 'CLICKHOUSE_MIGRATIONS_DIR'>): string {
  if (config.CLICKHOUSE_MIGRATIONS_DIR) return resolve(config.CLICKHOUSE_MIGRATIONS_DIR);
  const candidates = [join(__dirname, 'migrations'), resolve(__dirname, '../../../infra/clickhouse/migrations')];
  const found = candidates.find((dir) => existsSync(dir));
  if (!found) throw new Error(`no ClickHouse migrations found in ${candidates.join(' or ')}; set CLICKHOUSE_MIGRATIONS_DIR`);
  return found;
}

/**
 * insight-events -> merge per window -> window revisions in ClickHouse.
 * Source: the consumer group on insight-events (one writer per window: its partials share a key).
 * Sinks: ClickHouse (states loaded, revisions written), Kafka (dead letters).
 */
export const aggregatorService: ServiceDefinition<typeof aggregatorEnv> = {
  name: 'window-aggregator',
  env: aggregatorEnv,
  build(config, runtime) {
    const migrations = readMigrations(migrationsDir(config));
    const kafka = createKafka(kafkaSettingsFromEnv(config, 'window-aggregator'), runtime.logger);
    const publisher = new KafkaEventPublisher(kafka, config.KAFKA_REQUEST_TIMEOUT_MS);
    const gateway = ClickHouseGateway.fromSettings(clickHouseSettingsFromEnv(config));
    const cache = new WindowStateCache({ maxBytes: config.AGGREGATOR_WINDOW_CACHE_BYTES, idleEvictMs: config.AGGREGATOR_IDLE_EVICT_MS });
    const store = new ClickHouseWindowStore(gateway);
    const consumer = consumerSettings('AGGREGATOR', config);
    // The gauge reads the refresher when scraped, after both exist.
    const metrics: AggregatorMetrics = new AggregatorMetrics(runtime.registry, () => ({ windows: cache.size, bytes: cache.bytes }), (): number => rollups.delayMs());
    const rollups: RollupRefresher = new RollupRefresher((windows) => store.refreshRollups(windows), {
      minIntervalMs: config.AGGREGATOR_ROLLUP_INTERVAL_MS,
      retry: consumer.retry,
    }, metrics, runtime.logger);
    const handler = new WindowAggregator(store, rollups, cache, metrics, runtime.logger, {
      allowedLatenessMs: config.AGGREGATOR_ALLOWED_LATENESS_SECONDS * 1000,
      maxPathsPerWindow: config.AGGREGATOR_MAX_PATHS_PER_WINDOW,
      retentionDays: config.CLICKHOUSE_RETENTION_DAYS,
    });
    const retention = new ClickHouseRetention(gateway, {
      days: config.CLICKHOUSE_RETENTION_DAYS,
      mode: config.CLICKHOUSE_RETENTION_MODE,
      intervalMs: config.CLICKHOUSE_RETENTION_INTERVAL_MS,
      logger: runtime.logger,
      registry: runtime.registry,
    });
    const source = new KafkaSource(
      kafka,
      publisher,
      {
        ...consumer,
        topic: config.TOPIC_INSIGHT_EVENTS,
        dlqTopic: config.TOPIC_INSIGHT_EVENTS_DLQ,
        handler,
        unit: 'batch',
        concurrency: 1,
        // A row into the probe table: ClickHouse takes writes, so a failure nobody classified that
        // keeps coming back for one partial is that partial's.
        canary: () => store.probeWrite(),
      },
      runtime,
    );
    const evictIdle = setInterval(() => cache.evictIdle(), Math.min(config.AGGREGATOR_IDLE_EVICT_MS, 5_000));
    evictIdle.unref();

    return {
      async provision() {
        const applied = await gateway.migrate(migrations, (step) => runtime.logger.info({ database: gateway.database, ...step }, 'ClickHouse migration: a month done'), {
          replicated: config.CLICKHOUSE_REPLICATED,
        });
        runtime.logger.info({ database: gateway.database, applied }, 'ClickHouse schema up to date');
        await retention.prepare();
        runtime.logger.info({ retentionDays: config.CLICKHOUSE_RETENTION_DAYS, mechanism: retention.mechanism }, 'ClickHouse retention in force');
        await provisionTopics(kafka, [config.TOPIC_INSIGHT_EVENTS, config.TOPIC_INSIGHT_EVENTS_DLQ], topicSettingsFromEnv(config));
        await publisher.connect();
      },
      sources: [source, retention],
      sinks: [
        {
          name: 'clickhouse',
          ping: () => gateway.ping(),
          close: () => {
            rollups.close();
            return gateway.close();
          },
        },
        { name: 'kafka', ping: () => source.ping(), close: () => publisher.disconnect() },
      ],
    };
  },
};
