import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { LATENCY_BUCKETS } from '@pipeline/platform';

export const BATCH_OUTCOMES = [
  'accepted',
  'duplicate',
  'key_reused',
  'invalid',
  'too_large',
  'unavailable',
  'unsupported_media',
  'unauthorized',
  'forbidden',
  'rate_limited',
  'timeout',
  'aborted',
  'error',
] as const;
export type BatchOutcome = (typeof BATCH_OUTCOMES)[number];

/** Batch sizes from a single small entry up to the 2 MiB limit. */
const BYTE_BUCKETS = [256, 1024, 4096, 16_384, 65_536, 262_144, 524_288, 1_048_576, 1_572_864, 2_097_152];

export class IngestionMetrics {
  readonly httpDuration: Histogram<'route' | 'method' | 'status'>;
  readonly batches: Counter<'outcome'>;
  readonly entriesAccepted: Counter;
  readonly batchBytes: Histogram;
  readonly bodyCheckDuration: Histogram<'place'>;
  readonly refused: Counter<'scope' | 'limit'>;
  readonly s3Duration: Histogram<'operation' | 'result'>;
  readonly s3Errors: Counter<'operation'>;
  readonly kafkaDuration: Histogram<'topic' | 'result'>;
  readonly kafkaErrors: Counter<'topic'>;
  private readonly registry: Registry;

  constructor(registry: Registry) {
    this.registry = registry;
    const registers = [registry];
    this.httpDuration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by route pattern, method and status code',
      labelNames: ['route', 'method', 'status'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.batches = new Counter({ name: 'ingestion_batches_total', help: 'Batches by outcome', labelNames: ['outcome'], registers });
    for (const outcome of BATCH_OUTCOMES) this.batches.inc({ outcome }, 0);
    this.entriesAccepted = new Counter({ name: 'ingestion_entries_accepted_total', help: 'Entries in newly accepted batches (duplicates excluded)', registers });
    this.refused = new Counter({
      name: 'ingestion_admission_refused_total',
      help: 'Requests refused before their body was read, by whose limit (customer, token, instance) and which (requests, bytes, in_flight)',
      labelNames: ['scope', 'limit'],
      registers,
    });
    this.batchBytes = new Histogram({ name: 'ingestion_batch_bytes', help: 'Size of received batch bodies after decompression', buckets: BYTE_BUCKETS, registers });
    this.bodyCheckDuration = new Histogram({
      name: 'ingestion_body_check_duration_seconds',
      help: 'Parsing, validating and digesting a body, by where: inline on the event loop, or on a check thread (its queue included)',
      labelNames: ['place'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.s3Duration = new Histogram({
      name: 'ingestion_s3_call_duration_seconds',
      help: 'S3 call latency by operation and result',
      labelNames: ['operation', 'result'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.s3Errors = new Counter({ name: 'ingestion_s3_call_errors_total', help: 'Failed or timed-out S3 calls by operation', labelNames: ['operation'], registers });
    this.kafkaDuration = new Histogram({
      name: 'ingestion_kafka_publish_duration_seconds',
      help: 'Kafka publish latency (until acknowledged by all in-sync replicas) by topic and result',
      labelNames: ['topic', 'result'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.kafkaErrors = new Counter({ name: 'ingestion_kafka_publish_errors_total', help: 'Failed or timed-out Kafka publishes by topic', labelNames: ['topic'], registers });
  }

  /** Bytes held for request bodies and waiting announcements (the two bounds that answer 503 when reached). */
  observeBuffers(read: () => { bodies: number; publishQueue: number }): void {
    new Gauge({
      name: 'ingestion_buffered_bytes',
      help: 'Bytes held by the ingestion: request bodies being received and announcements waiting for Kafka',
      labelNames: ['buffer'],
      registers: [this.registry],
      collect() {
        const b = read();
        this.set({ buffer: 'bodies' }, b.bodies);
        this.set({ buffer: 'publish_queue' }, b.publishQueue);
      },
    });
  }
}
