import type { EventPublisher, OutboundMessage } from '@pipeline/kafka';
import {
  emptyWindowState,
  KnownWindow,
  mergeBatch,
  OffsetPartial,
  Partial,
  parsePartial,
  WindowStateCache,
} from '@pipeline/partial';
import { retryUntilStopped } from '@pipeline/platform';
import { windowKey } from '@pipeline/window';
import type { Batch, EachBatchPayload } from 'kafkajs';
import type { Logger } from 'pino';
import { AggregatorMetrics, RetriedOperation } from './metrics';
import { WindowRef, WindowStore } from './window-store';

/** The part of a kafkajs eachBatch call the aggregator uses. */
export type BatchContext = Pick<EachBatchPayload, 'resolveOffset' | 'heartbeat' | 'commitOffsetsIfNecessary' | 'isRunning' | 'isStale'> & {
  batch: Pick<Batch, 'topic' | 'partition' | 'messages' | 'lastOffset'>;
};

export interface AggregatorOptions {
  dlqTopic: string;
  allowedLatenessMs: number;
  retryMaxMs: number;
  heartbeatIntervalMs: number;
}

type Membership = { lost: unknown; stop: () => void };

/** Why a message went to the dead-letter topic (a closed set, so it can be a label). */
export type PoisonCode = 'empty' | 'not_json' | 'invalid_partial' | 'key_mismatch';

type Check = { ok: true; value: Partial } | { ok: false; code: PoisonCode; reason: string };

type Poison = { message: Batch['messages'][number]; code: PoisonCode; reason: string };

/**
 * Turns fetched batches of partials into window revisions. Per batch: validate, load the states
 * that are not in memory (one query), merge, write one revision per changed window (one insert),
 * and only then commit the offsets. A crash anywhere before the commit redelivers the batch, and
 * every partial of it that reached ClickHouse is then found in its window's batch ids.
 */
export class WindowAggregator {
  /** Bumped on every group join: a batch that straddles a rebalance must not refill the cache. */
  private generation = 0;
  /** Per partition: the latest window start seen (event time), for lateness. */
  private readonly watermarks = new Map<number, number>();

  constructor(
    private readonly store: WindowStore,
    private readonly dlq: EventPublisher,
    private readonly cache: WindowStateCache,
    private readonly metrics: AggregatorMetrics,
    private readonly logger: Logger,
    private readonly options: AggregatorOptions,
  ) {}

  /**
   * A new assignment starts clean: the partitions held before may have been written by another
   * instance meanwhile, so every window is reloaded from ClickHouse when next touched.
   */
  onGroupJoin(): void {
    this.generation++;
    this.cache.clear();
    this.watermarks.clear();
  }

  async handleBatch(ctx: BatchContext): Promise<void> {
    if (ctx.batch.messages.length === 0 || !ctx.isRunning() || ctx.isStale()) return;
    const membership = this.keepMembership(ctx);
    try {
      await this.process(ctx, membership);
    } finally {
      membership.stop();
    }
  }

  /**
   * Heartbeats while a batch is in progress, so a slow ClickHouse call does not cost the
   * partitions; when the group starts rebalancing, the batch gives up at its next retry and
   * leaves its offsets uncommitted.
   */
  private keepMembership(ctx: BatchContext): Membership {
    const membership: Membership = { lost: undefined, stop: () => clearInterval(timer) };
    const timer = setInterval(() => {
      ctx.heartbeat().catch((err: unknown) => {
        membership.lost ??= err;
      });
    }, this.options.heartbeatIntervalMs);
    timer.unref();
    return membership;
  }

  private async process(ctx: BatchContext, membership: Membership): Promise<void> {
    const { batch } = ctx;
    const generation = this.generation;
    const started = performance.now();
    const { topic, partition } = batch;

    const valid: OffsetPartial[] = [];
    const poison: Poison[] = [];
    for (const message of batch.messages) {
      const checked = this.check(message);
      if (checked.ok) valid.push({ offset: toOffset(message.offset), partial: checked.value });
      else poison.push({ message, code: checked.code, reason: checked.reason });
    }

    if (poison.length > 0) {
      // Dead letters are durable before the offsets move past them: nothing vanishes silently.
      await this.retry(ctx, membership, 'dlq', () => this.dlq.publish(this.options.dlqTopic, poison.map((p) => this.deadLetter(topic, partition, p))));
      for (const p of poison) {
        this.metrics.invalid.inc({ reason: p.code });
        this.logger.warn({ topic, partition, offset: p.message.offset, reasonCode: p.code, reason: p.reason }, 'invalid partial sent to the dead-letter topic');
      }
    }

    const known = new Map<string, KnownWindow>();
    const missing = new Map<string, WindowRef>();
    for (const { partial } of valid) {
      const key = windowKey(partial.customerId, partial.windowStart);
      if (known.has(key) || missing.has(key)) continue;
      const cached = this.cache.get(key);
      if (cached) known.set(key, { state: cached, source: 'memory' });
      else missing.set(key, { customerId: partial.customerId, windowStart: partial.windowStart });
    }
    let loadMs = 0;
    let writeMs = 0;
    if (missing.size > 0) {
      const loadStart = performance.now();
      const loaded = await this.retry(ctx, membership, 'load', () => this.store.load([...missing.values()]));
      loadMs = performance.now() - loadStart;
      this.metrics.windowsLoaded.inc(missing.size);
      for (const [key, w] of missing) {
        known.set(key, { state: loaded.get(key) ?? emptyWindowState(w.customerId, w.windowStart), source: 'store' });
      }
    }

    const result = mergeBatch({ items: valid, known, watermarkMs: this.watermarks.get(partition), allowedLatenessMs: this.options.allowedLatenessMs });

    if (result.changed.length > 0) {
      const writeStart = performance.now();
      await this.retry(ctx, membership, 'write', () => this.store.write(result.changed));
      writeMs = performance.now() - writeStart;
      this.metrics.flushDuration.observe(writeMs / 1000);
      this.metrics.rowsWritten.inc(result.changed.length);
    }

    // From here on the batch is durable: memory may reflect it.
    if (generation === this.generation) {
      for (const { state } of known.values()) if (state.revision > 0) this.cache.put(state);
      for (const state of result.changed) this.cache.put(state);
      if (result.watermarkMs !== undefined) this.watermarks.set(partition, result.watermarkMs);
    }
    this.metrics.merged.inc(result.merged);
    this.metrics.duplicates.inc(result.duplicates);
    this.metrics.late.inc(result.late);
    const debug = this.logger.isLevelEnabled('debug');
    for (const o of result.outcomes) {
      if (o.outcome === 'merged' && !o.late && !debug) continue;
      const fields = { batchId: o.partial.batchId, customerId: o.partial.customerId, window: o.partial.windowStart, partition, offset: o.offset };
      if (o.outcome === 'duplicate') this.logger.info(fields, 'partial ignored: its batch is already part of the window');
      else if (o.late) this.logger.info(fields, 'late partial merged as a new revision of a written window');
      else this.logger.debug(fields, 'partial merged');
    }

    const last = batch.lastOffset();
    ctx.resolveOffset(last);
    const commitStart = performance.now();
    await ctx.commitOffsetsIfNecessary({ topics: [{ topic, partitions: [{ partition, offset: (BigInt(last) + 1n).toString() }] }] });
    const ms = (n: number) => Math.round(n * 10) / 10;
    this.logger.debug(
      {
        topic,
        partition,
        lastOffset: last,
        messages: batch.messages.length,
        merged: result.merged,
        duplicates: result.duplicates,
        late: result.late,
        rows: result.changed.length,
        loadMs: ms(loadMs),
        writeMs: ms(writeMs),
        commitMs: ms(performance.now() - commitStart),
        totalMs: ms(performance.now() - started),
      },
      'batch written and committed',
    );
  }

  private check(message: Batch['messages'][number]): Check {
    if (!message.value || message.value.length === 0) return { ok: false, code: 'empty', reason: 'empty message' };
    let decoded: unknown;
    try {
      decoded = JSON.parse(message.value.toString('utf8'));
    } catch {
      return { ok: false, code: 'not_json', reason: 'not JSON' };
    }
    const parsed = parsePartial(decoded);
    if (!parsed.ok) return { ok: false, code: 'invalid_partial', reason: parsed.reason };
    // One writer per window holds only if every partial of a window lands on its partition.
    const expectedKey = windowKey(parsed.value.customerId, parsed.value.windowStart);
    if (message.key?.toString('utf8') !== expectedKey) return { ok: false, code: 'key_mismatch', reason: `key does not match the window (expected ${expectedKey})` };
    return parsed;
  }

  private deadLetter(topic: string, partition: number, p: Poison): OutboundMessage {
    return {
      key: p.message.key?.toString('utf8') ?? '',
      value: p.message.value ?? Buffer.alloc(0),
      headers: { 'dlq-reason-code': p.code, 'dlq-reason': p.reason, 'dlq-source-topic': topic, 'dlq-source-partition': String(partition), 'dlq-source-offset': p.message.offset },
    };
  }

  /**
   * Retries until success: giving up would mean skipping offsets (a loss) or holding state that
   * is not durable. Heartbeats keep the membership while waiting; a rebalance or a stop ends the
   * batch without a commit, so it is redelivered to whoever owns the partition next.
   */
  private retry<T>(ctx: BatchContext, membership: Membership, operation: RetriedOperation, fn: () => Promise<T>): Promise<T> {
    const once = async () => {
      try {
        return await fn();
      } catch (err) {
        if (operation !== 'dlq') this.metrics.clickhouseErrors.inc({ operation });
        throw err;
      }
    };
    return retryUntilStopped(once, {
      shouldStop: () => !ctx.isRunning() || ctx.isStale() || membership.lost !== undefined,
      maxMs: this.options.retryMaxMs,
      onRetry: async (err, attempt, delayMs) => {
        this.metrics.retries.inc({ operation });
        this.logger.warn({ operation, attempt, delayMs, topic: ctx.batch.topic, partition: ctx.batch.partition, err: (err as Error).message }, `${operation} failed; retrying`);
        await ctx.heartbeat();
      },
    });
  }
}

function toOffset(offset: string): number {
  const n = Number(offset);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`offset ${offset} is beyond the safe integer range`);
  return n;
}
