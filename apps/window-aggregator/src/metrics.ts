import { LATENCY_BUCKETS } from '@pipeline/platform';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The operations that are retried until they succeed (or the consumer stops). */
export type RetriedOperation = 'load' | 'write' | 'dlq';

export class AggregatorMetrics {
  readonly merged: Counter;
  readonly duplicates: Counter;
  readonly late: Counter;
  readonly invalid: Counter<'reason'>;
  readonly windowsInMemory: Gauge;
  readonly flushDuration: Histogram;
  readonly rowsWritten: Counter;
  readonly windowsLoaded: Counter;
  readonly clickhouseErrors: Counter<'operation'>;
  readonly retries: Counter<'operation'>;
  readonly lag: Gauge<'topic' | 'partition'>;

  constructor(registry: Registry, windowsHeld: () => number) {
    const registers = [registry];
    this.merged = new Counter({ name: 'aggregator_partials_merged_total', help: 'Partials merged into a window and written', registers });
    this.duplicates = new Counter({ name: 'aggregator_partials_duplicate_total', help: 'Partials ignored because their batch was already part of the window', registers });
    this.late = new Counter({ name: 'late_events_total', help: 'Partials merged into a window that had already been written (a correction: new revision)', registers });
    this.invalid = new Counter({ name: 'aggregator_partials_invalid_total', help: 'Messages that were not valid partials, sent to the dead-letter topic, by reason', labelNames: ['reason'], registers });
    this.windowsInMemory = new Gauge({
      name: 'aggregator_windows_in_memory',
      help: 'Window states held in memory',
      registers,
      collect() {
        this.set(windowsHeld());
      },
    });
    this.flushDuration = new Histogram({ name: 'aggregator_flush_duration_seconds', help: 'Time to make one batch of window revisions durable, retries included', buckets: LATENCY_BUCKETS, registers });
    this.rowsWritten = new Counter({ name: 'aggregator_rows_written_total', help: 'Window revision rows written to ClickHouse', registers });
    this.windowsLoaded = new Counter({ name: 'aggregator_windows_loaded_total', help: 'Window states looked up in ClickHouse because they were not in memory', registers });
    this.clickhouseErrors = new Counter({ name: 'aggregator_clickhouse_errors_total', help: 'Failed ClickHouse calls, by operation', labelNames: ['operation'], registers });
    this.retries = new Counter({ name: 'aggregator_retries_total', help: 'Retries after a failure, by operation', labelNames: ['operation'], registers });
    this.lag = new Gauge({ name: 'aggregator_consumer_lag', help: 'Unprocessed insight-events per partition (log end minus committed offset)', labelNames: ['topic', 'partition'], registers });
  }
}
