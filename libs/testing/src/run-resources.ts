import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { createClient } from '@clickhouse/client';
import { Kafka, logLevel, SASLOptions } from 'kafkajs';
import { stackEndpoints } from './paths';

/**
 * The logins tests use on the shared stack: its administrators', which the test environment
 * exports under the services' names (S3_ACCESS_KEY_ID, CLICKHOUSE_USER, KAFKA_SASL_USERNAME, ...).
 * Nothing falls back to a well-known default: a stack has none.
 */
export function stackLogins(env: NodeJS.ProcessEnv = process.env) {
  const required = (name: string) => {
    const value = env[name];
    if (!value) throw new Error(`${name} is not set: tests log in to the stack with its credentials (infra/local/pipeline test exports them; see docs/security.md)`);
    return value;
  };
  return {
    s3: { accessKeyId: required('S3_ACCESS_KEY_ID'), secretAccessKey: required('S3_SECRET_ACCESS_KEY') },
    clickhouse: { username: required('CLICKHOUSE_USER'), password: required('CLICKHOUSE_PASSWORD') },
    kafka: { mechanism: required('KAFKA_SASL_MECHANISM'), username: required('KAFKA_SASL_USERNAME'), password: required('KAFKA_SASL_PASSWORD') },
  };
}

/** kafkajs' login from KAFKA_SASL_* (the test environment's: the stack's administrator), as the services read it; none when unset. */
export function kafkaSasl(env: Readonly<Record<string, string | undefined>> = process.env): SASLOptions | undefined {
  const { KAFKA_SASL_MECHANISM: mechanism, KAFKA_SASL_USERNAME: username, KAFKA_SASL_PASSWORD: password } = env;
  if (!mechanism) return undefined;
  if (!username || !password) throw new Error('KAFKA_SASL_MECHANISM is set without KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD');
  // The same three mechanisms the services' configuration accepts.
  if (mechanism !== 'scram-sha-512' && mechanism !== 'scram-sha-256' && mechanism !== 'plain') throw new Error(`KAFKA_SASL_MECHANISM ${mechanism}: not one of scram-sha-512, scram-sha-256, plain`);
  return { mechanism, username, password } as SASLOptions;
}

/** The part of a test run's service environment every run shares: the shared servers and the logins on them. */
export function sharedStackEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const endpoints = stackEndpoints();
  const logins = stackLogins(env);
  return {
    KAFKA_BROKERS: endpoints.kafkaBrokers,
    S3_ENDPOINT: endpoints.s3Endpoint,
    CLICKHOUSE_URL: endpoints.clickhouseUrl,
    S3_ACCESS_KEY_ID: logins.s3.accessKeyId,
    S3_SECRET_ACCESS_KEY: logins.s3.secretAccessKey,
    CLICKHOUSE_USER: logins.clickhouse.username,
    CLICKHOUSE_PASSWORD: logins.clickhouse.password,
    KAFKA_SASL_MECHANISM: logins.kafka.mechanism,
    KAFKA_SASL_USERNAME: logins.kafka.username,
    KAFKA_SASL_PASSWORD: logins.kafka.password,
  };
}

/** The environment variables that name what one run of services created on the shared servers. */
const RUN_RESOURCE_KEYS = [
  'KAFKA_BROKERS', 'TOPIC_BATCH_INGESTED', 'TOPIC_INSIGHT_EVENTS', 'TOPIC_BATCH_INGESTED_DLQ', 'TOPIC_INSIGHT_EVENTS_DLQ',
  'SUMMARIZER_GROUP_ID', 'AGGREGATOR_GROUP_ID', 'S3_ENDPOINT', 'S3_BUCKET', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY',
  'CLICKHOUSE_URL', 'CLICKHOUSE_USER', 'CLICKHOUSE_PASSWORD', 'CLICKHOUSE_DATABASE',
] as const;

/** Named when the run has them: the region, and the Kafka login (the administrator's, on the native stack). */
const OPTIONAL_KEYS = ['S3_REGION', 'KAFKA_SASL_MECHANISM', 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD'] as const;

/** What one run of services created on the shared servers, named by the environment it gave them. */
export type RunResources = Record<(typeof RUN_RESOURCE_KEYS)[number], string> & Partial<Record<(typeof OPTIONAL_KEYS)[number], string>>;

/** The resources a run's service environment names; a missing name is a mistake of the test kit, said as such. */
export function runResourcesOf(env: Readonly<Record<string, string | undefined>>): RunResources {
  const missing = RUN_RESOURCE_KEYS.filter((k) => !env[k]);
  if (missing.length) throw new Error(`the run's environment does not name ${missing.join(', ')}: nothing to clean up by that name`);
  const out: RunResources = Object.fromEntries(RUN_RESOURCE_KEYS.map((k) => [k, env[k]!])) as Record<(typeof RUN_RESOURCE_KEYS)[number], string>;
  for (const k of OPTIONAL_KEYS) if (env[k]) out[k] = env[k];
  return out;
}

/** A database or table name a test made itself, checked before it reaches SQL. */
export const plainIdentifier = (name: string) => {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`not a plain identifier: ${name}`);
  return name;
};

/**
 * Drops the run's database, topics, consumer groups and bucket. Best effort: the data is
 * throwaway, and a failed clean-up must not hide a test's result; it answers what failed.
 */
export async function removeRunResources(env: RunResources): Promise<string[]> {
  // Dropping a database that took gigabytes can outlast an ordinary query; progress headers keep
  // the connection busy meanwhile.
  const clickhouse = createClient({
    url: env.CLICKHOUSE_URL,
    username: env.CLICKHOUSE_USER,
    password: env.CLICKHOUSE_PASSWORD,
    request_timeout: 180_000,
    clickhouse_settings: { send_progress_in_http_headers: 1, http_headers_progress_interval_ms: '10000' },
  });
  const dropDatabase = (async () => clickhouse.command({ query: `DROP DATABASE IF EXISTS ${plainIdentifier(env.CLICKHOUSE_DATABASE)}` }))().finally(() => clickhouse.close());

  const admin = new Kafka({ brokers: env.KAFKA_BROKERS.split(','), sasl: kafkaSasl(env), clientId: 'test-cleanup', requestTimeout: 10_000, logLevel: logLevel.NOTHING }).admin();
  const dropTopics = (async () => {
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const topics = [env.TOPIC_BATCH_INGESTED, env.TOPIC_INSIGHT_EVENTS, env.TOPIC_BATCH_INGESTED_DLQ, env.TOPIC_INSIGHT_EVENTS_DLQ].filter((t) => existing.has(t));
      if (topics.length) await admin.deleteTopics({ topics, timeout: 10_000 });
      await admin.deleteGroups([env.SUMMARIZER_GROUP_ID, env.AGGREGATOR_GROUP_ID]).catch(() => undefined);
    } finally {
      await admin.disconnect();
    }
  })();

  const s3 = new S3Client({
    endpoint: env.S3_ENDPOINT,
    region: env.S3_REGION ?? 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY },
  });
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

  const results = await Promise.allSettled([dropDatabase, dropTopics, dropBucket]);
  return results.flatMap((r) => (r.status === 'rejected' ? [String((r.reason as Error)?.message ?? r.reason)] : []));
}

/**
 * The provisioning step of a test run's own bucket, as infra/minio/provision-account.sh is the
 * stack's: the services never create their bucket. Done with the run's S3 login (the stack's
 * administrator in tests); best effort, since a test may start a service while S3 is down and
 * provision later.
 */
export async function provisionBucket(env: Readonly<Record<string, string | undefined>>): Promise<boolean> {
  const { S3_ENDPOINT: endpoint, S3_BUCKET: bucket, S3_ACCESS_KEY_ID: accessKeyId, S3_SECRET_ACCESS_KEY: secretAccessKey } = env;
  if (!endpoint || !bucket || !accessKeyId || !secretAccessKey) return false;
  const s3 = new S3Client({ endpoint, region: env.S3_REGION ?? 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }), { abortSignal: AbortSignal.timeout(5_000) });
    return true;
  } catch (err) {
    const name = (err as Error)?.name;
    return name === 'BucketAlreadyOwnedByYou' || name === 'BucketAlreadyExists';
  } finally {
    s3.destroy();
  }
}
