import { Stack, StackWire } from './stack';

/** Runs are told apart on a shared stack by a suffix on every customer id. */
function runSuffix(env: NodeJS.ProcessEnv): string {
  const given = env.E2E_CUSTOMER_SUFFIX;
  if (given === 'none') return '';
  if (given !== undefined && given !== '') {
    if (!/^[A-Za-z0-9._-]{0,24}$/.test(given)) throw new Error('E2E_CUSTOMER_SUFFIX must be at most 24 of [A-Za-z0-9._-] (or "none")');
    return given;
  }
  return `.r${Date.now().toString(36)}${Math.random().toString(36).slice(2, 5)}`;
}

/**
 * An already running stack (docker-compose, a staging deployment) given by URLs. It cannot be
 * killed or restarted from here, so it has no `control`, and its data outlives the run: every
 * customer id gets a per-run suffix (E2E_CUSTOMER_SUFFIX=none to use the plain ids on a fresh stack).
 */
export function externalStack(env: NodeJS.ProcessEnv = process.env): Stack {
  const urls = {
    'batch-ingestion': env.E2E_INGEST_URL ?? 'http://127.0.0.1:8080',
    'batch-summarizer': env.E2E_SUMMARIZER_URL ?? 'http://127.0.0.1:8081',
    'window-aggregator': env.E2E_AGGREGATOR_URL ?? 'http://127.0.0.1:8082',
  };
  const clickhouse = {
    url: env.E2E_CLICKHOUSE_URL ?? env.CLICKHOUSE_URL ?? 'http://127.0.0.1:8123',
    username: env.E2E_CLICKHOUSE_USER ?? env.CLICKHOUSE_USER ?? 'default',
    password: env.E2E_CLICKHOUSE_PASSWORD ?? env.CLICKHOUSE_PASSWORD ?? '',
    database: env.E2E_CLICKHOUSE_DATABASE ?? env.CLICKHOUSE_DATABASE ?? 'log_analytics',
  };
  const customerSuffix = runSuffix(env);
  // Kafka and S3 of a stack given by URLs are reachable only when named (docker-compose publishes
  // Kafka's host listener on 127.0.0.1:19092 and MinIO on 127.0.0.1:9000).
  const wire: StackWire | undefined = env.E2E_KAFKA_BROKERS
    ? {
        kafkaBrokers: env.E2E_KAFKA_BROKERS.split(','),
        topics: {
          batchIngested: env.TOPIC_BATCH_INGESTED ?? 'batch-ingested',
          insightEvents: env.TOPIC_INSIGHT_EVENTS ?? 'insight-events',
          batchIngestedDlq: env.TOPIC_BATCH_INGESTED_DLQ ?? 'batch-ingested-dlq',
          insightEventsDlq: env.TOPIC_INSIGHT_EVENTS_DLQ ?? 'insight-events-dlq',
        },
        s3: {
          endpoint: env.E2E_S3_ENDPOINT ?? 'http://127.0.0.1:9000',
          region: env.S3_REGION ?? 'us-east-1',
          bucket: env.S3_BUCKET ?? 'log-batches',
          accessKeyId: env.E2E_S3_ACCESS_KEY_ID ?? env.S3_ACCESS_KEY_ID ?? 'minioadmin',
          secretAccessKey: env.E2E_S3_SECRET_ACCESS_KEY ?? env.S3_SECRET_ACCESS_KEY ?? 'minioadmin',
        },
      }
    : undefined;
  return {
    mode: 'external',
    url: (service) => urls[service],
    clickhouse,
    customerSuffix,
    wire,
    describe: () => `external stack: ${Object.entries(urls).map(([s, u]) => `${s} ${u}`).join(', ')}; ClickHouse ${clickhouse.url} database ${clickhouse.database}; customer suffix ${JSON.stringify(customerSuffix)}`,
    stop: async () => undefined,
  };
}
