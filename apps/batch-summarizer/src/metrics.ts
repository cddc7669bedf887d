import { LATENCY_BUCKETS } from '@pipeline/platform';
import { UserAgentClassifier } from '@pipeline/entry';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** How a batch-ingested event ended: summarized now, summary found from an earlier run, or poison. */
export type BatchOutcome = 'summarized' | 'replayed' | 'dlq';

export class SummarizerMetrics {
  readonly batches: Counter<'outcome'>;
  readonly entries: Counter;
  readonly partials: Counter;
  readonly duration: Histogram<'outcome'>;

  constructor(registry: Registry, classifier: UserAgentClassifier) {
    const registers = [registry];
    this.batches = new Counter({ name: 'summarizer_batches_total', help: 'batch-ingested events handled, by outcome', labelNames: ['outcome'], registers });
    this.entries = new Counter({ name: 'summarizer_entries_total', help: 'Log entries summarized', registers });
    this.partials = new Counter({ name: 'summarizer_partials_emitted_total', help: 'insight-events messages acknowledged by Kafka', registers });
    this.duration = new Histogram({
      name: 'summarizer_batch_duration_seconds',
      help: 'Time from taking an event to the acknowledgement of its partials (or dead letter)',
      labelNames: ['outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    });

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
