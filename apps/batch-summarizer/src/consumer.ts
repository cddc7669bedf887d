import { Admin, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { consumerLag, ensureTopics, KafkaEventPublisher } from '@pipeline/kafka';
import type { Logger } from '@pipeline/platform';
import { backoffDelay, sleep } from '@pipeline/platform';
import { S3ObjectStore } from '@pipeline/s3';
import { BatchProcessor, ProcessControl, StoppedError } from './batch-processor';
import { SummarizerMetrics } from './metrics';
import { WeightedLimiter, runOrdered } from './ordered-pool';

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

/** Errors after which this member must rejoin the group: its work on the partition is void. */
const REJOIN_ERRORS = new Set(['REBALANCE_IN_PROGRESS', 'NOT_COORDINATOR_FOR_GROUP', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'FENCED_INSTANCE_ID']);
const mustRejoin = (err: unknown) => REJOIN_ERRORS.has((err as { type?: string })?.type ?? '') || (err as Error)?.name === 'KafkaJSRebalanceInProgress';

/**
 * The entry count an event announces, as its share of the in-flight budget; 1 when it has none
 * (a poison event costs next to nothing). Its full validation is the processor's job.
 */
export function announcedEntries(value: Buffer | null): number {
  if (!value || value.length === 0 || value.length > 64 * 1024) return 1;
  try {
    const entries = (JSON.parse(value.toString('utf8')) as { entries?: unknown })?.entries;
    return typeof entries === 'number' && Number.isSafeInteger(entries) && entries > 0 ? entries : 1;
  } catch {
    return 1;
  }
}

/**
 * The consumer group on `batch-ingested`. Partitions are worked on concurrently, and so are the
 * records of one partition's fetched batch (events are independent batches). An offset is
 * resolved only once its record and every earlier one of the partition have their partials (or
 * dead letter) acknowledged, so what is committed is always done, whatever order the records
 * finish in. A record delivered twice in one fetch is harmless: the summary write is create-only
 * and both copies send the same partials, which the aggregator de-duplicates. Provisioning (bucket, topics)
 * and (re)joining retry until they succeed, so the service recovers on its own from S3 or Kafka
 * being down at start, and from a consumer crash kafkajs itself would not restart.
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

  private async eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale } = payload;
    let rejoin = false;
    // Set when an event fails in a way no retry fixes: the others stop retrying, nothing new starts.
    let aborted = false;
    const ctl: ProcessControl = {
      shouldStop: () => aborted || rejoin || this.stopping || !isRunning() || isStale(),
      heartbeat: async () => {
        try {
          await heartbeat();
        } catch (err) {
          if (mustRejoin(err)) rejoin = true;
        }
      },
    };

    // Heartbeat and commit after progress, one at a time, without holding up the events.
    let upkeep: Promise<void> | undefined;
    let again = false;
    const keepUp = () => {
      if (upkeep) {
        again = true;
        return;
      }
      upkeep = (async () => {
        do {
          again = false;
          await ctl.heartbeat();
          try {
            await commitOffsetsIfNecessary();
          } catch (err) {
            // Not fatal: the resolved offset is committed with the next commit; until then a
            // restart redelivers it, which is harmless.
            if (mustRejoin(err)) rejoin = true;
            this.logger.warn({ err: (err as Error)?.message, partition: batch.partition }, 'offset commit failed; will retry');
          }
        } while (again && !rejoin);
      })().finally(() => {
        upkeep = undefined;
      });
    };

    const { messages } = batch;
    const result = await runOrdered(messages, {
      concurrency: this.settings.eventConcurrency,
      shouldStop: ctl.shouldStop,
      limiter: this.limiter,
      weightOf: (message) => announcedEntries(message.value),
      isStop: (err) => err instanceof StoppedError,
      process: async (message) => {
        this.metrics.inFlight.inc();
        try {
          await this.processor.process({ topic: batch.topic, partition: batch.partition, offset: message.offset, key: message.key, value: message.value }, ctl);
        } catch (err) {
          if (!(err instanceof StoppedError)) aborted = true;
          throw err;
        } finally {
          this.metrics.inFlight.dec();
        }
      },
      // Only a record with every earlier one done is resolved, so a commit never skips one.
      onDonePrefix: (index) => {
        resolveOffset(messages[index].offset);
        keepUp();
      },
    });
    await upkeep;
    if (result.error !== undefined) throw result.error;
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
