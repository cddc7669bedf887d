import { backoffDelay, errorMessage, Logger, ReadinessCheck, Runtime, sleep, Source } from '@pipeline/platform';
import { Consumer, Kafka } from 'kafkajs';
import { KafkaProbe } from '../client';
import { consumerLag } from '../lag';
import { EventPublisher } from '../producer';
import { ConsumerMetrics } from './metrics';
import { WeightedLimiter } from './ordered-pool';
import { PartitionWorker, PartitionWorkerOptions } from './partition-worker';

/** How long a drain waits for follow-ups still running before it commits what is done. */
const DRAIN_FOLLOW_UP_MS = 5_000;

export interface KafkaSourceOptions extends PartitionWorkerOptions {
  partitionsConsumedConcurrently: number;
  /** Bytes of messages in flight over all partitions; beyond it no new unit starts, so fetching pauses. */
  maxBytesInFlight: number;
  sessionTimeoutMs: number;
  fetch?: { minBytes?: number; maxWaitTimeInMs?: number; maxBytesPerPartition?: number };
  /** A partition retrying a transient failure for longer than this makes the service unready. */
  stallUnreadyAfterMs: number;
  lagIntervalMs: number;
}

/**
 * A consumer group member, the same for every consuming service: it joins with retry (also while
 * Kafka is down at start), restarts after any crash with a growing delay, works on units of
 * messages with bounded concurrency and memory, commits only a contiguous prefix of finished
 * work, keeps its membership alive during long calls, reports lag and stalls, and on drain
 * finishes what is in flight and commits before leaving the group.
 *
 * Failures follow one policy (consumerAction in the platform's failure module). A failure of a
 * dependency, whether it is down, slow or answering but refusing writes, holds the unit with
 * capped exponential backoff for as long as it takes; the partition waits (nothing is skipped),
 * `consumer_stalled_seconds` and `consumer_held_partitions` show it and readiness goes false, with
 * the reason, after `stallUnreadyAfterMs`. A failure proven to come from the input never stalls a
 * partition: a unit of several messages is split in halves until the offending message is alone,
 * which goes to the dead-letter topic with its reason in headers, and the partition moves on.
 */
export class KafkaSource implements Source {
  readonly name: string;
  private consumer?: Consumer;
  private readonly probe: KafkaProbe;
  private stopping = false;
  private joined = false;
  private starting?: Promise<void>;
  private lagTimer?: NodeJS.Timeout;
  private crashes = 0;
  private readonly limiter: WeightedLimiter;
  private readonly worker: PartitionWorker;
  private readonly metrics: ConsumerMetrics;
  private readonly log: Logger;

  constructor(
    private readonly kafka: Kafka,
    private readonly dlq: EventPublisher,
    private readonly options: KafkaSourceOptions,
    runtime: Pick<Runtime, 'logger' | 'registry'>,
  ) {
    this.name = `${options.topic} consumer`;
    this.probe = new KafkaProbe(kafka, [options.topic]);
    this.limiter = new WeightedLimiter(options.maxBytesInFlight);
    this.log = runtime.logger.child({ topic: options.topic, groupId: options.groupId });
    this.metrics = new ConsumerMetrics(runtime.registry, () => this.worker.stalledSeconds(), () => this.limiter.inUse, () => this.worker.heldPartitions());
    this.worker = new PartitionWorker(options, dlq, this.limiter, this.metrics, this.log, () => this.stopping);
  }

  get readiness(): ReadinessCheck[] {
    return [
      {
        name: 'consumer',
        check: async () => {
          if (!this.joined) throw new Error(`not a member of consumer group ${this.options.groupId} yet`);
          const now = Date.now();
          const worst = this.worker.oldestStall();
          if (worst && now - worst.since > this.options.stallUnreadyAfterMs) {
            throw new Error(`partition ${worst.partition} held for ${Math.round((now - worst.since) / 1000)} s: ${worst.error}`);
          }
        },
      },
    ];
  }

  start(): void {
    this.starting ??= this.joinUntilDone().finally(() => {
      this.starting = undefined;
    });
    this.lagTimer ??= setInterval(() => void this.refreshLag(), this.options.lagIntervalMs);
    this.lagTimer.unref();
  }

  /** Stops taking new work, lets units in flight finish (or give up unacknowledged), commits, leaves the group. */
  async drain(): Promise<void> {
    this.stopping = true;
    clearInterval(this.lagTimer);
    await this.starting?.catch(() => undefined);
    // Partitions idle since their last units finished still have a prefix waiting for its commit,
    // and follow-ups (UnitContext.commitAfter) get a moment to finish so less is redelivered.
    await this.worker.flushCommits(DRAIN_FOLLOW_UP_MS);
    const consumer = this.consumer;
    this.consumer = undefined;
    this.joined = false;
    await consumer?.disconnect().catch((err) => this.log.warn({ err: errorMessage(err) }, 'consumer disconnect failed'));
    await this.probe.close();
    this.log.info('consumer stopped');
  }

  private async joinUntilDone(): Promise<void> {
    for (let attempt = 0; !this.stopping; attempt++) {
      try {
        await this.join();
        return;
      } catch (err) {
        if (this.stopping) return;
        const delayMs = backoffDelay(attempt, this.options.retry.baseMs, this.options.retry.maxMs);
        this.log.warn({ err: errorMessage(err), attempt: attempt + 1, delayMs }, 'joining the consumer group failed; retrying');
        await sleep(delayMs);
      }
    }
  }

  private async join(): Promise<void> {
    const o = this.options;
    const consumer = this.kafka.consumer({
      groupId: o.groupId,
      sessionTimeout: o.sessionTimeoutMs,
      rebalanceTimeout: Math.max(60_000, o.sessionTimeoutMs),
      heartbeatInterval: o.heartbeatIntervalMs,
      minBytes: o.fetch?.minBytes,
      maxWaitTimeInMs: o.fetch?.maxWaitTimeInMs,
      maxBytesPerPartition: o.fetch?.maxBytesPerPartition,
      allowAutoTopicCreation: false,
      retry: {
        retries: 8,
        initialRetryTime: 300,
        maxRetryTime: o.retry.maxMs,
        // kafkajs restarts a crashed consumer almost at once; while Kafka is down that is a tight
        // reconnect loop, so each restart waits a growing, capped delay first.
        restartOnFailure: async (err) => {
          this.metrics.restarts.inc({ topic: o.topic, reason: 'crash' });
          this.log.warn({ err: errorMessage(err), restarts: this.crashes + 1 }, 'consumer crashed; restarting (uncommitted work is redelivered)');
          await sleep(backoffDelay(this.crashes++, o.retry.baseMs, o.retry.maxMs));
          return !this.stopping;
        },
      },
    });
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      this.joined = true;
      this.crashes = 0;
      this.worker.reset();
      this.metrics.rebalances.inc({ topic: o.topic });
      o.handler.onAssignment?.();
      this.log.info({ memberId: e.payload.memberId, assignment: e.payload.memberAssignment }, 'joined the consumer group');
    });
    consumer.on(consumer.events.CRASH, (e) => {
      this.joined = false;
      // kafkajs restarts by itself after retriable errors; after the others nothing would consume,
      // so the member is replaced: one crash policy, whatever the error.
      if (!e.payload.restart && !this.stopping && this.consumer === consumer) {
        this.metrics.restarts.inc({ topic: o.topic, reason: 'fatal' });
        this.log.error({ err: errorMessage(e.payload.error) }, 'consumer stopped after a non-retriable error; replacing it');
        void this.replace(consumer);
      }
    });
    try {
      await consumer.connect();
      // A new group starts at the earliest offset: messages published before it first joined count too.
      await consumer.subscribe({ topics: [o.topic], fromBeginning: true });
      await consumer.run({
        partitionsConsumedConcurrently: o.partitionsConsumedConcurrently,
        eachBatchAutoResolve: false,
        autoCommit: false,
        eachBatch: (payload) => this.worker.run(payload),
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
    await sleep(backoffDelay(this.crashes++, this.options.retry.baseMs, this.options.retry.maxMs));
    if (!this.stopping) this.start();
  }

  /** Resolves when the brokers answer a metadata request for the topic (readiness). */
  ping(): Promise<void> {
    return this.probe.ping();
  }

  private async refreshLag(): Promise<void> {
    if (!this.joined) return;
    try {
      for (const { topic, partition, lag } of await consumerLag(await this.probe.client(), this.options.groupId, this.options.topic)) {
        this.metrics.lag.set({ topic, partition: String(partition) }, lag);
      }
    } catch (err) {
      this.log.debug({ err: errorMessage(err) }, 'consumer lag not available');
    }
  }
}
