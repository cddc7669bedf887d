import { Backoff, DependencyError, errorMessage, isDependencyError, kindOf, Logger, reasonCodeOf, sleep } from '@pipeline/platform';
import { periodsOf } from '@pipeline/window';
import type { AggregatorMetrics } from './metrics';
import type { WindowRef } from './window-store';

export interface RollupRefresherOptions {
  /**
   * Least time between the starts of two refreshes: the windows of every unit that asks meanwhile
   * go together in the next one. The rollups trail the minutes by about this plus one refresh.
   */
  minIntervalMs: number;
  /** Backoff between the attempts of a failing refresh (capped at MAX_BACKOFF_MS). */
  retry: { baseMs: number; maxMs: number };
}

interface Waiting {
  windows: WindowRef[];
  since: number;
  done: () => void;
}

/**
 * Keeps the hour and day rollups following the minute rows, behind the writes: a unit asks for
 * the periods it touched after its minute insert and goes on; its offsets are committed once a
 * refresh that started after the ask has passed (UnitContext.commitAfter, docs/semantics.md,
 * "Rollups"). One refresh runs at a time and each starts at least `minIntervalMs` after the
 * previous one and at least as long after its end as it took, so under load one pair of
 * statements serves many units instead of one pair each.
 *
 * A refresh that fails is retried (capped backoff) with everything that asked, and never blamed on
 * a message: the minutes it reads were already accepted and written. While it fails, `failing()`
 * says why, and the aggregator fails its units with it, which holds the partitions like any
 * failure of the store.
 */
export class RollupRefresher {
  private readonly waiting: Waiting[] = [];
  /** The callers of the refresh in progress (older than any still waiting). */
  private inFlight: Waiting[] = [];
  private running = false;
  private closed = false;
  private failure?: DependencyError;
  private lastStartAt = Number.NEGATIVE_INFINITY;
  private lastEndAt = Number.NEGATIVE_INFINITY;
  private lastDurationMs = 0;
  private failures = 0;

  constructor(
    private readonly refresh: (windows: WindowRef[]) => Promise<void>,
    private readonly options: RollupRefresherOptions,
    private readonly metrics: Pick<AggregatorMetrics, 'rollupDuration' | 'rollupFailures'>,
    private readonly log: Logger,
  ) {}

  /**
   * Resolves once a refresh that started after this call has passed; never rejects (a failing
   * refresh is retried until it passes or the refresher closes). A window that is not a minute
   * throws here, for its caller alone.
   */
  schedule(windows: WindowRef[]): Promise<void> {
    if (windows.length === 0) return Promise.resolve();
    periodsOf(windows, 'hour');
    return new Promise((done) => {
      this.waiting.push({ windows, since: Date.now(), done });
      void this.drive();
    });
  }

  /** While refreshes fail: why, as a failure of the store. */
  failing(): DependencyError | undefined {
    return this.failure;
  }

  /**
   * How long the oldest unanswered call has waited (0 if none), counting the callers of the
   * refresh in progress: how far the rollups trail the minutes.
   */
  delayMs(): number {
    const oldest = this.inFlight[0] ?? this.waiting[0];
    return oldest ? Date.now() - oldest.since : 0;
  }

  /** Stops after the refresh in progress; calls still waiting never resolve (their units are redelivered). */
  close(): void {
    this.closed = true;
  }

  private async drive(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const backoff = new Backoff(this.options.retry.baseMs, this.options.retry.maxMs);
    try {
      while (this.waiting.length > 0 && !this.closed) {
        // At most half of the time refreshing: a refresh grows slower with the revisions of its
        // hours, and the next one then waits as long, gathering more batches for itself.
        const wait = Math.max(this.lastStartAt + this.options.minIntervalMs, this.lastEndAt + this.lastDurationMs) - Date.now();
        if (wait > 0) await sleep(wait);
        const callers = this.waiting.splice(0);
        this.inFlight = callers;
        this.lastStartAt = Date.now();
        const started = performance.now();
        try {
          await this.refresh(callers.flatMap((c) => c.windows));
        } catch (err) {
          this.waiting.unshift(...callers);
          this.inFlight = [];
          this.failure = asStoreFailure(err);
          this.metrics.rollupFailures.inc({ reason: reasonCodeOf(this.failure) });
          const delayMs = backoff.next();
          const line = { attempt: ++this.failures, delayMs, kind: this.failure.kind, code: reasonCodeOf(this.failure), err: errorMessage(err) };
          if (this.failures % 10 === 1) this.log.warn(line, 'the rollup refresh failed; retrying, and holding the partitions meanwhile');
          await sleep(delayMs);
          continue;
        }
        this.lastDurationMs = performance.now() - started;
        this.lastEndAt = Date.now();
        this.metrics.rollupDuration.observe(this.lastDurationMs / 1000);
        if (this.failure) this.log.info({ attempts: this.failures }, 'the rollup refresh passes again');
        this.failure = undefined;
        this.failures = 0;
        backoff.reset();
        this.inFlight = [];
        for (const c of callers) c.done();
      }
    } finally {
      this.running = false;
    }
  }
}

/**
 * A refresh reads rows that were accepted and written: whatever its failure, it is the store's,
 * so it holds (never `input` or `unknown`, which could end in a dead letter).
 */
function asStoreFailure(err: unknown): DependencyError {
  const kind = kindOf(err);
  if (isDependencyError(err) && (kind === 'unavailable' || kind === 'refusing')) return err;
  return new DependencyError('clickhouse', 'refusing', isDependencyError(err) ? err.code : 'rollup_refresh', `the hour and day rollups cannot be refreshed: ${errorMessage(err)}`, err);
}
