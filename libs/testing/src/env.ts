import { ClickHouseEnv, KafkaEnv, S3Env, clickhouseEnv, kafkaEnv, loadConfig, s3Env } from '@pipeline/platform';
import { stackEndpoints } from './paths';

// Tests configure their own clients from the same variables, parsed by the same schemas, as the
// services they start; the adapters turn these into client settings (kafkaSettingsFromEnv etc.).

/** KAFKA_* for a test's own client, on the shared broker unless `brokers`, with the test environment's login (the administrator's). */
export function testKafkaEnv(options: { brokers?: string; requestTimeoutMs?: number } = {}): KafkaEnv {
  return loadConfig(kafkaEnv, {
    KAFKA_BROKERS: options.brokers ?? stackEndpoints().kafkaBrokers,
    KAFKA_REQUEST_TIMEOUT_MS: String(options.requestTimeoutMs ?? 10_000),
    KAFKA_SASL_MECHANISM: process.env.KAFKA_SASL_MECHANISM,
    KAFKA_SASL_USERNAME: process.env.KAFKA_SASL_USERNAME,
    KAFKA_SASL_PASSWORD: process.env.KAFKA_SASL_PASSWORD,
  });
}

/** S3_* for a test's own bucket, on the shared MinIO unless `endpoint`. */
export function testS3Env(bucket: string, options: { endpoint?: string } = {}): S3Env {
  return loadConfig(s3Env, {
    S3_ENDPOINT: options.endpoint ?? stackEndpoints().s3Endpoint,
    S3_BUCKET: bucket,
    S3_ACCESS_KEY_ID: process.env.S3_ACCESS_KEY_ID,
    S3_SECRET_ACCESS_KEY: process.env.S3_SECRET_ACCESS_KEY,
  });
}

/** CLICKHOUSE_* for a test's own database, on the shared server unless `url` (with its `credentials`, if any). */
export function testClickHouseEnv(
  database: string,
  options: { url?: string; requestTimeoutMs?: number; credentials?: { username: string; password: string } } = {},
): ClickHouseEnv {
  return loadConfig(clickhouseEnv, {
    CLICKHOUSE_URL: options.url ?? stackEndpoints().clickhouseUrl,
    // A private server's own login, else the test environment's (the shared stack's administrator).
    CLICKHOUSE_USER: options.credentials?.username ?? process.env.CLICKHOUSE_USER,
    CLICKHOUSE_PASSWORD: options.credentials?.password ?? process.env.CLICKHOUSE_PASSWORD,
    CLICKHOUSE_DATABASE: database,
    CLICKHOUSE_REQUEST_TIMEOUT_MS: String(options.requestTimeoutMs ?? 10_000),
  });
}
