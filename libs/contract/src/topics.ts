import { z } from 'zod';

const topicName = (fallback: string) =>
  z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,249}$/, 'expected a Kafka topic name')
    .default(fallback);

/**
 * The topics of the pipeline, each configurable by one variable with the contract's name as its
 * default. Every service reads the ones it uses from here, so the names exist once.
 */
export const topicEnv = {
  /** One event per accepted batch, key `customerId|batchId`. */
  TOPIC_BATCH_INGESTED: topicName('batch-ingested'),
  /** One partial per (batch, minute), key `customerId|windowStart`: one writer per window. */
  TOPIC_INSIGHT_EVENTS: topicName('insight-events'),
  /** Events the summarizer could never process, with the reason in headers. */
  TOPIC_BATCH_INGESTED_DLQ: topicName('batch-ingested-dlq'),
  /** Partials the aggregator could never merge, with the reason in headers. */
  TOPIC_INSIGHT_EVENTS_DLQ: topicName('insight-events-dlq'),
};
export type TopicEnv = z.infer<z.ZodObject<typeof topicEnv>>;

/** A message as read from a topic, bytes untouched (what is replayed is replayed as it was). */
export interface TopicMessage {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer>;
}
