import { topicEnv } from '@pipeline/contract';
import { consumerEnv } from '@pipeline/kafka';
import { DEFAULT_MAX_PATHS_PER_WINDOW } from '@pipeline/partial';
import { clickhouseEnv, kafkaEnv, loadConfig, nonNegativeInt, port, positiveInt, retentionEnv, serviceEnv } from '@pipeline/platform';
import { z } from 'zod';

export const aggregatorEnv = {
  ...serviceEnv,
  ...kafkaEnv,
  ...topicEnv,
  ...clickhouseEnv,
  PORT: port(8082),
  ...consumerEnv('AGGREGATOR', {
    groupId: 'window-aggregator',
    partitionsConcurrently: 3,
    // Partials are small; what bounds memory here is the window cache below.
    maxBytesInFlight: 16 * 1024 * 1024,
    // Bounds how stale a window gets at low traffic; under load the broker answers sooner.
    fetchMaxWaitMs: 200,
    // Fewer, larger inserts under load.
    fetchMinBytes: 65_536,
    // One commit per fetched batch: there is one insert per batch anyway.
    commitIntervalMs: 0,
  }),
  /** Bytes of window states held in memory (estimated); the least recently used leave first and reload on demand. */
  AGGREGATOR_WINDOW_CACHE_BYTES: positiveInt(64 * 1024 * 1024),
  /** A window untouched for this long leaves memory. */
  AGGREGATOR_IDLE_EVICT_MS: positiveInt(300_000),
  /** How far (event time) behind the newest window of its partition a written window may still change without counting as late. */
  AGGREGATOR_ALLOWED_LATENESS_SECONDS: nonNegativeInt(300),
  /**
   * Least time between two refreshes of the hour and day rollups: the windows of every batch
   * written meanwhile go together. The rollups trail the minutes by about this plus one refresh;
   * the offsets are committed after it.
   */
  AGGREGATOR_ROLLUP_INTERVAL_MS: nonNegativeInt(500),
  /** Distinct path keys one window holds; the paths beyond are counted under `(other)`, so a window's state and revisions stay bounded. */
  AGGREGATOR_MAX_PATHS_PER_WINDOW: positiveInt(DEFAULT_MAX_PATHS_PER_WINDOW),
  /**
   * CLICKHOUSE_RETENTION_DAYS: days a window's revisions (and so its minute, hourly and daily
   * aggregates) are kept, by the age of the window; 0 keeps everything. The ingestion refuses older
   * entries; partials of windows older than that plus a delivery day are refused here (counted as
   * late and expired): see "Retention" in docs/semantics.md.
   */
  ...retentionEnv,
  /** `auto`: a table TTL where the server has one (19.6 and later), else a job dropping expired month partitions. */
  CLICKHOUSE_RETENTION_MODE: z.enum(['auto', 'ttl', 'partitions']).default('auto'),
  /** Pause between runs of the partition job (servers without TTL, or CLICKHOUSE_RETENTION_MODE=partitions). */
  CLICKHOUSE_RETENTION_INTERVAL_MS: positiveInt(3_600_000),
  /** Folder of the NNN_name.sql migrations; by default the one shipped next to the bundle. */
  CLICKHOUSE_MIGRATIONS_DIR: z.string().min(1).optional(),
};

export type AggregatorConfig = z.infer<z.ZodObject<typeof aggregatorEnv>>;

export function loadAggregatorConfig(env: NodeJS.ProcessEnv = process.env): AggregatorConfig {
  return loadConfig(aggregatorEnv, env);
}
