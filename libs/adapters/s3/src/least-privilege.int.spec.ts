import {
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetBucketLifecycleConfigurationCommand,
  ListObjectsV2Command,
  PutBucketLifecycleConfigurationCommand,
  PutBucketPolicyCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { loadConfig, s3Env } from '@pipeline/platform';
import { REPO_ROOT, stackEndpoints, stackInstall, uniqueName } from '@pipeline/testing';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createS3Client, S3ObjectStore, s3SettingsFromEnv } from './s3-object-store';

const run = promisify(execFile);
jest.setTimeout(120_000);

/**
 * The provisioning step (infra/minio/provision-account.sh) run against the stack's MinIO for a
 * bucket and two accounts of this test's own, then each account held to its prefixes and actions:
 * the ingestion writes and reads raw/ and lists raw/ and summaries/, the summarizer reads raw/ and
 * writes and reads summaries/; neither touches the other's objects, the bucket's lifecycle or
 * policy, the whole bucket's listing, or any other bucket.
 */
describe('the services\' S3 accounts, made by the provisioning step', () => {
  const bucket = uniqueName('lp').toLowerCase();
  const other = uniqueName('lp-other').toLowerCase();
  const suffix = bucket.slice(3, 15);
  const accounts = {
    ingestion: { id: `ingestion-${suffix}`, secret: randomBytes(16).toString('hex') },
    summarizer: { id: `summarizer-${suffix}`, secret: randomBytes(16).toString('hex') },
  };
  const root = { id: process.env.S3_ACCESS_KEY_ID!, secret: process.env.S3_SECRET_ACCESS_KEY! };
  const endpoint = stackEndpoints().s3Endpoint;
  const mcConfig = mkdtempSync(join(tmpdir(), 'mc-'));
  const stores: S3ObjectStore[] = [];
  const clients: S3Client[] = [];
  const settingsOf = (keys: { id: string; secret: string }, name = bucket) =>
    s3SettingsFromEnv(loadConfig(s3Env, { S3_ENDPOINT: endpoint, S3_BUCKET: name, S3_ACCESS_KEY_ID: keys.id, S3_SECRET_ACCESS_KEY: keys.secret, S3_REQUEST_TIMEOUT_MS: '5000' }));
  const store = (keys: { id: string; secret: string }, o: { bucket?: string; home?: string } = {}) => {
    const s = S3ObjectStore.fromSettings({ ...settingsOf(keys, o.bucket), home: o.home });
    stores.push(s);
    return s;
  };
  const client = (keys: { id: string; secret: string }) => {
    const c = createS3Client(settingsOf(keys));
    clients.push(c);
    return c;
  };
  const refusal = (p: Promise<unknown>) =>
    p.then(() => 'allowed', (err: Error & { $metadata?: { httpStatusCode?: number } }) => `${err.$metadata?.httpStatusCode ?? ''} ${err.name}: ${err.message}`);
  const DENIED = /403|AccessDenied/;
  const provision = (env: Record<string, string>) =>
    run('sh', [join(REPO_ROOT, 'infra/minio/provision-account.sh')], {
      env: {
        PATH: process.env.PATH,
        MC: stackInstall().mcBin,
        MC_CONFIG_DIR: mcConfig,
        MINIO_URL: endpoint,
        MINIO_ROOT_USER: root.id,
        MINIO_ROOT_PASSWORD: root.secret,
        INGESTION_S3_ACCESS_KEY_ID: accounts.ingestion.id,
        INGESTION_S3_SECRET_ACCESS_KEY: accounts.ingestion.secret,
        SUMMARIZER_S3_ACCESS_KEY_ID: accounts.summarizer.id,
        SUMMARIZER_S3_SECRET_ACCESS_KEY: accounts.summarizer.secret,
        S3_BUCKET: bucket,
        ...env,
      },
    });
  const mc = (...args: string[]) =>
    run(stackInstall().mcBin, ['--config-dir', mcConfig, '--quiet', ...args], {
      env: { PATH: process.env.PATH, MC_HOST_lproot: `${endpoint.replace('://', `://${encodeURIComponent(root.id)}:${encodeURIComponent(root.secret)}@`)}` },
    });

  beforeAll(async () => {
    await provision({ S3_RAW_RETENTION_DAYS: '30', S3_SUMMARY_RETENTION_DAYS: '45' });
    await store(root, { bucket: other }).ensureBucket();
  });

  afterAll(async () => {
    for (const s of stores) s.destroy();
    for (const c of clients) c.destroy();
    for (const [name, keys] of Object.entries(accounts)) {
      await mc('admin', 'user', 'rm', 'lproot', keys.id).catch(() => undefined);
      await mc('admin', 'policy', 'rm', 'lproot', `${name}-${bucket}`).catch(() => undefined);
    }
    const admin = createS3Client(settingsOf(root));
    for (const name of [bucket, other]) {
      const listed = await admin.send(new ListObjectsV2Command({ Bucket: name })).catch(() => undefined);
      const keys = (listed?.Contents ?? []).map((o) => ({ Key: o.Key! }));
      if (keys.length) await admin.send(new DeleteObjectsCommand({ Bucket: name, Delete: { Objects: keys } }));
      await admin.send(new DeleteBucketCommand({ Bucket: name })).catch(() => undefined);
    }
    admin.destroy();
    rmSync(mcConfig, { recursive: true, force: true });
  });

  it('creates the bucket with the expiry rules it was given, and again unchanged', async () => {
    await provision({ S3_RAW_RETENTION_DAYS: '30', S3_SUMMARY_RETENTION_DAYS: '45' });
    const rules = await client(root).send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }));
    expect((rules.Rules ?? []).map((r) => [r.ID, r.Filter?.Prefix, r.Expiration?.Days, r.Status]).sort()).toEqual([
      ['log-analytics-raw-batches', 'raw/', 30, 'Enabled'],
      ['log-analytics-summaries', 'summaries/', 45, 'Enabled'],
    ]);
  });

  it('refuses summaries that would expire before their raw batches, naming the variables', async () => {
    const failed = await provision({ S3_RAW_RETENTION_DAYS: '30', S3_SUMMARY_RETENTION_DAYS: '7' }).then(() => 'ran', (err: { stderr: string }) => err.stderr);
    expect(failed).toMatch(/S3_SUMMARY_RETENTION_DAYS \(7\) must be 0 .* more than S3_RAW_RETENTION_DAYS \(30\)/);
  });

  it('lets the ingestion write and read raw/, list raw/ and summaries/, and answer its readiness probe', async () => {
    const ingestion = store(accounts.ingestion, { home: 'raw/' });
    await ingestion.ping();
    expect(await ingestion.putIfAbsent('raw/cus-lp/b1.json', Buffer.from('[]'), { sha256: 'x' })).toEqual({ status: 'created' });
    expect((await ingestion.get('raw/cus-lp/b1.json'))?.body.toString()).toBe('[]');
    expect(await ingestion.head('raw/cus-lp/b1.json')).toEqual({ sha256: 'x' });
    expect((await ingestion.list('raw/')).objects.map((o) => o.key)).toEqual(['raw/cus-lp/b1.json']);
    expect((await ingestion.list('summaries/')).objects).toEqual([]);
  });

  it('lets the summarizer read raw/, write and read summaries/, and answer its readiness probe', async () => {
    await store(root).putIfAbsent('raw/cus-lp/b2.json', Buffer.from('[1]'), {});
    const summarizer = store(accounts.summarizer, { home: 'summaries/' });
    await summarizer.ping();
    expect((await summarizer.get('raw/cus-lp/b2.json'))?.body.toString()).toBe('[1]');
    expect(await summarizer.putIfAbsent('summaries/cus-lp/b2.json', Buffer.from('{}'), {})).toEqual({ status: 'created' });
    expect((await summarizer.get('summaries/cus-lp/b2.json'))?.body.toString()).toBe('{}');
  });

  it('refuses the ingestion the summaries, the bucket\'s listing, lifecycle and policy, and other buckets', async () => {
    await store(root).putIfAbsent('summaries/cus-lp/s1.json', Buffer.from('{}'), {});
    const ingestion = store(accounts.ingestion);
    const s3 = client(accounts.ingestion);
    expect(await refusal(ingestion.putIfAbsent('summaries/cus-lp/forged.json', Buffer.from('{}'), {}))).toMatch(DENIED);
    expect(await refusal(ingestion.get('summaries/cus-lp/s1.json'))).toMatch(DENIED);
    expect(await refusal(ingestion.putIfAbsent('elsewhere/x.json', Buffer.from('{}'), {}))).toMatch(DENIED);
    expect(await refusal(ingestion.list(''))).toMatch(DENIED);
    expect(await refusal(s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: { Rules: [{ ID: 'x', Status: 'Enabled', Filter: { Prefix: '' }, Expiration: { Days: 1 } }] } })))).toMatch(DENIED);
    expect(await refusal(s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket })))).toMatch(DENIED);
    expect(await refusal(s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: '{"Version":"2012-10-17","Statement":[]}' })))).toMatch(DENIED);
    const elsewhere = store(accounts.ingestion, { bucket: other, home: 'raw/' });
    expect(await refusal(elsewhere.putIfAbsent('raw/x.json', Buffer.from('{}'), {}))).toMatch(DENIED);
    expect(await refusal(elsewhere.ping())).toMatch(DENIED);
    expect(await refusal(store(accounts.ingestion, { bucket: uniqueName('lp-new').toLowerCase() }).ensureBucket())).toMatch(DENIED);
  });

  it('refuses the summarizer writes to raw/, listings, the bucket\'s lifecycle and policy, and other buckets', async () => {
    const summarizer = store(accounts.summarizer);
    const s3 = client(accounts.summarizer);
    expect(await refusal(summarizer.putIfAbsent('raw/cus-lp/forged.json', Buffer.from('[]'), {}))).toMatch(DENIED);
    expect(await refusal(summarizer.list('raw/'))).toMatch(DENIED);
    expect(await refusal(summarizer.list('summaries/'))).toMatch(DENIED);
    expect(await refusal(s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: { Rules: [{ ID: 'x', Status: 'Enabled', Filter: { Prefix: '' }, Expiration: { Days: 1 } }] } })))).toMatch(DENIED);
    expect(await refusal(s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: '{"Version":"2012-10-17","Statement":[]}' })))).toMatch(DENIED);
    const elsewhere = store(accounts.summarizer, { bucket: other });
    expect(await refusal(elsewhere.putIfAbsent('summaries/x.json', Buffer.from('{}'), {}))).toMatch(DENIED);
    expect(await refusal(elsewhere.get('raw/x.json'))).toMatch(DENIED);
  });

  it('MinIO refuses its default root keys', async () => {
    const guess = store({ id: 'minioadmin', secret: 'minioadmin' });
    expect(await refusal(guess.ping())).toMatch(/403|InvalidAccessKeyId/);
  });

  it('a service waits, unready, while its bucket is missing', async () => {
    const missing = store(root, { bucket: uniqueName('lp-missing').toLowerCase(), home: 'raw/' });
    expect(await refusal(missing.ping())).toMatch(/NoSuchBucket/);
  });
});
