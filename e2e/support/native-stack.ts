import { DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { ClickHouseGateway } from '@pipeline/clickhouse';
import { createKafka } from '@pipeline/kafka';
import { AppProcess, startApp, stackEndpoints } from '@pipeline/testing';
import { gatewayToken } from './http';
import { isolatedNames, runId, ServiceControl, ServiceName, SERVICES, Stack, StackOptions, StackWire } from './stack';

/** Names no other run uses, so a run never touches a developer's data or another run's. */
export function nativeStackEnv(name: string, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const id = runId(name);
  const endpoints = stackEndpoints();
  const passThrough = Object.fromEntries(
    ['S3_REGION', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY', 'CLICKHOUSE_USER', 'CLICKHOUSE_PASSWORD', 'KAFKA_TOPIC_PARTITIONS']
      .filter((k) => env[k])
      .map((k) => [k, env[k]!]),
  );
  return {
    KAFKA_BROKERS: endpoints.kafkaBrokers,
    S3_ENDPOINT: endpoints.s3Endpoint,
    CLICKHOUSE_URL: endpoints.clickhouseUrl,
    ...passThrough,
    LOG_LEVEL: env.E2E_LOG_LEVEL ?? 'info',
    GATEWAY_TOKEN: gatewayToken(env),
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
    username: env.CLICKHOUSE_USER ?? 'default',
    password: env.CLICKHOUSE_PASSWORD ?? '',
    database: env.CLICKHOUSE_DATABASE,
  };
  return {
    mode: 'native',
    url: (service) => app(service).url,
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
      if (process.env.E2E_KEEP !== '1') await removeRunResources(env);
    },
  };
}

export function wireOf(env: Record<string, string>): StackWire {
  return {
    kafkaBrokers: env.KAFKA_BROKERS.split(','),
    topics: { batchIngested: env.TOPIC_BATCH_INGESTED, insightEvents: env.TOPIC_INSIGHT_EVENTS, batchIngestedDlq: env.TOPIC_BATCH_INGESTED_DLQ, insightEventsDlq: env.TOPIC_INSIGHT_EVENTS_DLQ },
    s3: {
      endpoint: env.S3_ENDPOINT,
      region: env.S3_REGION ?? 'us-east-1',
      bucket: env.S3_BUCKET,
      accessKeyId: env.S3_ACCESS_KEY_ID ?? 'minioadmin',
      secretAccessKey: env.S3_SECRET_ACCESS_KEY ?? 'minioadmin',
    },
  };
}

/** Best effort: a failed clean-up must not hide the result of the scenario. */
async function removeRunResources(env: Record<string, string>): Promise<void> {
  const steps: Promise<unknown>[] = [];
  const clickhouse = ClickHouseGateway.fromSettings({
    url: env.CLICKHOUSE_URL,
    username: env.CLICKHOUSE_USER ?? 'default',
    password: env.CLICKHOUSE_PASSWORD ?? '',
    database: env.CLICKHOUSE_DATABASE,
    // Dropping a database that took gigabytes can outlast an ordinary query.
    requestTimeoutMs: 180_000,
  });
  steps.push(clickhouse.command(`DROP DATABASE IF EXISTS ${clickhouse.database}`).finally(() => clickhouse.close()));

  const kafka = createKafka({ brokers: env.KAFKA_BROKERS.split(','), clientId: 'e2e-cleanup', requestTimeoutMs: 10_000 });
  const admin = kafka.admin();
  steps.push(
    (async () => {
      await admin.connect();
      try {
        const existing = new Set(await admin.listTopics());
        const topics = [env.TOPIC_BATCH_INGESTED, env.TOPIC_INSIGHT_EVENTS, env.TOPIC_BATCH_INGESTED_DLQ, env.TOPIC_INSIGHT_EVENTS_DLQ].filter((t) => existing.has(t));
        if (topics.length) await admin.deleteTopics({ topics, timeout: 10_000 });
        await admin.deleteGroups([env.SUMMARIZER_GROUP_ID, env.AGGREGATOR_GROUP_ID]).catch(() => undefined);
      } finally {
        await admin.disconnect();
      }
    })(),
  );

  const s3 = new S3Client({
    endpoint: env.S3_ENDPOINT,
    region: env.S3_REGION ?? 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: env.S3_ACCESS_KEY_ID ?? 'minioadmin', secretAccessKey: env.S3_SECRET_ACCESS_KEY ?? 'minioadmin' },
  });
  steps.push(
    (async () => {
      let token: string | undefined;
      do {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: env.S3_BUCKET, ContinuationToken: token }));
        const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
        if (keys.length) await s3.send(new DeleteObjectsCommand({ Bucket: env.S3_BUCKET, Delete: { Objects: keys, Quiet: true } }));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      await s3.send(new DeleteBucketCommand({ Bucket: env.S3_BUCKET }));
    })().finally(() => s3.destroy()),
  );
  const results = await Promise.allSettled(steps);
  for (const r of results) if (r.status === 'rejected') process.stderr.write(`[e2e] clean-up step failed: ${(r.reason as Error)?.message ?? r.reason}\n`);
}
