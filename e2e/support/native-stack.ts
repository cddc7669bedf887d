import { AppProcess, kafkaSasl, removeRunResources, runResourcesOf, sharedStackEnv, startApp } from '@pipeline/testing';
import { gatewayToken } from './http';
import { isolatedNames, KafkaLogin, runId, ServiceControl, ServiceName, SERVICES, Stack, StackOptions, StackWire } from './stack';

/** Names no other run uses, so a run never touches a developer's data or another run's. */
export function nativeStackEnv(name: string, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const id = runId(name);
  const passThrough = Object.fromEntries(['S3_REGION', 'KAFKA_TOPIC_PARTITIONS'].filter((k) => env[k]).map((k) => [k, env[k]!]));
  return {
    ...sharedStackEnv(env),
    ...passThrough,
    LOG_LEVEL: env.E2E_LOG_LEVEL ?? 'info',
    GATEWAY_TOKEN: gatewayToken(env),
    GATEWAY_TOKEN_CUSTOMERS: '*',
    ...isolatedNames(id),
  };
}

/**
 * The three apps as real processes (built from the current sources) on the local Kafka, MinIO
 * and ClickHouse, with topics, bucket, database and consumer groups of their own. stop() stops
 * the apps and removes what the run created, unless E2E_KEEP=1.
 */
export async function startNativeStack(options: StackOptions): Promise<Stack> {
  const env = { ...nativeStackEnv(options.name), ...options.env };
  const apps = new Map<ServiceName, AppProcess>();
  try {
    // The aggregator first: it migrates the database the others never touch; then downstream-first.
    for (const service of [...SERVICES].reverse()) apps.set(service, await startApp(service, env, { timeoutMs: 90_000 }));
  } catch (err) {
    await Promise.allSettled([...apps.values()].map((a) => a.stop()));
    throw err;
  }
  const app = (service: ServiceName) => apps.get(service)!;
  const control: ServiceControl = {
    kill: (service, signal = 'SIGKILL') => app(service).kill(signal),
    restart: (service) => app(service).restart(),
  };
  const clickhouse = {
    url: env.CLICKHOUSE_URL,
    username: env.CLICKHOUSE_USER,
    password: env.CLICKHOUSE_PASSWORD,
    database: env.CLICKHOUSE_DATABASE,
  };
  return {
    mode: 'native',
    url: (service) => app(service).url,
    opsUrl: (service) => app(service).opsUrl,
    clickhouse,
    customerSuffix: '',
    control,
    wire: wireOf(env),
    pid: (service) => app(service).pid,
    describe: () =>
      [`native stack: database ${env.CLICKHOUSE_DATABASE}, bucket ${env.S3_BUCKET}, topics ${env.TOPIC_BATCH_INGESTED} / ${env.TOPIC_INSIGHT_EVENTS}`,
        ...SERVICES.map((s) => `  ${s}: ${app(s).url} (log ${app(s).logFile})`)].join('\n'),
    stop: async () => {
      await Promise.allSettled([...apps.values()].map((a) => a.stop()));
      if (process.env.E2E_KEEP === '1') return;
      for (const failure of await removeRunResources(runResourcesOf(env))) process.stderr.write(`[e2e] clean-up step failed: ${failure}\n`);
    },
  };
}

export function wireOf(env: Record<string, string>): StackWire {
  return {
    kafkaBrokers: env.KAFKA_BROKERS.split(','),
    kafkaSasl: kafkaSasl(env) as KafkaLogin | undefined,
    topics: { batchIngested: env.TOPIC_BATCH_INGESTED, insightEvents: env.TOPIC_INSIGHT_EVENTS, batchIngestedDlq: env.TOPIC_BATCH_INGESTED_DLQ, insightEventsDlq: env.TOPIC_INSIGHT_EVENTS_DLQ },
    s3: {
      endpoint: env.S3_ENDPOINT,
      region: env.S3_REGION ?? 'us-east-1',
      bucket: env.S3_BUCKET,
      accessKeyId: env.S3_ACCESS_KEY_ID,
      secretAccessKey: env.S3_SECRET_ACCESS_KEY,
    },
  };
}
