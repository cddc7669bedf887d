import { topicEnv } from '@pipeline/contract';
import { kafkaEnv, loadConfig, port, positiveInt, retentionEnv, s3Env, serviceEnv } from '@pipeline/platform';
import { z } from 'zod';

export const ingestionEnv = {
  ...serviceEnv,
  ...kafkaEnv,
  ...topicEnv,
  ...s3Env,
  /** CLICKHOUSE_RETENTION_DAYS: entries older than the aggregator's retention are refused with 400 (they would not be kept). */
  ...retentionEnv,
  /** Entries further ahead of this server's clock than this are refused with 400 (a client clock gone wrong). */
  MAX_FUTURE_SKEW_SECONDS: positiveInt(86_400),
  PORT: port(8080),
  /** The client-facing port carries only the intake: metrics and health are on their own port (OPS_PORT=PORT puts them back on it). */
  OPS_PORT: port(8090),
  /**
   * The gateways allowed to post, by the SHA-256 of their tokens: `name=<hex>[@customer|customer]`,
   * several separated by spaces (see docs/security.md).
   */
  GATEWAY_TOKENS: z.string().optional(),
  /** A file of such tokens (one or more a line, `#` comments), re-read when it changes: rotation without a restart. */
  GATEWAY_TOKENS_FILE: z.string().min(1).optional(),
  /** How often GATEWAY_TOKENS_FILE is checked for changes. */
  GATEWAY_TOKENS_RELOAD_MS: positiveInt(2_000),
  /** One gateway token in clear (local stacks, docker-compose); hashed at start and kept only as its hash. */
  GATEWAY_TOKEN: z.string().min(16, 'a gateway token needs at least 16 characters').optional(),
  /** The customers GATEWAY_TOKEN may post for: `customer|customer`, or `*` for all; required with it. */
  GATEWAY_TOKEN_CUSTOMERS: z.string().optional(),
  /**
   * Requests a second (sustained, and the burst above it) one gateway token may send, over all
   * its customers; beyond it 429 with Retry-After. Charged only for requests the customer's own
   * limits let through.
   */
  RATE_LIMIT_PER_TOKEN: positiveInt(5_000),
  RATE_LIMIT_PER_TOKEN_BURST: positiveInt(10_000),
  /** Requests a second of each customer, whichever gateway sends for it. */
  RATE_LIMIT_PER_CUSTOMER: positiveInt(2_000),
  RATE_LIMIT_PER_CUSTOMER_BURST: positiveInt(4_000),
  /**
   * Body bytes a second of each customer (decompressed) and the burst above it: 8 MiB/s is about
   * 50,000 entries a second, a fifth of what one instance carries end to end with batches of few
   * paths and more of it with many (docs/benchmarks.md, noisy neighbour), so one customer's flood
   * leaves the pipeline room for the others.
   */
  RATE_LIMIT_PER_CUSTOMER_BYTES: positiveInt(8 * 1024 * 1024),
  RATE_LIMIT_PER_CUSTOMER_BYTES_BURST: positiveInt(16 * 1024 * 1024),
  /** Each customer's share of INGESTION_MAX_BYTES_IN_FLIGHT; unset: a quarter of it (at least one batch of 2 MiB), so one customer cannot fill it. */
  INGESTION_MAX_BYTES_IN_FLIGHT_PER_CUSTOMER: z.coerce.number().int().positive().optional(),
  /**
   * Customers whose limits differ from the defaults above: `customer:key=value,...` separated by
   * `;` (keys rps, burst, bps, bytes-burst, inflight; bytes may end in KiB, MiB, GiB).
   */
  CUSTOMER_LIMITS: z.string().default(''),
  /** Longest time a client may take to send one request body before it is answered 408. */
  HTTP_BODY_TIMEOUT_MS: positiveInt(30_000),
  /** Bytes of request bodies held at once; beyond it requests are answered 503 with Retry-After. */
  INGESTION_MAX_BYTES_IN_FLIGHT: positiveInt(64 * 1024 * 1024),
  /** Bytes of announcements waiting for Kafka; beyond it requests are answered 503 with Retry-After. */
  INGESTION_MAX_PUBLISH_QUEUE_BYTES: positiveInt(8 * 1024 * 1024),
  /** Batches up to this many bytes travel with their announcement (the summarizer then need not read them back from S3); 0 turns it off. */
  INGESTION_INLINE_BODY_MAX_BYTES: z.coerce.number().int().min(0).max(512 * 1024).default(64 * 1024),
  /**
   * Threads that parse and validate large bodies off the event loop, so that a flood of large
   * batches does not hold up the small requests of other customers; unset: one per core beyond
   * the first (at least one); 0: everything on the event loop.
   */
  INGESTION_CHECK_THREADS: z.coerce.number().int().min(0).max(64).optional(),
  /** Bodies of at least this many bytes are checked on those threads (smaller ones cost less than the hop). */
  INGESTION_CHECK_THREAD_MIN_BYTES: z.coerce.number().int().min(0).default(128 * 1024),
  /** How much lower than the event loop's the check threads' priority is (Linux niceness, 0-19). */
  INGESTION_CHECK_THREAD_NICE: z.coerce.number().int().min(0).max(19).default(5),
  /** The summarizer's consumer group: its lag on TOPIC_BATCH_INGESTED is the backlog below. */
  SUMMARIZER_GROUP_ID: z.string().min(1).default('batch-summarizer'),
  /**
   * Batches announced and not yet summarized above which the summarizer counts as behind (read
   * from its group's lag every INGESTION_BACKLOG_POLL_MS; caught up again at half of it); 0 turns
   * the check off. Meanwhile each customer is also held to INGESTION_BACKLOG_BYTES_PER_CUSTOMER, so
   * a customer whose limits exceed what the back stages carry no longer queues its excess in Kafka,
   * ahead of everyone's next minute.
   */
  INGESTION_BACKLOG_MAX_BATCHES: z.coerce.number().int().min(0).default(100),
  /** Body bytes a second of each customer while the summarizer is behind (burst: twice as many). */
  INGESTION_BACKLOG_BYTES_PER_CUSTOMER: positiveInt(1024 * 1024),
  INGESTION_BACKLOG_POLL_MS: positiveInt(1_000),
  /** Bytes of memory for the batches this instance stored and announced, whose repeats it answers without S3 or Kafka. */
  INGESTION_ANNOUNCED_MEMORY_BYTES: positiveInt(16 * 1024 * 1024),
  /** Such a batch is forgotten this long after its announcement (keep it far below the raw batches' retention). */
  INGESTION_ANNOUNCED_MAX_AGE_MS: positiveInt(3_600_000),
  /** Look for stored batches that were never summarized (e.g. their announcement failed and the client gave up). */
  RECONCILER_ENABLED: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
  /** A raw batch this old without a summary is announced again. */
  RECONCILER_MIN_AGE_MS: positiveInt(10 * 60_000),
  /** Pause between scans; each scan reads at most RECONCILER_PAGES_PER_SCAN pages of 1,000 keys and continues where the last one stopped. */
  RECONCILER_INTERVAL_MS: positiveInt(60_000),
  RECONCILER_PAGES_PER_SCAN: positiveInt(10),
  /** The same orphan is announced again at most this often (a batch the summarizer dead-letters has no summary either). */
  RECONCILER_REANNOUNCE_AFTER_MS: positiveInt(6 * 3_600_000),
};

export type IngestionConfig = z.infer<z.ZodObject<typeof ingestionEnv>>;

export function loadIngestionConfig(env: NodeJS.ProcessEnv = process.env): IngestionConfig {
  return loadConfig(ingestionEnv, env);
}
