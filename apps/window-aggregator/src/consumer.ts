import { ClickHouseGateway, readMigrations } from '@pipeline/clickhouse';
import { consumerLag, ensureTopics, KafkaEventPublisher } from '@pipeline/kafka';
import { WindowStateCache } from '@pipeline/partial';
import { Admin, Consumer, Kafka } from 'kafkajs';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { WindowAggregator } from './aggregator';
import { AggregatorConfig } from './config';
import { AggregatorMetrics } from './metrics';

/** The migrations shipped next to the bundle, or the repository's when running from sources. */
export function migrationsDir(config: Pick<AggregatorConfig, 'CLICKHOUSE_MIGRATIONS_DIR'>): string {
  if (config.CLICKHOUSE_MIGRATIONS_DIR) return resolve(config.CLICKHOUSE_MIGRATIONS_DIR);
  const candidates = [join(__dirname, 'migrations'), resolve(__dirname, '../../../infra/clickhouse/migrations')];
  const found = candidates.find((dir) => existsSync(dir));
  if (!found) throw new Error(`no ClickHouse migrations found in ${candidates.join(' or ')}; set CLICKHOUSE_MIGRATIONS_DIR`);
  return found;
}

/**
 * Lifecycle of the consumer: schema and topics first, then the group; on shutdown the consumer
 * stops after its in-flight batch (written and committed, or left uncommitted) and the clients close.
 */
export class AggregatorConsumer {
  private consumer?: Consumer;
  private timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly config: AggregatorConfig,
    private readonly logger: Logger,
    private readonly kafka: Kafka,
    private readonly admin: Admin,
    private readonly gateway: ClickHouseGateway,
    private readonly publisher: KafkaEventPublisher,
    private readonly aggregator: WindowAggregator,
    private readonly cache: WindowStateCache,
    private readonly metrics: AggregatorMetrics,
  ) {}

  async start(): Promise<void> {
    const c = this.config;
    const dir = migrationsDir(c);
    const applied = await this.gateway.migrate(readMigrations(dir));
    this.logger.info({ database: this.gateway.database, dir, applied }, 'ClickHouse schema up to date');

    await this.admin.connect();
    await ensureTopics(this.admin, [
      { topic: c.TOPIC_INSIGHT_EVENTS, numPartitions: c.KAFKA_TOPIC_PARTITIONS, replicationFactor: c.KAFKA_REPLICATION_FACTOR },
      { topic: c.TOPIC_INSIGHT_EVENTS_DLQ, numPartitions: c.KAFKA_TOPIC_PARTITIONS, replicationFactor: c.KAFKA_REPLICATION_FACTOR },
    ]);

    const consumer = this.kafka.consumer({
      groupId: c.AGGREGATOR_GROUP_ID,
      sessionTimeout: c.AGGREGATOR_SESSION_TIMEOUT_MS,
      heartbeatInterval: c.AGGREGATOR_HEARTBEAT_INTERVAL_MS,
      minBytes: c.AGGREGATOR_FETCH_MIN_BYTES,
      maxWaitTimeInMs: c.AGGREGATOR_FETCH_MAX_WAIT_MS,
      maxBytesPerPartition: c.AGGREGATOR_FETCH_MAX_BYTES_PER_PARTITION,
      allowAutoTopicCreation: false,
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      this.aggregator.onGroupJoin();
      this.logger.info({ groupId: e.payload.groupId, memberId: e.payload.memberId, assignment: e.payload.memberAssignment }, 'joined the consumer group; window states reload from ClickHouse');
    });
    consumer.on(consumer.events.CRASH, (e) => {
      const { error, restart } = e.payload;
      if (restart) {
        this.logger.warn({ err: error?.message }, 'consumer crashed; it restarts and the uncommitted batch is redelivered');
        return;
      }
      // Without a consumer this process does nothing useful; exiting lets the supervisor restart it.
      this.logger.fatal({ err: error?.message }, 'consumer stopped for good; exiting');
      process.exit(1);
    });
    await consumer.connect();
    await consumer.subscribe({ topic: c.TOPIC_INSIGHT_EVENTS, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: c.AGGREGATOR_PARTITIONS_CONCURRENCY,
      eachBatch: (payload) => this.aggregator.handleBatch(payload),
    });
    this.logger.info({ topic: c.TOPIC_INSIGHT_EVENTS, groupId: c.AGGREGATOR_GROUP_ID }, 'consuming partials');

    this.every(c.AGGREGATOR_LAG_INTERVAL_MS, () => this.refreshLag());
    this.every(Math.min(c.AGGREGATOR_IDLE_EVICT_MS, 5_000), async () => {
      this.cache.evictIdle();
    });
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    // The in-flight batch either finishes (written, then committed) or gives up uncommitted; with
    // Kafka unreachable the disconnect may hang, so it is bounded: uncommitted work is redelivered.
    const disconnect = this.consumer?.disconnect().catch((err) => this.logger.warn({ err: (err as Error).message }, 'consumer disconnect failed'));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), this.config.SHUTDOWN_TIMEOUT_MS);
    });
    const timedOut = await Promise.race([disconnect?.then(() => false) ?? false, deadline]);
    clearTimeout(timer);
    if (timedOut) this.logger.warn({ timeoutMs: this.config.SHUTDOWN_TIMEOUT_MS }, 'consumer did not stop in time; leaving its uncommitted batch for redelivery');
    await this.publisher.disconnect().catch(() => undefined);
    await this.admin.disconnect().catch(() => undefined);
    await this.gateway.close().catch(() => undefined);
    this.logger.info('consumer stopped');
  }

  private every(ms: number, task: () => Promise<void>): void {
    const timer = setInterval(() => {
      task().catch((err) => this.logger.debug({ err: (err as Error).message }, 'periodic task failed'));
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }

  private async refreshLag(): Promise<void> {
    const lags = await consumerLag(this.admin, this.config.AGGREGATOR_GROUP_ID, this.config.TOPIC_INSIGHT_EVENTS);
    for (const l of lags) this.metrics.lag.set({ topic: l.topic, partition: String(l.partition) }, l.lag);
  }
}
