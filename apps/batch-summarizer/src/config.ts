import { kafkaEnv, loadConfig, port, positiveInt, s3Env, serviceEnv } from '@pipeline/platform';
import { DEFAULT_USER_AGENT_CACHE_SIZE } from '@pipeline/entry';
import { z } from 'zod';

export const summarizerEnv = {
  ...serviceEnv,
  ...kafkaEnv,
  ...s3Env,
  PORT: port(8081),
  /** Consumer group on batch-ingested; every instance of the service joins the same one. */
  SUMMARIZER_GROUP_ID: z.string().min(1).default('batch-summarizer'),
  /** Partitions processed at the same time by one instance. */
  SUMMARIZER_PARTITIONS_CONCURRENCY: positiveInt(4),
  /** Events of one partition worked on at the same time; offsets are committed up to the first unfinished one. */
  SUMMARIZER_EVENT_CONCURRENCY: positiveInt(16),
  /**
   * Entries (as announced by the events) of all batches being summarized at once by one instance.
   * Bounds memory when batches are large; an event bigger than this runs alone.
   */
  SUMMARIZER_MAX_ENTRIES_IN_FLIGHT: positiveInt(40_000),
  /** Distinct user-agent strings whose family is kept in memory. */
  UA_CACHE_SIZE: positiveInt(DEFAULT_USER_AGENT_CACHE_SIZE),
  /** A member silent this long is dropped from the group and its partitions reassigned. */
  SUMMARIZER_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6_000).max(300_000).default(30_000),
  /** How often the consumer lag gauge is refreshed. */
  SUMMARIZER_LAG_INTERVAL_MS: positiveInt(10_000),
  /** Upper bound of the backoff between retries while S3 or Kafka is unavailable. */
  SUMMARIZER_RETRY_MAX_MS: positiveInt(5_000),
};

export type SummarizerConfig = z.infer<z.ZodObject<typeof summarizerEnv>>;

export function loadSummarizerConfig(env: NodeJS.ProcessEnv = process.env): SummarizerConfig {
  return loadConfig(summarizerEnv, env);
}
