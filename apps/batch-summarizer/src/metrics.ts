import { LATENCY_BUCKETS } from '@pipeline/platform';
import { UserAgentClassifier } from '@pipeline/entry';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** How a batch-ingested event ended: summarized now, summary found from an earlier run, or poison. */
export type BatchOutcome = 'summarized' | 'replayed' | 'dlq';

/** Why an event went to the dead-letter topic (a closed set, so it can be a label). */
export type PoisonCode = 'event_invalid' | 'object_missing' | 'object_invalid' | 'object_mismatch' | 'internal_error';

export class SummarizerMetrics {
  readonly batches: Counter<'outcome'>;
  readonly entries: Counter;
  readonly partials: Counter;
  readonly dlq: Counter<'reason'>;
  readonly duration: Histogram<'outcome'>;
  readonly retries: Counter<'operation'>;
  readonly lag: Gauge<'topic' | 'partition'>;
  readonly inFlight: Gauge;

  constructor(registry: Registry, classifier: UserAgentClassifier) {
    const registers = [registry];
    this.batches = new Counter({ name: 'summarizer_batches_total', help: 'batch-ingested events handled, by outcome', labelNames: ['outcome'], registers });
    this.entries = new Counter({ name: 'summarizer_entries_total', help: 'Log entries summarized', registers });
    this.partials = new Counter({ name: 'summarizer_partials_emitted_total', help: 'insight-events messages acknowledged by Kafka', registers });
    this.dlq = new Counter({ name: 'summarizer_dlq_total', help: 'Events sent to the dead-letter topic, by reason', labelNames: ['reason'], registers });
    this.duration = new Histogram({
      name: 'summarizer_batch_duration_seconds',
      help: 'Time from taking an event to the acknowledgement of its partials (or dead letter)',
      labelNames: ['outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.retries = new Counter({ name: 'summarizer_retries_total', help: 'Retries after S3 or Kafka failures, by operation', labelNames: ['operation'], registers });
    this.inFlight = new Gauge({ name: 'summarizer_events_in_flight', help: 'batch-ingested events being worked on, all partitions together', registers });
    this.lag = new Gauge({ name: 'summarizer_consumer_lag', help: 'Unprocessed batch-ingested events per partition (log end minus committed offset)', labelNames: ['topic', 'partition'], registers });

    // The cache keeps its own counts; these read them at scrape time.
    new Counter({
      name: 'summarizer_ua_cache_hits_total',
      help: 'User-agent family look-ups answered from the cache',
      registers,
      collect() {
        this.reset();
        this.inc(classifier.stats().hits);
      },
    });
    new Counter({
      name: 'summarizer_ua_cache_misses_total',
      help: 'User-agent family look-ups that ran the parser',
      registers,
      collect() {
        this.reset();
        this.inc(classifier.stats().misses);
      },
    });
    new Gauge({
      name: 'summarizer_ua_cache_hit_ratio',
      help: 'Share of user-agent look-ups answered from the cache since start',
      registers,
      collect() {
        const { hits, misses } = classifier.stats();
        this.set(hits + misses === 0 ? 0 : hits / (hits + misses));
      },
    });
    new Gauge({
      name: 'summarizer_ua_cache_size',
      help: 'Distinct user agents held in the cache',
      registers,
      collect() {
        this.set(classifier.stats().size);
      },
    });
  }
}
