import { z } from 'zod';

/** Raised when the environment does not describe a runnable service; names every bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses environment variables with a zod object schema whose keys are the variable names.
 * Empty strings count as unset so that `FOO=` falls back to the default instead of failing.
 */
export function loadConfig<S extends z.ZodRawShape>(
  shape: S,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<z.ZodObject<S>> {
  const input: Record<string, string | undefined> = {};
  for (const key of Object.keys(shape)) {
    const value = env[key];
    input[key] = value === undefined || value.trim() === '' ? undefined : value.trim();
  }
  const result = z.object(shape).safeParse(input);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`),
    );
  }
  return result.data;
}

/** A credential that must be given: no default, and a message saying what it is. */
const secret = (what: string) => z.string({ required_error: `required: ${what} (docs/security.md)` }).min(1);

export const port = (fallback: number) => z.coerce.number().int().min(1).max(65535).default(fallback);
export const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
export const nonNegativeInt = (fallback: number) => z.coerce.number().int().min(0).default(fallback);
export const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

const csv = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
  .pipe(z.array(z.string().regex(/^[^\s:]+:\d+$/, 'expected host:port')).min(1));

/** Variables every service shares, so Docker and the native stack configure them the same way. */
export const serviceEnv = {
  HOST: z.string().default('127.0.0.1'),
  /** Every service sets its own default (8080 / 8081 / 8082). */
  PORT: port(8080),
  /**
   * When set to another port than PORT, /metrics and /health/* are served there instead (keep it off
   * the client-facing network); the ingestion sets its own default (8090), the consumers none.
   */
  OPS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  /** Listen address of OPS_PORT; HOST when unset. */
  OPS_HOST: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
  /** Longest a SIGTERM drain may take before the process exits anyway. */
  SHUTDOWN_TIMEOUT_MS: positiveInt(10_000),
};
export type ServiceEnv = z.infer<z.ZodObject<typeof serviceEnv>>;

export const kafkaEnv = {
  KAFKA_BROKERS: csv.default('127.0.0.1:9092'),
  KAFKA_CLIENT_ID: z.string().optional(),
  KAFKA_TOPIC_PARTITIONS: positiveInt(6),
  KAFKA_REPLICATION_FACTOR: positiveInt(1),
  /**
   * min.insync.replicas of the topics a service creates: how many replicas must hold a message before
   * an acks=all send succeeds. Unset: 2 from a replication factor of 3 up (one broker may fail with
   * no acknowledged message lost and no send refused), else 1.
   */
  KAFKA_MIN_INSYNC_REPLICAS: z.coerce.number().int().positive().optional(),
  KAFKA_REQUEST_TIMEOUT_MS: positiveInt(5_000),
  /** SASL authentication to the brokers (off when unset): scram-sha-256, scram-sha-512 or plain. */
  KAFKA_SASL_MECHANISM: z.enum(['scram-sha-256', 'scram-sha-512', 'plain']).optional(),
  KAFKA_SASL_USERNAME: z.string().min(1).optional(),
  KAFKA_SASL_PASSWORD: z.string().min(1).optional(),
  /** TLS to the brokers (the system's trusted certificates). */
  KAFKA_SSL: bool(false),
};
export type KafkaEnv = z.infer<z.ZodObject<typeof kafkaEnv>>;

export const s3Env = {
  S3_ENDPOINT: z.string().url().default('http://127.0.0.1:9000'),
  S3_REGION: z.string().min(1).default('us-east-1'),
  // No default credentials: a service runs with the account it is given, its own (docs/security.md).
  S3_ACCESS_KEY_ID: secret('the access key of this service\'s S3 account'),
  S3_SECRET_ACCESS_KEY: secret('the secret key of this service\'s S3 account'),
  S3_BUCKET: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'expected an S3 bucket name')
    .default('log-batches'),
  S3_FORCE_PATH_STYLE: bool(true),
  S3_REQUEST_TIMEOUT_MS: positiveInt(5_000),
};
export type S3Env = z.infer<z.ZodObject<typeof s3Env>>;

/**
 * How long window aggregates are kept, in days of event time (0: forever). The aggregator expires
 * them; the ingestion refuses entries already older than that, so nothing it accepts is dropped later.
 */
export const retentionEnv = {
  CLICKHOUSE_RETENTION_DAYS: nonNegativeInt(0),
};

export const clickhouseEnv = {
  CLICKHOUSE_URL: z.string().url().default('http://127.0.0.1:8123'),
  CLICKHOUSE_USER: secret('the ClickHouse user the service writes as'),
  CLICKHOUSE_PASSWORD: secret('the password of CLICKHOUSE_USER'),
  CLICKHOUSE_DATABASE: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected a plain identifier')
    .default('log_analytics'),
  CLICKHOUSE_REQUEST_TIMEOUT_MS: positiveInt(30_000),
  /**
   * The schema's tables are made Replicated*MergeTree (a cluster of replicas coordinated by ZooKeeper
   * or ClickHouse Keeper; the server's `{shard}` and `{replica}` macros name its place). Read by the
   * migrations only: every other statement is the same on one server and on replicas.
   */
  CLICKHOUSE_REPLICATED: bool(false),
};
export type ClickHouseEnv = z.infer<z.ZodObject<typeof clickhouseEnv>>;
