import { DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { createClient } from '@clickhouse/client';
import { Kafka, logLevel } from 'kafkajs';
import { AppName, AppProcess, startApp } from './apps';
import { stackEndpoints, uniqueName } from './paths';

/** A row of `minute_aggregates` with its keys and counts zipped into maps. */
export interface MinuteRow {
  windowStart: string;
  total: number;
  paths: Record<string, number>;
  uas: Record<string, number>;
}

/** The three services as processes on the shared servers, with topics, bucket, database and groups of their own. */
export interface Pipeline {
  /** The environment every service got (topics, bucket, database, accounts, gateway token). */
  readonly env: Record<string, string>;
  readonly apps: Record<AppName, AppProcess>;
  /** A second ingestion on the same topics and bucket with `env` added (rate limits, say); stopped with the pipeline. */
  startIngestion(env: Record<string, string>): Promise<AppProcess>;
  /** `minute_aggregates` of one customer, as an analyst reads it (a plain SELECT), by window. */
  minutes(customerId: string): Promise<Record<string, MinuteRow>>;
  stop(): Promise<void>;
}

// The test kit sits below the adapters (their tests use it), so it talks to the servers with the
// plain clients. Only names it made itself and customer ids of the contract's alphabet reach SQL.
const sqlName = (name: string) => {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`not a plain identifier: ${name}`);
  return name;
};
const sqlCustomer = (id: string) => {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) throw new Error(`not a customer id: ${id}`);
  return `'${id}'`;
};

function clickhouseOf(env: Record<string, string>) {
  return createClient({ url: env.CLICKHOUSE_URL, username: env.CLICKHOUSE_USER, password: env.CLICKHOUSE_PASSWORD, request_timeout: 60_000 });
}

const zip = (keys: string[], counts: (number | string)[]) => Object.fromEntries(keys.map((k, i) => [k, Number(counts[i])]));

/** Starts the aggregator, the summarizer and the ingestion (downstream first); stop() removes what they created. */
export async function startPipeline(name: string, options: { env?: Record<string, string> } = {}): Promise<Pipeline> {
  const id = uniqueName(name).toLowerCase().replace(/[^a-z0-9-]/g, '');
  const endpoints = stackEndpoints();
  const env: Record<string, string> = {
    KAFKA_BROKERS: endpoints.kafkaBrokers,
    S3_ENDPOINT: endpoints.s3Endpoint,
    CLICKHOUSE_URL: endpoints.clickhouseUrl,
    S3_ACCESS_KEY_ID: process.env.S3_ACCESS_KEY_ID ?? '',
    S3_SECRET_ACCESS_KEY: process.env.S3_SECRET_ACCESS_KEY ?? '',
    CLICKHOUSE_USER: process.env.CLICKHOUSE_USER ?? '',
    CLICKHOUSE_PASSWORD: process.env.CLICKHOUSE_PASSWORD ?? '',
    GATEWAY_TOKEN: `it-${id}-token`,
    KAFKA_TOPIC_PARTITIONS: '3',
    TOPIC_BATCH_INGESTED: `${id}-batch-ingested`,
    TOPIC_INSIGHT_EVENTS: `${id}-insight-events`,
    TOPIC_BATCH_INGESTED_DLQ: `${id}-batch-ingested-dlq`,
    TOPIC_INSIGHT_EVENTS_DLQ: `${id}-insight-events-dlq`,
    S3_BUCKET: id.slice(0, 63),
    CLICKHOUSE_DATABASE: sqlName(`it_${id.replaceAll('-', '_')}`),
    SUMMARIZER_GROUP_ID: `${id}-summarizer`,
    AGGREGATOR_GROUP_ID: `${id}-aggregator`,
    ...options.env,
  };
  const started: AppProcess[] = [];
  const start = async (app: AppName, extra: Record<string, string> = {}) => {
    const proc = await startApp(app, { ...env, ...extra }, { timeoutMs: 90_000 });
    started.push(proc);
    return proc;
  };
  try {
    const aggregator = await start('window-aggregator');
    const summarizer = await start('batch-summarizer');
    const ingestion = await start('batch-ingestion');
    const clickhouse = clickhouseOf(env);
    return {
      env,
      apps: { 'window-aggregator': aggregator, 'batch-summarizer': summarizer, 'batch-ingestion': ingestion },
      startIngestion: (extra) => start('batch-ingestion', extra),
      minutes: async (customerId) => {
        const result = await clickhouse.query({
          query: `SELECT toUnixTimestamp(window_start) AS ts, total_requests, path_keys, path_counts, ua_keys, ua_counts
           FROM ${sqlName(env.CLICKHOUSE_DATABASE)}.minute_aggregates WHERE customer_id = ${sqlCustomer(customerId)}`,
          format: 'JSONEachRow',
        });
        const rows = await result.json<{ ts: string | number; total_requests: string | number; path_keys: string[]; path_counts: (string | number)[]; ua_keys: string[]; ua_counts: (string | number)[] }>();
        const out: Record<string, MinuteRow> = {};
        for (const r of rows) {
          const ws = new Date(Number(r.ts) * 1000).toISOString().slice(0, 16) + 'Z';
          if (out[ws]) throw new Error(`minute_aggregates has two rows for ${customerId} ${ws}`);
          out[ws] = { windowStart: ws, total: Number(r.total_requests), paths: zip(r.path_keys, r.path_counts), uas: zip(r.ua_keys, r.ua_counts) };
        }
        return out;
      },
      stop: async () => {
        await Promise.allSettled(started.map((p) => p.stop()));
        await clickhouse.close().catch(() => undefined);
        await removeResources(env);
      },
    };
  } catch (err) {
    await Promise.allSettled(started.map((p) => p.stop()));
    throw err;
  }
}

/** Best effort: the data is throwaway, and a failed clean-up must not hide a test's result. */
async function removeResources(env: Record<string, string>): Promise<void> {
  const clickhouse = clickhouseOf(env);
  const dropDatabase = clickhouse.command({ query: `DROP DATABASE IF EXISTS ${sqlName(env.CLICKHOUSE_DATABASE)}` }).finally(() => clickhouse.close());
  const admin = new Kafka({ brokers: env.KAFKA_BROKERS.split(','), clientId: 'it-cleanup', logLevel: logLevel.NOTHING }).admin();
  const dropTopics = (async () => {
    await admin.connect();
    try {
      const topics = [env.TOPIC_BATCH_INGESTED, env.TOPIC_INSIGHT_EVENTS, env.TOPIC_BATCH_INGESTED_DLQ, env.TOPIC_INSIGHT_EVENTS_DLQ];
      const existing = new Set(await admin.listTopics());
      await admin.deleteTopics({ topics: topics.filter((t) => existing.has(t)), timeout: 10_000 });
      await admin.deleteGroups([env.SUMMARIZER_GROUP_ID, env.AGGREGATOR_GROUP_ID]).catch(() => undefined);
    } finally {
      await admin.disconnect();
    }
  })();
  const s3 = new S3Client({ endpoint: env.S3_ENDPOINT, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY } });
  const dropBucket = (async () => {
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: env.S3_BUCKET, ContinuationToken: token }));
      const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
      if (keys.length) await s3.send(new DeleteObjectsCommand({ Bucket: env.S3_BUCKET, Delete: { Objects: keys, Quiet: true } }));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    await s3.send(new DeleteBucketCommand({ Bucket: env.S3_BUCKET }));
  })().finally(() => s3.destroy());
  await Promise.allSettled([dropDatabase, dropTopics, dropBucket]);
}
