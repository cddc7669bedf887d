import { insightEventKey, Partial, parsePartial } from '@pipeline/contract';
import type { ConsumedMessage, MessageHandler, Rejection, UnitContext } from '@pipeline/kafka';
import { emptyWindowState, KnownWindow, markWritten, mergeBatch, OffsetPartial, WindowStateCache } from '@pipeline/partial';
import type { Logger } from '@pipeline/platform';
import { isExpiredWindow, parseMinute, windowKey } from '@pipeline/window';
import { AggregatorMetrics } from './metrics';
import type { RollupRefresher } from './rollup-refresher';
import { WindowRef, WindowStore } from './window-store';

export interface AggregatorOptions {
  allowedLatenessMs: number;
  /** CLICKHOUSE_RETENTION_DAYS: partials of windows older than this are refused; 0 accepts every window. */
  retentionDays?: number;
  /** Distinct path keys a window holds; more are counted under `(other)`. */
  maxPathsPerWindow?: number;
  now?: () => number;
}

/** Why a message is refused for good (a closed set: it is a metric label and a dead-letter header). */
export type PoisonCode = 'empty' | 'not_json' | 'invalid_partial' | 'key_mismatch';

type Check = { ok: true; value: Partial } | { ok: false; code: PoisonCode; reason: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Turns the partials of one fetched batch of a partition into window revisions: validate, load
 * the states that are not in memory (one query), merge, write one revision per changed window (one
 * insert), then ask the rollup refresher for the hours and days it touched. Only after the write
 * does memory reflect the batch; the runtime commits once the refresh has passed too. A crash
 * anywhere before the commit redelivers the batch, and every partial of it that reached
 * ClickHouse is then found among its window's merged ids.
 */
export class WindowAggregator implements MessageHandler {
  /** Bumped on every group join: a batch that straddles a rebalance must not refill the cache. */
  private generation = 0;
  /** Per partition: the latest window start seen (event time), for lateness. */
  private readonly watermarks = new Map<number, number>();

  constructor(
    private readonly store: WindowStore,
    private readonly rollups: Pick<RollupRefresher, 'schedule' | 'failing'>,
    private readonly cache: WindowStateCache,
    private readonly metrics: AggregatorMetrics,
    private readonly logger: Logger,
    private readonly options: AggregatorOptions,
  ) {}

  /**
   * A new assignment starts clean: the partitions held before may have been written by another
   * instance meanwhile, so every window is reloaded from ClickHouse when next touched.
   */
  onAssignment(): void {
    this.generation++;
    this.cache.clear();
    this.watermarks.clear();
  }

  async handle(messages: ConsumedMessage[], ctx: UnitContext): Promise<Rejection[]> {
    // Rollups that cannot be refreshed hold the partition as a refusing store would: minutes
    // written meanwhile could not be committed anyway.
    const failing = this.rollups.failing();
    if (failing) throw failing;
    const generation = this.generation;
    const started = performance.now();
    const { topic, partition } = messages[0];

    const valid: OffsetPartial[] = [];
    const rejected: Rejection[] = [];
    const expired: OffsetPartial[] = [];
    const nowMs = (this.options.now ?? Date.now)();
    const retentionDays = this.options.retentionDays ?? 0;
    for (const message of messages) {
      const checked = check(message);
      if (!checked.ok) rejected.push({ message, code: checked.code, reason: checked.reason });
      // parsePartial accepted the window, so it parses.
      else if (isExpiredWindow(parseMinute(checked.value.windowStart)!, nowMs, retentionDays)) expired.push({ offset: toOffset(message.offset), partial: checked.value });
      else valid.push({ offset: toOffset(message.offset), partial: checked.value });
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
    if (missing.size > 0) {
      const loadStart = performance.now();
      const loaded = await this.store.load([...missing.values()]);
      loadMs = performance.now() - loadStart;
      this.metrics.windowsLoaded.inc(missing.size);
      for (const [key, w] of missing) known.set(key, { state: loaded.get(key) ?? emptyWindowState(w.customerId, w.windowStart), source: 'store' });
    }

    const result = mergeBatch({ items: valid, known, watermarkMs: this.watermarks.get(partition), allowedLatenessMs: this.options.allowedLatenessMs, maxPathsPerWindow: this.options.maxPathsPerWindow });

    let writeMs = 0;
    if (result.changed.length > 0) {
      await ctx.heartbeat();
      const writeStart = performance.now();
      await this.store.write(result.changed);
      writeMs = performance.now() - writeStart;
      this.metrics.writeDuration.observe(writeMs / 1000);
      this.metrics.rowsWritten.inc(result.changed.length);
      this.metrics.lastWrite.setToCurrentTime();
    }

    // The hours and days of every window the batch touched, merged or found duplicate: after a
    // crash between the minute write and the refresh, the redelivered batch finds only duplicates
    // and must still bring the rollups up to date. Minutes are visible first; the rollups follow,
    // behind the next batches, and the offsets wait for them.
    if (known.size > 0) ctx.commitAfter(this.rollups.schedule([...touchedWindows(known)]));

    // From here on the batch is durable: memory may reflect it.
    for (const state of result.changed) markWritten(state);
    if (generation === this.generation) {
      for (const { state } of known.values()) if (state.revision > 0) this.cache.put(state);
      for (const state of result.changed) this.cache.put(state);
      if (result.watermarkMs !== undefined) this.watermarks.set(partition, result.watermarkMs);
    }
    this.metrics.merged.inc(result.merged);
    this.metrics.duplicates.inc(result.duplicates);
    this.metrics.late.inc(result.late + expired.length);
    this.metrics.expired.inc(expired.length);
    this.metrics.foldedPaths.inc(result.folded.paths);
    this.metrics.foldedRequests.inc(result.folded.requests);
    for (const { partial, offset } of expired) {
      // Its window's ids may already be gone with the retention: merging could count it twice.
      this.logger.warn(
        { batchId: partial.batchId, part: partial.part, customerId: partial.customerId, window: partial.windowStart, partition, offset, retentionDays },
        'late partial refused: its window is older than the retention',
      );
    }
    const debug = this.logger.isLevelEnabled('debug');
    for (const o of result.outcomes) {
      if (o.outcome === 'merged' && !o.late && !debug) continue;
      const fields = { batchId: o.partial.batchId, part: o.partial.part, customerId: o.partial.customerId, window: o.partial.windowStart, partition, offset: o.offset };
      if (o.outcome === 'duplicate') this.logger.info(fields, 'partial ignored: it is already part of the window');
      else if (o.late) this.logger.info(fields, 'late partial merged as a new revision of a written window');
      else this.logger.debug(fields, 'partial merged');
    }
    if (debug) {
      const ms = (n: number) => Math.round(n * 10) / 10;
      this.logger.debug(
        { topic, partition, from: messages[0].offset, messages: messages.length, merged: result.merged, duplicates: result.duplicates, late: result.late, rows: result.changed.length, loadMs: ms(loadMs), writeMs: ms(writeMs), totalMs: ms(performance.now() - started) },
        'batch written',
      );
    }
    return rejected;
  }
}

function check(message: ConsumedMessage): Check {
  if (!message.value || message.value.length === 0) return { ok: false, code: 'empty', reason: 'empty message' };
  let decoded: unknown;
  try {
    decoded = JSON.parse(utf8.decode(message.value));
  } catch {
    return { ok: false, code: 'not_json', reason: 'not UTF-8 JSON' };
  }
  const parsed = parsePartial(decoded);
  if (!parsed.ok) return { ok: false, code: 'invalid_partial', reason: parsed.reason };
  // One writer per window holds only if every partial of a window lands on its partition.
  const expectedKey = insightEventKey(parsed.value);
  if (message.key?.toString('utf8') !== expectedKey) return { ok: false, code: 'key_mismatch', reason: `key does not match the window (expected ${expectedKey})` };
  return parsed;
}

function* touchedWindows(known: Map<string, KnownWindow>): Generator<WindowRef> {
  for (const { state } of known.values()) yield { customerId: state.customerId, windowStart: state.windowStart };
}

function toOffset(offset: string): number {
  const n = Number(offset);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`offset ${offset} is beyond the safe integer range`);
  return n;
}
