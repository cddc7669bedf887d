// Helpers for the integration tests of this service (real MinIO, Kafka and service process).
import { DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { Kafka, logLevel } from 'kafkajs';
import { S3ObjectStore, createS3Client, s3SettingsFromEnv } from '@pipeline/s3';
import { kafkaSasl, stackEndpoints, testS3Env, uniqueName } from '@pipeline/testing';

export interface ItNames {
  bucket: string;
  topic: string;
}

/** A bucket and a topic no other test run uses. */
export function itNames(prefix: string): ItNames {
  const name = uniqueName(`it-${prefix}`).toLowerCase();
  return { bucket: name, topic: `batch-ingested-${name}` };
}

/** Environment of a batch-ingestion process writing to `names`, fast to give up on a dead dependency. */
export function appEnv(names: ItNames, extra: Record<string, string> = {}): Record<string, string> {
  const stack = stackEndpoints();
  return {
    KAFKA_BROKERS: stack.kafkaBrokers,
    S3_ENDPOINT: stack.s3Endpoint,
    S3_BUCKET: names.bucket,
    TOPIC_BATCH_INGESTED: names.topic,
    KAFKA_TOPIC_PARTITIONS: '3',
    KAFKA_REQUEST_TIMEOUT_MS: '3000',
    S3_REQUEST_TIMEOUT_MS: '3000',
    LOG_LEVEL: 'info',
    GATEWAY_TOKEN: IT_GATEWAY_TOKEN,
    GATEWAY_TOKEN_CUSTOMERS: '*',
    // No summarizer reads these topics: every batch would count as its backlog.
    INGESTION_BACKLOG_MAX_BATCHES: '0',
    ...extra,
  };
}

/** The gateway token the tests' requests carry (a service under test is configured with it). */
export const IT_GATEWAY_TOKEN = 'it-gateway-token-0123456789';

export function itKafka(brokers = stackEndpoints().kafkaBrokers): Kafka {
  return new Kafka({ clientId: 'it-batch-ingestion', brokers: brokers.split(','), sasl: kafkaSasl(), logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 2_000 } });
}

const s3Settings = (bucket: string, endpoint?: string) => s3SettingsFromEnv(testS3Env(bucket, { endpoint }));

export function itStore(bucket: string, endpoint?: string): S3ObjectStore {
  return S3ObjectStore.fromSettings(s3Settings(bucket, endpoint));
}

/** Every key in the bucket (test buckets stay small). */
export async function listKeys(bucket: string, endpoint?: string): Promise<string[]> {
  const client = createS3Client(s3Settings(bucket, endpoint));
  try {
    const out = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
    return (out.Contents ?? []).map((o) => o.Key!).sort();
  } finally {
    client.destroy();
  }
}

/** Empties and deletes a test bucket; failures are ignored (the data is throwaway). */
export async function dropBucket(bucket: string, endpoint?: string): Promise<void> {
  const client = createS3Client(s3Settings(bucket, endpoint));
  try {
    const keys = await listKeys(bucket, endpoint).catch(() => []);
    if (keys.length > 0) await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })) } }));
    await client.send(new DeleteBucketCommand({ Bucket: bucket }));
  } catch {
    /* throwaway */
  } finally {
    client.destroy();
  }
}

export interface PostResult {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON answers of several shapes
}

/** POST /logs with JSON defaults; `headers` override or (with undefined) remove them. */
export async function postLogs(url: string, body: string | Buffer, headers: Record<string, string | undefined> = {}): Promise<PostResult> {
  const merged: Record<string, string | undefined> = { 'content-type': 'application/json', 'x-customer-id': 'cus-it', authorization: `Bearer ${IT_GATEWAY_TOKEN}`, ...headers };
  const res = await fetch(`${url}/logs`, {
    method: 'POST',
    headers: Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== undefined)) as Record<string, string>,
    body,
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON: kept as text so the assertion shows it */
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

export const entry = (over: Record<string, unknown> = {}) => ({
  receivedAt: '2025-12-28T18:03:07.123Z',
  method: 'GET',
  path: '/',
  userAgent: 'curl/8.5.0',
  ...over,
});
