import { AnalyticsStore, sqlString } from '@pipeline/clickhouse';
import type { Logger, Source } from '@pipeline/platform';
import { errorMessage } from '@pipeline/platform';
import { expiredPartitions, partitionTtlDays } from '@pipeline/window';
import { Counter, Gauge, Registry } from 'prom-client';

/** `auto`: a table TTL where the server has one, else the partition job. */
export type RetentionMode = 'auto' | 'ttl' | 'partitions';

export interface RetentionOptions {
  /** Days a window is kept (event time against the wall clock); 0 keeps everything. */
  days: number;
  mode: RetentionMode;
  /** Pause between runs of the partition job. */
  intervalMs: number;
  logger: Logger;
  registry: Registry;
  now?: () => number;
}

/** Every table whose rows leave with their window's month: the revisions and the rollups made of them. */
export const RETAINED_TABLES = ['window_revisions', 'hourly_rollup', 'daily_rollup'] as const;

/** Table TTL came with ClickHouse 19.6; 18.16 refuses the clause as a syntax error. */
export function supportsTableTtl(version: string): boolean {
  const [major, minor] = version.split('.').map(Number);
  return major > 19 || (major === 19 && minor >= 6);
}

/**
 * The TTL of window_revisions and the rollups: a month's rows expire together, `retention + grace` days after the
 * month ends, which is exactly when the partition job would drop that month (see
 * expiredPartitions), so both mechanisms keep the same windows.
 */
export function ttlExpression(days: number): string {
  const ttlDays = partitionTtlDays(days);
  if (!Number.isSafeInteger(ttlDays) || ttlDays <= 0) throw new Error(`not a retention in days: ${days}`);
  return `toDateTime(addMonths(toStartOfMonth(window_start), 1), 'UTC') + toIntervalDay(${ttlDays})`;
}

/** The day count of the TTL in a `SHOW CREATE TABLE` statement; null without TTL, NaN for a TTL of another form. */
export function ttlDaysOf(createStatement: string): number | null {
  const ttl = /\bTTL\s+(.*?)(?:\s+SETTINGS\b|$)/s.exec(createStatement);
  if (!ttl) return null;
  const days = /toIntervalDay\((\d+)\)|INTERVAL\s+(\d+)\s+DAY/i.exec(ttl[1]);
  return days ? Number(days[1] ?? days[2]) : NaN;
}

/**
 * Drops window revisions and the hour and day rollups (and so the minute, hourly and daily
 * aggregates, which are views of them) by the age of their window. Where the server has table
 * TTL, each table carries the same one and ClickHouse removes expired months itself; on 18.16,
 * which has none, this source drops expired month partitions of each every `intervalMs`. With a retention set, the aggregator also refuses partials
 * of windows older than it (their ids may be gone): see docs/semantics.md, "Retention".
 */
export class ClickHouseRetention implements Source {
  readonly name = 'retention';
  private resolved: 'ttl' | 'partitions' | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private readonly now: () => number;
  private readonly dropped: Counter;
  private readonly lastRun: Gauge;

  constructor(
    private readonly store: AnalyticsStore,
    private readonly options: RetentionOptions,
  ) {
    this.now = options.now ?? Date.now;
    const registers = [options.registry];
    this.dropped = new Counter({ name: 'aggregator_retention_partitions_dropped_total', help: 'Month partitions of window revisions dropped by the retention job', registers });
    this.lastRun = new Gauge({ name: 'aggregator_retention_last_run_timestamp_seconds', help: 'When retention was last enforced (Unix time): TTL checked or partitions dropped', registers });
  }

  /** The mechanism in force once prepared. */
  get mechanism(): 'ttl' | 'partitions' | undefined {
    return this.resolved;
  }

  /**
   * Chooses the mechanism from the server's version and puts the TTL in force (or removes it at 0
   * days), writing only when it differs; on servers without TTL, runs the partition job once.
   * Called at start, after the migrations.
   */
  async prepare(): Promise<void> {
    const [{ version }] = await this.store.query<{ version: string }>('SELECT version() AS version');
    const ttl = supportsTableTtl(version);
    if (this.options.mode === 'ttl' && !ttl) throw new Error(`CLICKHOUSE_RETENTION_MODE=ttl: ClickHouse ${version} has no table TTL (it came with 19.6); use auto or partitions`);
    this.resolved = this.options.mode === 'partitions' || !ttl ? 'partitions' : 'ttl';
    if (this.resolved === 'ttl') await this.ensureTtl();
    else if (ttl) await this.ensureTtl(0);
    if (this.resolved === 'partitions') await this.dropExpired();
    this.lastRun.set(this.now() / 1000);
  }

  start(): void {
    if (this.resolved !== 'partitions' || this.options.days === 0) return;
    this.timer = setInterval(() => {
      this.running = this.dropExpired()
        .then(() => this.lastRun.set(this.now() / 1000))
        .catch((err) => this.options.logger.warn({ err: errorMessage(err) }, 'retention: dropping expired partitions failed; next attempt at the next interval'));
    }, this.options.intervalMs);
    this.timer.unref();
  }

  async drain(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /**
   * Drops the month partitions whose every window is past the retention, from every retained
   * table; returns them. A month's rollups go with its revisions: an hour row is never older
   * than the minutes it sums, and a day row is in its hours' month.
   */
  async dropExpired(): Promise<number[]> {
    const db = this.store.database;
    const all = new Set<number>();
    for (const table of RETAINED_TABLES) {
      const rows = await this.store.query<{ partition: string }>(
        `SELECT DISTINCT partition FROM system.parts WHERE database = ${sqlString(db)} AND table = ${sqlString(table)} AND active`,
      );
      const expired = expiredPartitions(
        rows.map((r) => Number(r.partition)).filter((p) => Number.isInteger(p)),
        this.now(),
        this.options.days,
      );
      for (const partition of expired) {
        await this.store.command(`ALTER TABLE ${db}.${table} DROP PARTITION ${partition}`);
        all.add(partition);
        if (table === 'window_revisions') this.dropped.inc();
        this.options.logger.info({ partition, table, retentionDays: this.options.days }, 'retention: dropped the rows of an expired month');
      }
    }
    return [...all].sort((a, b) => a - b);
  }

  private async ensureTtl(days = this.options.days): Promise<void> {
    for (const table of RETAINED_TABLES) await this.ensureTableTtl(table, days);
  }

  private async ensureTableTtl(table: string, days: number): Promise<void> {
    const db = this.store.database;
    const [{ statement }] = await this.store.query<{ statement: string }>(`SHOW CREATE TABLE ${db}.${table}`);
    const current = ttlDaysOf(statement);
    if (days === 0) {
      if (current === null) return;
      await this.store.command(`ALTER TABLE ${db}.${table} REMOVE TTL`);
      this.options.logger.info({ table }, 'retention: table TTL removed (CLICKHOUSE_RETENTION_DAYS=0 keeps everything)');
      return;
    }
    if (current === partitionTtlDays(days)) return;
    await this.store.command(`ALTER TABLE ${db}.${table} MODIFY TTL ${ttlExpression(days)}`);
    this.options.logger.info({ table, retentionDays: days }, 'retention: table TTL set');
  }
}
