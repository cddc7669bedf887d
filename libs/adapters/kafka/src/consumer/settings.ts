import { positiveInt } from '@pipeline/platform';
import { z } from 'zod';
import type { KafkaSourceOptions } from './kafka-source';

/** Defaults that differ between consumers; everything else is shared. */
export interface ConsumerDefaults {
  groupId: string;
  partitionsConcurrently: number;
  maxBytesInFlight: number;
  fetchMaxWaitMs: number;
  fetchMinBytes: number;
  commitIntervalMs: number;
}

const SUFFIXES = [
  'GROUP_ID',
  'PARTITIONS_CONCURRENCY',
  'MAX_BYTES_IN_FLIGHT',
  'SESSION_TIMEOUT_MS',
  'HEARTBEAT_INTERVAL_MS',
  'FETCH_MAX_WAIT_MS',
  'FETCH_MIN_BYTES',
  'FETCH_MAX_BYTES_PER_PARTITION',
  'LAG_INTERVAL_MS',
  'COMMIT_INTERVAL_MS',
  'RETRY_MAX_MS',
  'STALL_UNREADY_MS',
  'POISON_AFTER_ATTEMPTS',
] as const;
type Suffix = (typeof SUFFIXES)[number];

type NumberSuffix = Exclude<Suffix, 'GROUP_ID'>;
export type ConsumerEnvShape<P extends string> = { [K in `${P}_GROUP_ID`]: z.ZodDefault<z.ZodString> } & { [K in `${P}_${NumberSuffix}`]: z.ZodDefault<z.ZodNumber> };
export type ConsumerEnv<P extends string> = { [K in `${P}_GROUP_ID`]: string } & { [K in `${P}_${NumberSuffix}`]: number };

/**
 * The variables of one consumer, under the service's prefix (e.g. `AGGREGATOR_GROUP_ID`): every
 * consuming service has the same set, with the same meaning, because they run on the same runtime.
 */
export function consumerEnv<P extends string>(prefix: P, d: ConsumerDefaults): ConsumerEnvShape<P> {
  const shape: Record<Suffix, z.ZodTypeAny> = {
    /** Consumer group; every instance of the service joins the same one. */
    GROUP_ID: z.string().min(1).default(d.groupId),
    /** Partitions worked on at the same time by one instance. */
    PARTITIONS_CONCURRENCY: positiveInt(d.partitionsConcurrently),
    /** Bytes of consumed messages worked on at once by one instance; fetching pauses beyond it. */
    MAX_BYTES_IN_FLIGHT: positiveInt(d.maxBytesInFlight),
    /** A member silent this long is dropped from the group and its partitions move to another. */
    SESSION_TIMEOUT_MS: z.coerce.number().int().min(6_000).max(300_000).default(30_000),
    HEARTBEAT_INTERVAL_MS: positiveInt(3_000),
    /** Longest the broker holds a fetch to collect FETCH_MIN_BYTES: bounds staleness at low traffic. */
    FETCH_MAX_WAIT_MS: positiveInt(d.fetchMaxWaitMs),
    FETCH_MIN_BYTES: positiveInt(d.fetchMinBytes),
    /** Most bytes fetched per partition at once. */
    FETCH_MAX_BYTES_PER_PARTITION: positiveInt(1_048_576),
    /** A partition's finished work is committed at most this often (0: as soon as it finishes); uncommitted work is redelivered after a crash. */
    COMMIT_INTERVAL_MS: z.coerce.number().int().min(0).max(60_000).default(d.commitIntervalMs),
    /** How often the consumer_lag gauge is refreshed. */
    LAG_INTERVAL_MS: positiveInt(10_000),
    /** Upper bound of the backoff between retries of a transient failure. */
    RETRY_MAX_MS: positiveInt(5_000),
    /** A partition stalled on a transient failure this long makes /health/ready fail. */
    STALL_UNREADY_MS: positiveInt(30_000),
    /** The same failure this many times in a row, with the dependency answering, marks the input as poison. */
    POISON_AFTER_ATTEMPTS: positiveInt(5),
  };
  return Object.fromEntries(SUFFIXES.map((s) => [`${prefix}_${s}`, shape[s]])) as ConsumerEnvShape<P>;
}

/** The runtime settings those variables describe. */
export function consumerSettings<P extends string>(
  prefix: P,
  env: ConsumerEnv<P>,
): Pick<
  KafkaSourceOptions,
  'groupId' | 'partitionsConsumedConcurrently' | 'maxBytesInFlight' | 'sessionTimeoutMs' | 'heartbeatIntervalMs' | 'commitIntervalMs' | 'fetch' | 'lagIntervalMs' | 'retry' | 'stallUnreadyAfterMs' | 'poisonAfterAttempts'
> {
  const v = env as unknown as Record<string, string & number>;
  const get = (s: Suffix) => v[`${prefix}_${s}`];
  return {
    groupId: get('GROUP_ID'),
    partitionsConsumedConcurrently: get('PARTITIONS_CONCURRENCY'),
    maxBytesInFlight: get('MAX_BYTES_IN_FLIGHT'),
    sessionTimeoutMs: get('SESSION_TIMEOUT_MS'),
    heartbeatIntervalMs: Math.min(get('HEARTBEAT_INTERVAL_MS'), Math.floor(get('SESSION_TIMEOUT_MS') / 3)),
    fetch: { minBytes: get('FETCH_MIN_BYTES'), maxWaitTimeInMs: get('FETCH_MAX_WAIT_MS'), maxBytesPerPartition: get('FETCH_MAX_BYTES_PER_PARTITION') },
    lagIntervalMs: get('LAG_INTERVAL_MS'),
    commitIntervalMs: get('COMMIT_INTERVAL_MS'),
    retry: { baseMs: 200, maxMs: get('RETRY_MAX_MS') },
    stallUnreadyAfterMs: get('STALL_UNREADY_MS'),
    poisonAfterAttempts: get('POISON_AFTER_ATTEMPTS'),
  };
}
