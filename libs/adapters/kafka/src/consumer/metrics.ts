import { LATENCY_BUCKETS } from '@pipeline/platform';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The consumer runtime's metrics: the same names in every consuming service, told apart by `service`. */
export class ConsumerMetrics {
  readonly messages: Counter<'topic' | 'outcome'>;
  readonly deadLetters: Counter<'topic' | 'reason'>;
  readonly retries: Counter<'topic' | 'reason'>;
  readonly unitDuration: Histogram<'topic'>;
  readonly lag: Gauge<'topic' | 'partition'>;
  readonly restarts: Counter<'topic' | 'reason'>;
  readonly rebalances: Counter<'topic'>;

  constructor(
    registry: Registry,
    stalledSeconds: () => { topic: string; partition: number; seconds: number }[],
    bytesInFlight: () => number,
    heldPartitions: () => { topic: string; dependency: string; kind: string; partitions: number }[] = () => [],
  ) {
    const registers = [registry];
    this.messages = new Counter({
      name: 'consumer_messages_total',
      help: 'Consumed messages by outcome: processed (effects durable, offset committable) or dead_lettered',
      labelNames: ['topic', 'outcome'],
      registers,
    });
    this.deadLetters = new Counter({ name: 'consumer_dead_letters_total', help: 'Messages sent to the dead-letter topic, by reason code', labelNames: ['topic', 'reason'], registers });
    this.retries = new Counter({ name: 'consumer_retries_total', help: 'Retries after a transient failure, by reason code', labelNames: ['topic', 'reason'], registers });
    this.unitDuration = new Histogram({
      name: 'consumer_unit_duration_seconds',
      help: 'Time to make one unit of work durable (a message or a fetched batch), retries included',
      labelNames: ['topic'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.lag = new Gauge({ name: 'consumer_lag', help: 'Messages not yet committed per partition (log end minus committed offset)', labelNames: ['topic', 'partition'], registers });
    this.restarts = new Counter({ name: 'consumer_restarts_total', help: 'Times the consumer left and rejoined its group after a crash', labelNames: ['topic', 'reason'], registers });
    this.rebalances = new Counter({ name: 'consumer_rebalances_total', help: 'Group joins (each one a new assignment)', labelNames: ['topic'], registers });
    new Gauge({
      name: 'consumer_stalled_seconds',
      help: 'How long a partition has been held by a failing dependency without progress (absent when it progresses)',
      labelNames: ['topic', 'partition'],
      registers,
      collect() {
        this.reset();
        for (const s of stalledSeconds()) this.set({ topic: s.topic, partition: String(s.partition) }, s.seconds);
      },
    });
    new Gauge({
      name: 'consumer_held_partitions',
      help: 'Partitions held by a failing dependency, by dependency and kind (unavailable, refusing: answers but refuses writes, unknown); alert on any for minutes',
      labelNames: ['topic', 'dependency', 'kind'],
      registers,
      collect() {
        this.reset();
        for (const h of heldPartitions()) this.set({ topic: h.topic, dependency: h.dependency, kind: h.kind }, h.partitions);
      },
    });
    new Gauge({
      name: 'consumer_bytes_in_flight',
      help: 'Bytes of consumed messages being worked on; fetching pauses when the budget is used up',
      registers,
      collect() {
        this.set(bytesInFlight());
      },
    });
  }
}
