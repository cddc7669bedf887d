import { DEAD_LETTER_HEADERS, deadLetterHeaders } from '@pipeline/contract';
import { Backoff, consumerAction, Dependency, describeFailure, errorMessage, FailureKind, isDependencyError, kindOf, Logger, reasonCodeOf, sleep, withTimeout } from '@pipeline/platform';
import type { EachBatchPayload, IHeaders, KafkaMessage } from 'kafkajs';
import { mustRejoin } from '../errors';
import { EventPublisher, OutboundMessage } from '../producer';
import { ConsumedMessage, MessageHandler, Rejection, UnitContext } from './handler';
import { ConsumerMetrics } from './metrics';
import { KeyedShares, runOrdered, WeightedLimiter } from './ordered-pool';

/** The part of kafkajs's eachBatch payload the worker uses (a plain object in unit tests). */
export type FetchedBatch = Pick<EachBatchPayload, 'resolveOffset' | 'heartbeat' | 'commitOffsetsIfNecessary' | 'isRunning' | 'isStale'> & {
  batch: { topic: string; partition: number; messages: KafkaMessage[] };
};

export interface PartitionWorkerOptions {
  topic: string;
  groupId: string;
  dlqTopic: string;
  handler: MessageHandler;
  /**
   * `message`: every message is a unit of its own, up to `concurrency` of one partition at a time
   * (independent work such as summarizing a batch). `batch`: a fetched batch of a partition is one
   * unit (work that is cheaper together, such as one insert per batch).
   */
  unit: 'message' | 'batch';
  /** Units of one partition worked on at once (`message` units only). */
  concurrency: number;
  /** The in-flight budget a message takes (default: its value's bytes). */
  weightOf?(message: KafkaMessage): number;
  /**
   * Shares of the in-flight budget (`message` units only): messages of one key (a customer) hold
   * at most `maxWeight` at once over all partitions; the others wait unstarted while messages of
   * other keys behind them go ahead, so one customer's backlog does not queue everyone else's work.
   */
  share?: { keyOf(message: KafkaMessage): string; maxWeight: number };
  heartbeatIntervalMs: number;
  /**
   * How often a partition's done prefix is committed at most (0: as soon as it grows). A longer
   * interval spares the broker a commit per message; what is not yet committed when a member dies
   * is redelivered, which every handler tolerates.
   */
  commitIntervalMs: number;
  retry: { baseMs: number; maxMs: number };
  /**
   * A unit whose failure nobody classified (an unknown server code, a defect) is blamed on its
   * input only after this many attempts in a row with the same reason, and only with evidence
   * that the dependency works for other input (see consumerAction).
   */
  poisonAfterAttempts: number;
  /**
   * A known-good write to the consumer's store (e.g. a row into a probe table), tried when a unit
   * keeps failing in a way nobody classified and no other unit succeeded meanwhile: if it passes,
   * the store works and the unit's own input is the cause.
   */
  canary?(): Promise<unknown>;
  /** Reason code of a failure (default: reasonCodeOf). */
  reasonOf?(err: unknown): string;
}

/** The unit was left unfinished on purpose (shutdown, rebalance): its offsets must not be resolved. */
class Stopped extends Error {
  constructor() {
    super('stopped');
    this.name = 'Stopped';
  }
}

const toConsumed = (topic: string, partition: number, m: KafkaMessage): ConsumedMessage => ({
  topic,
  partition,
  offset: m.offset,
  key: m.key,
  value: m.value,
  headers: m.headers ?? {},
});

export interface Stall {
  partition: number;
  since: number;
  /** What holds it: describeFailure of the latest failure. */
  error: string;
  dependency: Dependency | 'none';
  kind: FailureKind;
}


/**
 * Works on the fetched batches of the partitions assigned to one member: runs their units with
 * bounded concurrency and memory, commits a contiguous prefix of finished work, and applies the
 * failure policy (see KafkaSource). Knows nothing of joining or leaving the group.
 */
export class PartitionWorker {
  /** Units retrying a transient failure, by `partition:first offset`. */
  private readonly stalls = new Map<string, Stall>();
  private readonly committers = new Map<number, Committer>();
  private readonly reasonOf: (err: unknown) => string;
  /** When a unit of this worker last succeeded: evidence that the dependencies work for other input. */
  private lastSuccessAt = 0;
  private readonly shares?: KeyedShares;

  constructor(
    private readonly options: PartitionWorkerOptions,
    private readonly dlq: EventPublisher,
    private readonly limiter: WeightedLimiter,
    private readonly metrics: ConsumerMetrics,
    private readonly log: Logger,
    private readonly isStopping: () => boolean,
  ) {
    this.reasonOf = options.reasonOf ?? reasonCodeOf;
    if (options.share && options.unit === 'message') this.shares = new KeyedShares(options.share.maxWeight);
  }

  /** A new assignment: stalls and pending commits of partitions this member may no longer own are void. */
  reset(): void {
    this.stalls.clear();
    for (const c of this.committers.values()) c.drop();
    this.committers.clear();
  }

  /** The oldest unit still retrying a transient failure, if any. */
  oldestStall(): Stall | undefined {
    return [...this.stalls.values()].sort((a, b) => a.since - b.since)[0];
  }

  /**
   * One fetched batch of one partition: its units run (bounded), the done prefix is resolved and
   * committed as it grows, and this returns once nothing is in flight, with the prefix committed.
   */
  async run(payload: FetchedBatch): Promise<void> {
    const { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale } = payload;
    if (batch.messages.length === 0) return;
    const o = this.options;
    const { topic, partition } = batch;
    let rejoin = false;
    const units: KafkaMessage[][] = o.unit === 'batch' ? [batch.messages] : batch.messages.map((m) => [m]);
    // What each unit asked to finish before its offsets are committed (UnitContext.commitAfter).
    const followUps: Array<Array<Promise<void>>> = units.map(() => []);
    const ctx: Omit<UnitContext, 'commitAfter'> = {
      shouldStop: () => rejoin || this.isStopping() || !isRunning() || isStale(),
      heartbeat: async () => {
        try {
          await heartbeat();
        } catch (err) {
          if (mustRejoin(err)) rejoin = true;
        }
      },
    };
    // Long calls (an outage being waited out, a large insert) must not cost the membership.
    const keeper = setInterval(() => void ctx.heartbeat(), o.heartbeatIntervalMs);
    keeper.unref();

    const committer = this.committerOf(partition);
    const commitPrefix = async (offset: string) => {
      try {
        await commitOffsetsIfNecessary({ topics: [{ topic, partitions: [{ partition, offset }] }] });
      } catch (err) {
        // Not fatal: the next commit covers it; until then a restart redelivers, which is harmless.
        if (mustRejoin(err)) rejoin = true;
        this.log.warn({ partition, err: errorMessage(err) }, 'offset commit failed; will retry with the next one');
      }
    };

    const weight = (unit: KafkaMessage[]) => unit.reduce((n, m) => n + (o.weightOf ? o.weightOf(m) : (m.value?.length ?? 0)), 0);
    try {
      const result = await runOrdered(units, {
        concurrency: o.unit === 'batch' ? 1 : o.concurrency,
        shouldStop: ctx.shouldStop,
        limiter: this.limiter,
        weightOf: weight,
        ...(this.shares && o.share ? { shares: { of: this.shares, keyOf: (unit: KafkaMessage[]) => o.share!.keyOf(unit[0]) } } : {}),
        isStop: (err) => err instanceof Stopped,
        process: async (unit, index) => {
          const started = performance.now();
          await this.processUnit(unit.map((m) => toConsumed(topic, partition, m)), { ...ctx, commitAfter: (done) => followUps[index].push(done) });
          this.metrics.unitDuration.observe({ topic }, (performance.now() - started) / 1000);
        },
        onDonePrefix: (index) => {
          const last = units[index][units[index].length - 1].offset;
          // Resolving moves the fetch position on; the commit waits for the follow-ups.
          resolveOffset(last);
          committer.advanceAfter(followUps.slice(0, index + 1).flat(), (BigInt(last) + 1n).toString(), commitPrefix);
          for (let i = 0; i <= index; i++) followUps[i] = [];
        },
      });
      if (result.error) throw result.error;
    } finally {
      clearInterval(keeper);
      // Leaving (stop, rebalance) or committing eagerly: the done prefix is committed before this
      // returns. Otherwise the committer's timer commits it within the interval.
      if (ctx.shouldStop() || o.commitIntervalMs === 0) await committer.flush();
    }
  }

  /**
   * Commits every partition's done prefix now (drain, before leaving the group), waiting up to
   * `followUpMs` for follow-ups still running: what they do not finish in time is redelivered.
   */
  async flushCommits(followUpMs = 0): Promise<void> {
    await Promise.all([...this.committers.values()].map((c) => c.settle(followUpMs).then(() => c.flush())));
  }

  private committerOf(partition: number): Committer {
    let committer = this.committers.get(partition);
    if (!committer) {
      committer = new Committer(this.options.commitIntervalMs, (err) =>
        this.log.error({ partition, err: errorMessage(err) }, 'a follow-up of a unit failed: no further commits for this partition until it is assigned again, which redelivers what follows'),
      );
      this.committers.set(partition, committer);
    }
    return committer;
  }

  /**
   * Makes one unit durable, whatever it takes. The failure policy (consumerAction) decides each
   * failure: a failure of the dependency itself holds the unit (and the partition behind it) with
   * capped backoff until it passes or the unit must stop; a failure the input is proven to cause
   * splits a unit of several messages until the offending one is alone, which is dead-lettered.
   * Throws only Stopped.
   */
  private async processUnit(messages: ConsumedMessage[], ctx: UnitContext): Promise<void> {
    const o = this.options;
    const { topic, partition } = messages[0];
    const unitKey = `${partition}:${messages[0].offset}`;
    const backoff = new Backoff(o.retry.baseMs, o.retry.maxMs);
    let sameFailures = 0;
    let lastCode: string | undefined;
    let failingSince = 0;
    for (let attempt = 0; ; attempt++) {
      if (ctx.shouldStop()) throw new Stopped();
      let failure: unknown;
      try {
        const rejected = (await o.handler.handle(messages, ctx)) ?? [];
        this.stalls.delete(unitKey);
        this.lastSuccessAt = Date.now();
        if (rejected.length > 0) await this.deadLetter(rejected, ctx);
        this.metrics.messages.inc({ topic, outcome: 'processed' }, messages.length - rejected.length);
        return;
      } catch (err) {
        if (err instanceof Stopped || ctx.shouldStop()) {
          this.stalls.delete(unitKey);
          throw new Stopped();
        }
        failure = err;
      }

      const code = this.reasonOf(failure);
      const kind = kindOf(failure);
      failingSince ||= Date.now();
      sameFailures = code === lastCode ? sameFailures + 1 : 1;
      lastCode = code;
      const evidence = { sameFailures, blameAfterAttempts: o.poisonAfterAttempts, othersPass: false };
      if (kind === 'unknown' && sameFailures >= o.poisonAfterAttempts) evidence.othersPass = this.lastSuccessAt > failingSince || (await this.canaryPasses());
      const action = consumerAction(kind, messages.length, evidence);

      if (action === 'hold') {
        const stall = this.stalls.get(unitKey) ?? { partition, since: Date.now(), error: '', dependency: 'none', kind };
        Object.assign(stall, { error: describeFailure(failure), dependency: isDependencyError(failure) ? failure.dependency : 'none', kind });
        this.stalls.set(unitKey, stall);
        this.metrics.retries.inc({ topic, reason: code });
        const delayMs = backoff.next();
        const line = { partition, offset: messages[0].offset, attempt: attempt + 1, delayMs, code, kind, err: errorMessage(failure) };
        if (attempt % 10 === 0) this.log.warn(line, kind === 'refusing' ? 'the store refuses writes; holding the partition until it recovers' : 'failure of a dependency; holding the partition and retrying');
        else this.log.debug(line, 'still retrying');
        await this.pause(delayMs, ctx).catch((err) => {
          this.stalls.delete(unitKey);
          throw err;
        });
        continue;
      }

      this.stalls.delete(unitKey);
      const blame = kind === 'input' ? 'a refusal only its input can cause' : `the same unclassified failure ${sameFailures} times while other input passes`;
      if (action === 'split') {
        // Isolate the offending message: every other one still gets processed.
        const mid = Math.ceil(messages.length / 2);
        this.log.info({ partition, from: messages[0].offset, messages: messages.length, code, kind }, `${blame} in a unit of several messages; splitting it`);
        await this.processUnit(messages.slice(0, mid), ctx);
        await this.processUnit(messages.slice(mid), ctx);
        return;
      }
      this.log.warn({ partition, offset: messages[0].offset, code, kind }, `${blame}: dead-lettering the message`);
      await this.deadLetter([{ message: messages[0], code, reason: errorMessage(failure) }], ctx);
      return;
    }
  }

  /** Whether the known-good write passes now (false without one). */
  private async canaryPasses(): Promise<boolean> {
    if (!this.options.canary) return false;
    try {
      await this.options.canary();
      return true;
    } catch (err) {
      this.log.debug({ err: errorMessage(err) }, 'canary write failed: the store itself is failing');
      return false;
    }
  }

  /** Sleeps `ms` in short steps, heartbeating, and gives up early when the unit must stop. */
  private async pause(ms: number, ctx: UnitContext): Promise<void> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      if (ctx.shouldStop()) throw new Stopped();
      await sleep(Math.min(250, until - Date.now()));
    }
    await ctx.heartbeat();
  }

  /** Dead letters are durable before the offsets move past them: nothing vanishes silently. */
  private async deadLetter(rejected: Rejection[], ctx: UnitContext): Promise<void> {
    const o = this.options;
    const failedAt = new Date().toISOString();
    const letters: OutboundMessage[] = rejected.map((r) => ({
      key: r.message.key,
      value: r.message.value ?? Buffer.alloc(0),
      headers: {
        ...stringHeaders(r.message.headers),
        ...deadLetterHeaders({
          batchId: r.batchId,
          customerId: r.customerId,
          reasonCode: r.code,
          reason: r.reason,
          sourceTopic: r.message.topic,
          sourcePartition: r.message.partition,
          sourceOffset: r.message.offset,
          group: o.groupId,
          failedAt,
        }),
      },
    }));
    const backoff = new Backoff(o.retry.baseMs, o.retry.maxMs);
    for (let attempt = 0; ; attempt++) {
      if (ctx.shouldStop()) throw new Stopped();
      try {
        await this.dlq.publish(o.dlqTopic, letters);
        break;
      } catch (err) {
        if (isDependencyError(err) && !err.retryable) {
          // The letter itself is refused (too large with its headers): keep the reason and where to
          // find the original, without the value.
          const slim = letters.map((l) => ({ ...l, value: Buffer.alloc(0), headers: { ...l.headers, [DEAD_LETTER_HEADERS.valueDropped]: 'true' } }));
          await this.dlq.publish(o.dlqTopic, slim).catch((e) => this.log.error({ err: errorMessage(e) }, 'dead letter refused even without its value'));
          break;
        }
        const delayMs = backoff.next();
        this.log.warn({ err: errorMessage(err), attempt: attempt + 1, delayMs }, 'publishing a dead letter failed; retrying');
        await this.pause(delayMs, ctx);
      }
    }
    for (const r of rejected) {
      this.metrics.deadLetters.inc({ topic: r.message.topic, reason: r.code });
      this.metrics.messages.inc({ topic: r.message.topic, outcome: 'dead_lettered' });
      this.log.warn(
        { partition: r.message.partition, offset: r.message.offset, key: r.message.key?.toString('utf8'), batchId: r.batchId, customerId: r.customerId, reasonCode: r.code, reason: r.reason.slice(0, 500), dlqTopic: o.dlqTopic },
        'message sent to the dead-letter topic',
      );
    }
  }

  /** Per stalled partition, its oldest stalled unit's age. */
  stalledSeconds(): { topic: string; partition: number; seconds: number }[] {
    const now = Date.now();
    const oldest = new Map<number, number>();
    for (const s of this.stalls.values()) oldest.set(s.partition, Math.min(oldest.get(s.partition) ?? s.since, s.since));
    return [...oldest].map(([partition, since]) => ({ topic: this.options.topic, partition, seconds: (now - since) / 1000 }));
  }

  /** Partitions held, by the dependency and kind of failure holding them. */
  heldPartitions(): { topic: string; dependency: string; kind: FailureKind; partitions: number }[] {
    const held = new Map<string, Set<number>>();
    for (const s of this.stalls.values()) {
      const key = `${s.dependency}|${s.kind}`;
      if (!held.has(key)) held.set(key, new Set());
      held.get(key)!.add(s.partition);
    }
    return [...held].map(([key, partitions]) => {
      const [dependency, kind] = key.split('|') as [string, FailureKind];
      return { topic: this.options.topic, dependency, kind, partitions: partitions.size };
    });
  }
}

/** One partition's commits: the latest done prefix, at most one commit in flight, at most one per interval. */
class Committer {
  private offset?: string;
  private commit?: (offset: string) => Promise<void>;
  private inFlight?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private lastAt = 0;
  /** Follow-ups of done units whose offsets wait for them, in offset order. */
  private gated?: Promise<void>;
  private pendingFollowUps = 0;
  /** Bumped by drop: follow-ups finishing after it belong to a lost assignment. */
  private epoch = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly onFollowUpFailed: (err: unknown) => void,
  ) {}

  /**
   * Advances once `followUps` (and those of every earlier offset) are done. A failed follow-up
   * stops the advance for good: committing past it would lose what it had to do.
   */
  advanceAfter(followUps: Array<Promise<void>>, offset: string, commit: (offset: string) => Promise<void>): void {
    if (followUps.length === 0 && this.pendingFollowUps === 0) return this.advance(offset, commit);
    const epoch = this.epoch;
    this.pendingFollowUps++;
    this.gated = Promise.all([this.gated, ...followUps]).then(
      () => {
        if (epoch !== this.epoch) return;
        this.pendingFollowUps--;
        this.advance(offset, commit);
      },
      (err: unknown) => {
        if (epoch === this.epoch) this.onFollowUpFailed(err);
        return new Promise<void>(() => undefined);
      },
    );
  }

  /** Waits up to `ms` for the follow-ups pending now. */
  async settle(ms: number): Promise<void> {
    const gated = this.gated;
    if (!gated || ms <= 0) return;
    await withTimeout(ms, () => gated).catch(() => undefined);
  }

  advance(offset: string, commit: (offset: string) => Promise<void>): void {
    this.offset = offset;
    this.commit = commit;
    if (this.timer || this.inFlight) return;
    const wait = this.lastAt + this.intervalMs - Date.now();
    if (wait <= 0) {
      void this.flush();
      return;
    }
    this.timer = setTimeout(() => void this.flush(), wait);
    this.timer.unref();
  }

  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.inFlight) await this.inFlight;
    if (this.offset === undefined || !this.commit) return;
    const offset = this.offset;
    this.offset = undefined;
    this.lastAt = Date.now();
    this.inFlight = this.commit(offset).finally(() => {
      this.inFlight = undefined;
    });
    await this.inFlight;
    if (this.offset !== undefined) this.advance(this.offset, this.commit);
  }

  drop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.offset = undefined;
    this.epoch++;
    this.gated = undefined;
    this.pendingFollowUps = 0;
  }
}

function stringHeaders(headers: IHeaders): Record<string, string | Buffer> {
  const out: Record<string, string | Buffer> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? String(v[0]) : v;
  }
  return out;
}
