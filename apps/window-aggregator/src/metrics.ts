import { LATENCY_BUCKETS } from '@pipeline/platform';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export class AggregatorMetrics {
  readonly merged: Counter;
  readonly duplicates: Counter;
  readonly late: Counter;
  readonly expired: Counter;
  readonly foldedPaths: Counter;
  readonly foldedRequests: Counter;
  readonly writeDuration: Histogram;
  readonly rollupDuration: Histogram;
  readonly rollupFailures: Counter;
  readonly rowsWritten: Counter;
  readonly windowsLoaded: Counter;
  readonly lastWrite: Gauge;

  constructor(registry: Registry, cache: () => { windows: number; bytes: number }, rollupDelayMs: () => number = () => 0) {
    const registers = [registry];
    this.merged = new Counter({ name: 'aggregator_partials_merged_total', help: 'Partials merged into a window and written', registers });
    this.duplicates = new Counter({ name: 'aggregator_partials_duplicate_total', help: 'Partials ignored because they were already part of their window', registers });
    this.late = new Counter({
      name: 'late_events_total',
      help: 'Late partials: merged into a window that had already been written (a correction: new revision), or refused because their window is past the retention',
      registers,
    });
    this.expired = new Counter({ name: 'aggregator_partials_expired_total', help: 'Partials refused because their window is older than CLICKHOUSE_RETENTION_DAYS (also counted in late_events_total)', registers });
    this.foldedPaths = new Counter({
      name: 'aggregator_paths_folded_total',
      help: 'Path keys of merged partials counted under (other) because their window already held AGGREGATOR_MAX_PATHS_PER_WINDOW keys',
      registers,
    });
    this.foldedRequests = new Counter({ name: 'aggregator_folded_requests_total', help: 'Requests counted under the (other) path key of their window', registers });
    this.writeDuration = new Histogram({ name: 'aggregator_write_duration_seconds', help: 'Time of one insert of window revisions (one per fetched batch)', buckets: LATENCY_BUCKETS, registers });
    this.rollupDuration = new Histogram({
      name: 'aggregator_rollup_refresh_duration_seconds',
      help: 'Time of one refresh of the hour and day rollups, for the windows of every fetched batch written since the previous one',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.rollupFailures = new Counter({
      name: 'aggregator_rollup_refresh_failures_total',
      help: 'Failed refreshes of the hour and day rollups (each retried; the partitions are held meanwhile)',
      labelNames: ['reason'],
      registers,
    });
    new Gauge({
      name: 'aggregator_rollup_delay_seconds',
      help: 'How long the oldest refresh still owed has waited: how far the hour and day rollups trail the minutes (their offsets are committed after it)',
      registers,
      collect() {
        this.set(rollupDelayMs() / 1000);
      },
    });
    this.rowsWritten = new Counter({ name: 'aggregator_rows_written_total', help: 'Window revision rows written to ClickHouse', registers });
    this.windowsLoaded = new Counter({ name: 'aggregator_windows_loaded_total', help: 'Window states looked up in ClickHouse because they were not in memory', registers });
    this.lastWrite = new Gauge({
      name: 'aggregator_last_write_timestamp_seconds',
      help: 'When window revisions were last written to ClickHouse (Unix time): with consumer_lag, how fresh the aggregates are',
      registers,
    });
    new Gauge({
      name: 'aggregator_windows_in_memory',
      help: 'Window states held in memory',
      registers,
      collect() {
        this.set(cache().windows);
      },
    });
    new Gauge({
      name: 'aggregator_window_cache_bytes',
      help: 'Estimated bytes of the window states held in memory (bounded by AGGREGATOR_WINDOW_CACHE_BYTES)',
      registers,
      collect() {
        this.set(cache().bytes);
      },
    });
  }
}
