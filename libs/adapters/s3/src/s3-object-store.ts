import { CreateBucketCommand, HeadBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Agent } from 'node:http';
import { S3Env } from '@pipeline/platform';
import { errorCodeOf, metadataOf, ObjectHttpClient, ObjectResponse } from './object-http';
import { s3Failure, statusOf } from './failure';
import { ListedObject, ObjectStore, ObjectStoreError, PutOutcome, StoredObject } from './object-store';

export interface S3Settings {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
  forcePathStyle: boolean;
  /** Bound on one HTTP exchange; the SDK retries a few times within its own budget. */
  requestTimeoutMs: number;
  maxAttempts?: number;
  /**
   * A prefix the account may read (`raw/`, `summaries/`): ping() then asks for an object under it
   * instead of probing the bucket, which would take the right to list the whole bucket.
   */
  home?: string;
}

/** The client settings the shared S3_* variables describe. */
export function s3SettingsFromEnv(env: S3Env): S3Settings {
  return {
    endpoint: env.S3_ENDPOINT,
    region: env.S3_REGION,
    accessKeyId: env.S3_ACCESS_KEY_ID,
    secretAccessKey: env.S3_SECRET_ACCESS_KEY,
    bucket: env.S3_BUCKET,
    forcePathStyle: env.S3_FORCE_PATH_STYLE,
    requestTimeoutMs: env.S3_REQUEST_TIMEOUT_MS,
  };
}

export function createS3Client(s: S3Settings): S3Client {
  return new S3Client({
    endpoint: s.endpoint,
    region: s.region,
    forcePathStyle: s.forcePathStyle,
    credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey },
    maxAttempts: s.maxAttempts ?? 2,
    requestHandler: new NodeHttpHandler({
      connectionTimeout: Math.min(s.requestTimeoutMs, 2_000),
      requestTimeout: s.requestTimeoutMs,
      httpAgent: new Agent({ keepAlive: true, maxSockets: 64 }),
    }),
  });
}

/**
 * S3 for the pipeline: object reads and writes on the request path through ObjectHttpClient,
 * bucket-level operations (create, list, probe) through the AWS SDK.
 */
export class S3ObjectStore implements ObjectStore {
  constructor(
    private readonly client: S3Client,
    private readonly objects: ObjectHttpClient,
    readonly bucket: string,
    private readonly home?: string,
  ) {}

  static fromSettings(s: S3Settings): S3ObjectStore {
    return new S3ObjectStore(createS3Client(s), new ObjectHttpClient(s), s.bucket, s.home);
  }

  async ensureBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return;
    } catch (err) {
      // MinIO answers 403, not 404, to an account limited to a bucket that does not exist yet.
      const status = statusOf(err);
      if (status !== 404 && status !== 403) throw s3Failure('HeadBucket', err);
    }
    try {
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      const name = (err as Error).name;
      // Another instance may create it between our HEAD and CREATE.
      if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw s3Failure('CreateBucket', err);
    }
  }

  async putIfAbsent(key: string, body: Buffer, metadata: Record<string, string>, contentType = 'application/json', payloadSha256?: string): Promise<PutOutcome> {
    const headers: Record<string, string> = { 'content-type': contentType, 'if-none-match': '*' };
    for (const [name, value] of Object.entries(metadata)) headers[`x-amz-meta-${name}`] = value;
    // MinIO answers 409 ConditionalRequestConflict while a concurrent conditional write to the
    // same key is in flight; once that write settles the key exists, so we ask again.
    for (let attempt = 0; ; attempt++) {
      const res = await this.call('PutObject', () => this.objects.request('PUT', key, { body, headers, payloadSha256 }));
      if (res.status === 200) return { status: 'created' };
      if (res.status === 412) return { status: 'exists' };
      if (res.status === 409 && attempt < 20) {
        await new Promise((r) => setTimeout(r, 25 * (attempt + 1)));
        continue;
      }
      throw this.refused('PutObject', res);
    }
  }

  async get(key: string): Promise<StoredObject | null> {
    const res = await this.call('GetObject', () => this.objects.request('GET', key));
    if (res.status === 200) return { body: res.body, metadata: metadataOf(res.headers) };
    if (res.status === 404) return null;
    throw this.refused('GetObject', res);
  }

  async head(key: string): Promise<Record<string, string> | null> {
    const res = await this.call('HeadObject', () => this.objects.request('HEAD', key));
    if (res.status === 200) return metadataOf(res.headers);
    if (res.status === 404) return null;
    throw this.refused('HeadObject', res);
  }

  async list(prefix: string, options: { startAfter?: string; maxKeys?: number } = {}): Promise<{ objects: ListedObject[]; truncated: boolean }> {
    try {
      const out = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, StartAfter: options.startAfter, MaxKeys: options.maxKeys ?? 1000 }));
      const objects = (out.Contents ?? []).filter((o) => o.Key).map((o) => ({ key: o.Key!, lastModified: o.LastModified ?? new Date(0), size: o.Size ?? 0 }));
      return { objects, truncated: out.IsTruncated === true };
    } catch (err) {
      throw s3Failure('ListObjectsV2', err);
    }
  }

  /**
   * Whether the bucket answers this account. With a home prefix: a read of a key nobody writes
   * there, whose "no such key" proves the bucket exists and the account may read it; a missing
   * bucket is a refusal (the provisioning step creates it), retried like any other.
   */
  async ping(): Promise<void> {
    if (this.home !== undefined) {
      const res = await this.call('GetObject', () => this.objects.request('GET', `${this.home}.probe`));
      if (res.status === 200 || (res.status === 404 && errorCodeOf(res.body) !== 'NoSuchBucket')) return;
      throw this.refused('GetObject', res);
    }
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      throw s3Failure('HeadBucket', err);
    }
  }

  destroy(): void {
    this.client.destroy();
    this.objects.destroy();
  }

  /** A request that got no answer (refused connection, reset, timeout) is an outage. */
  private async call(op: string, send: () => Promise<ObjectResponse>): Promise<ObjectResponse> {
    try {
      return await send();
    } catch (err) {
      throw s3Failure(op, err);
    }
  }

  /** An answer other than the expected ones, typed like the SDK's errors so that s3Failure judges both alike. */
  private refused(op: string, res: ObjectResponse): ObjectStoreError {
    const name = errorCodeOf(res.body) ?? 'Error';
    return s3Failure(op, Object.assign(new Error(name), { name, $metadata: { httpStatusCode: res.status } }));
  }
}
