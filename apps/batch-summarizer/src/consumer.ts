import { Admin, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { consumerLag, ensureTopics, KafkaEventPublisher } from '@pipeline/kafka';
import type { Logger } from '@pipeline/platform';
import { backoffDelay, sleep } from '@pipeline/platform';
import { S3ObjectStore } from '@pipeline/s3';
import { BatchProcessor } from './batch-processor';
import { processFetchedBatch } from './fetched-batch';
import { SummarizerMetrics } from './metrics';
import { WeightedLimiter } from './ordered-pool';

export interface ConsumerSettings {
  groupId: string;
  inputTopic: string;
  insightTopic: string;
  dlqTopic: string;
  partitions: number;
  replicationFactor: number;
  partitionsConcurrency: number;
  /** Events of one partition's fetched batch worked on at the same time. */
  eventConcurrency: number;
  /** Entries of all events in flight (every partition together) at most. */
  maxEntriesInFlight: number;
  lagIntervalMs: number;
  sessionTimeoutMs: number;
  retryMaxMs: number;
}

/**
 * The consumer group on `batch-ingested`. Partitions are worked on concurrently, and so are the
 * records of one partition's fetched batch (events are independent batches). An offset is
 * resolved only once its record and every earlier one of the partition have their partials (or
 * dead letter) acknowledged, so what is committed is always done, whatever order the records
 * finish in. A record delivered twice in one fetch is harmless: the summary write is create-only
 * and both copies send the same partials, which the aggregator de-duplicates. Provisioning
 * (bucket, topics) and (re)joining retry until they succeed, so the service recovers on its own
 * from S3 or Kafka being down at start, and from a consumer crash kafkajs itself would not restart.
 */
export class SummarizerConsumer {
  private consumer?: Consumer;
  private stopping = false;
  private consuming = false;
  private starting?: Promise<void>;
  private lagTimer?: NodeJS.Timeout;
  private lagInFlight = false;
  /** Consecutive consumer crashes; spaces out kafkajs's own restarts while Kafka is down. */
  private crashes = 0;
  private readonly limiter: WeightedLimiter;

  constructor(
    private readonly kafka: Kafka,
    private readonly admin: Admin,
    private readonly publisher: KafkaEventPublisher,
    private readonly store: S3ObjectStore,
    private readonly processor: BatchProcessor,
    private readonly metrics: SummarizerMetrics,
    private readonly settings: ConsumerSettings,
    private readonly logger: Logger,
  ) {
    this.limiter = new WeightedLimiter(settings.maxEntriesInFlight);
  }

  /** Whether the consumer has joined and is fetching; part of readiness. */
  get isConsuming(): boolean {
    return this.consuming;
  }

  /** Starts in the background; returns at once. */
  start(): void {
    this.starting ??= this.startUntilDone().finally(() => {
      this.starting = undefined;
    });
    this.lagTimer ??= setInterval(() => void this.refreshLag(), this.settings.lagIntervalMs);
    this.lagTimer.unref();
  }

  /** Finishes the records in flight, commits them, leaves the group and closes the clients. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.lagTimer);
    await this.starting?.catch(() => undefined);
    const consumer = this.consumer;
    this.consumer = undefined;
    this.consuming = false;
    await consumer?.disconnect().catch((err) => this.logger.warn({ err }, 'consumer disconnect failed'));
    await this.publisher.disconnect().catch((err) => this.logger.warn({ err }, 'producer disconnect failed'));
    await this.admin.disconnect().catch(() => undefined);
    this.store.destroy();
    this.logger.info('summarizer consumer stopped');
  }

  async pingKafka(): Promise<void> {
    await this.admin.describeCluster();
  }

  private async startUntilDone(): Promise<void> {
    for (let attempt = 0; !this.stopping; attempt++) {
      try {
        await this.provisionAndRun();
        return;
      } catch (err) {
        if (this.stopping) return;
        const delayMs = backoffDelay(attempt, 500, this.settings.retryMaxMs);
        this.logger.warn({ err: (err as Error)?.message ?? String(err), attempt: attempt + 1, delayMs }, 'summarizer start failed; retrying');
        await sleep(delayMs);
      }
    }
  }

  private async provisionAndRun(): Promise<void> {
    const s = this.settings;
    await this.store.ensureBucket();
    await this.admin.connect();
    await ensureTopics(
      this.admin,
      [s.inputTopic, s.insightTopic, s.dlqTopic].map((topic) => ({ topic, numPartitions: s.partitions, replicationFactor: s.replicationFactor })),
    );
    await this.publisher.connect();

    const consumer = this.kafka.consumer({
      groupId: s.groupId,
      sessionTimeout: s.sessionTimeoutMs,
      rebalanceTimeout: Math.max(60_000, s.sessionTimeoutMs),
      heartbeatInterval: Math.max(500, Math.floor(s.sessionTimeoutMs / 10)),
      allowAutoTopicCreation: false,
      retry: {
        retries: 8,
        initialRetryTime: 300,
        maxRetryTime: s.retryMaxMs,
        // kafkajs restarts a crashed consumer almost at once; while Kafka is down that is a
        // tight reconnect loop, so each restart waits a growing, capped delay first.
        restartOnFailure: async () => {
          await sleep(backoffDelay(this.crashes++, 500, s.retryMaxMs));
          return !this.stopping;
        },
      },
    });
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      this.consuming = true;
      this.crashes = 0;
      this.logger.info({ memberId: e.payload.memberId, assignment: e.payload.memberAssignment }, 'joined consumer group');
    });
    consumer.on(consumer.events.CRASH, (e) => {
      this.consuming = false;
      this.logger.error({ err: e.payload.error?.message, restart: e.payload.restart }, 'consumer crashed');
      // kafkajs restarts by itself after retriable errors; after the others nothing would consume.
      if (!e.payload.restart && !this.stopping && this.consumer === consumer) void this.replace(consumer);
    });
    try {
      await consumer.connect();
      // A new group starts at the earliest offset: events published before it first joined count too.
      await consumer.subscribe({ topics: [s.inputTopic], fromBeginning: true });
      await consumer.run({
        partitionsConsumedConcurrently: s.partitionsConcurrency,
        eachBatchAutoResolve: false,
        autoCommit: true,
        autoCommitInterval: 1_000,
        eachBatch: (payload) => this.eachBatch(payload),
      });
    } catch (err) {
      await consumer.disconnect().catch(() => undefined);
      throw err;
    }
    if (this.stopping) {
      await consumer.disconnect().catch(() => undefined);
      return;
    }
    this.consumer = consumer;
  }

  private async replace(crashed: Consumer): Promise<void> {
    this.consumer = undefined;
    await crashed.disconnect().catch(() => undefined);
    if (!this.stopping) this.start();
  }

  private eachBatch(payload: EachBatchPayload): Promise<void> {
    return processFetchedBatch(payload, {
      handler: this.processor,
      eventConcurrency: this.settings.eventConcurrency,
      limiter: this.limiter,
      isStopping: () => this.stopping,
      inFlight: this.metrics.inFlight,
      logger: this.logger,
    });
  }

  private async refreshLag(): Promise<void> {
    if (this.lagInFlight || !this.consuming) return;
    this.lagInFlight = true;
    try {
      for (const { topic, partition, lag } of await consumerLag(this.admin, this.settings.groupId, this.settings.inputTopic)) {
        this.metrics.lag.set({ topic, partition: String(partition) }, lag);
      }
    } catch (err) {
      this.logger.debug({ err: (err as Error)?.message }, 'consumer lag not available');
    } finally {
      this.lagInFlight = false;
    }
  }
}
