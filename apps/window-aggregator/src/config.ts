import { clickhouseEnv, kafkaEnv, loadConfig, port, positiveInt, serviceEnv } from '@pipeline/platform';
import { z } from 'zod';

const nonNegativeInt = (fallback: number) => z.coerce.number().int().min(0).default(fallback);

export const aggregatorEnv = {
  ...serviceEnv,
  ...kafkaEnv,
  ...clickhouseEnv,
  PORT: port(8082),
  /** Consumer group on insight-events; every instance of the service joins the same one. */
  AGGREGATOR_GROUP_ID: z.string().min(1).default('window-aggregator'),
  /** Where partials that fail validation go, with the reason in a header. */
  TOPIC_INSIGHT_EVENTS_DLQ: z.string().min(1).default('insight-events-dlq'),
  /** Most window states held in memory; the least recently used leave first (and reload on demand). */
  AGGREGATOR_MAX_WINDOWS: positiveInt(10_000),
  /** A window untouched for this long leaves memory. */
  AGGREGATOR_IDLE_EVICT_MS: positiveInt(300_000),
  /** How far (event time) behind the newest window of its partition a written window may still change without counting as late. */
  AGGREGATOR_ALLOWED_LATENESS_SECONDS: nonNegativeInt(300),
  /** Partitions processed at the same time by one instance (each batch is one ClickHouse insert). */
  AGGREGATOR_PARTITIONS_CONCURRENCY: positiveInt(3),
  /** Longest the broker holds a fetch to collect AGGREGATOR_FETCH_MIN_BYTES: bounds how stale a window gets at low traffic. */
  AGGREGATOR_FETCH_MAX_WAIT_MS: positiveInt(200),
  /** Bytes the broker tries to collect before answering a fetch: fewer, larger inserts under load. */
  AGGREGATOR_FETCH_MIN_BYTES: positiveInt(65_536),
  /** Most bytes fetched per partition at once: bounds the state pending while ClickHouse is down. */
  AGGREGATOR_FETCH_MAX_BYTES_PER_PARTITION: positiveInt(1_048_576),
  /** Consumer group session: how soon the partitions of an instance that died move to another. */
  AGGREGATOR_SESSION_TIMEOUT_MS: positiveInt(30_000),
  AGGREGATOR_HEARTBEAT_INTERVAL_MS: positiveInt(3_000),
  /** How often the consumer lag gauge is refreshed. */
  AGGREGATOR_LAG_INTERVAL_MS: positiveInt(10_000),
  /** Upper bound of the backoff between retries while ClickHouse or Kafka is unavailable. */
  AGGREGATOR_RETRY_MAX_MS: positiveInt(5_000),
  /** Folder of the NNN_name.sql migrations; by default the one shipped next to the bundle. */
  CLICKHOUSE_MIGRATIONS_DIR: z.string().min(1).optional(),
};

export type AggregatorConfig = z.infer<z.ZodObject<typeof aggregatorEnv>>;

export function loadAggregatorConfig(env: NodeJS.ProcessEnv = process.env): AggregatorConfig {
  return loadConfig(aggregatorEnv, env);
}
