import { topicEnv } from '@pipeline/contract';
import { DEFAULT_USER_AGENT_CACHE_SIZE } from '@pipeline/entry';
import { consumerEnv } from '@pipeline/kafka';
import { kafkaEnv, loadConfig, port, positiveInt, s3Env, serviceEnv } from '@pipeline/platform';
import { MIN_PARTIAL_BYTES } from '@pipeline/partial';
import { z } from 'zod';

export const summarizerEnv = {
  ...serviceEnv,
  ...kafkaEnv,
  ...topicEnv,
  ...s3Env,
  PORT: port(8081),
  ...consumerEnv('SUMMARIZER', {
    groupId: 'batch-summarizer',
    partitionsConcurrently: 4,
    // A 2 MiB batch holds its body, its text and its parsed entries while it is summarized
    // (about 5 times its size): 24 MiB of raw batches is some 120 MiB of heap at worst.
    maxBytesInFlight: 24 * 1024 * 1024,
    fetchMaxWaitMs: 100,
    fetchMinBytes: 1,
    // Events are small and many: one commit a second instead of one per event.
    commitIntervalMs: 1_000,
  }),
  /** Events of one partition worked on at the same time; offsets are committed up to the first unfinished one. */
  SUMMARIZER_EVENT_CONCURRENCY: positiveInt(16),
  /**
   * Bytes of one customer's batches summarized at once (their share of SUMMARIZER_MAX_BYTES_IN_FLIGHT);
   * unset: a quarter of it. Events of a customer over its share wait while other customers' events
   * behind them go ahead.
   */
  SUMMARIZER_MAX_BYTES_IN_FLIGHT_PER_CUSTOMER: z.coerce.number().int().positive().optional(),
  /**
   * Largest partial sent as one message, in bytes; a minute with more distinct paths is split into
   * numbered parts. Keep it well below the insight-events topic's max.message.bytes (1 MiB by default);
   * at least MIN_PARTIAL_BYTES, so that any entry the door accepts fits a part.
   */
  SUMMARIZER_MAX_PARTIAL_BYTES: z.coerce.number().int().min(MIN_PARTIAL_BYTES).max(8_388_608).default(512 * 1024),
  /** Distinct user-agent strings whose family is kept in memory. */
  UA_CACHE_SIZE: positiveInt(DEFAULT_USER_AGENT_CACHE_SIZE),
};

export type SummarizerConfig = z.infer<z.ZodObject<typeof summarizerEnv>>;

export function loadSummarizerConfig(env: NodeJS.ProcessEnv = process.env): SummarizerConfig {
  return loadConfig(summarizerEnv, env);
}
