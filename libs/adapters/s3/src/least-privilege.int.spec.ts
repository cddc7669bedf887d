import { loadConfig, s3Env } from '@pipeline/platform';
import { stackCredentials, stackEndpoints, uniqueName } from '@pipeline/testing';
import { S3ObjectStore, s3SettingsFromEnv } from './s3-object-store';

/**
 * The services' MinIO account on the native stack (infra/local creates it with the policy of
 * infra/minio/pipeline-policy.json): everything the pipeline does in its own bucket, nothing in
 * any other, and MinIO's default keys let no one in.
 */
describe('the services\' S3 account', () => {
  const creds = stackCredentials();
  const store = (bucket: string, keys = { id: creds.S3_ACCESS_KEY_ID, secret: creds.S3_SECRET_ACCESS_KEY }) =>
    S3ObjectStore.fromSettings(s3SettingsFromEnv(loadConfig(s3Env, { S3_ENDPOINT: stackEndpoints().s3Endpoint, S3_BUCKET: bucket, S3_ACCESS_KEY_ID: keys.id, S3_SECRET_ACCESS_KEY: keys.secret, S3_REQUEST_TIMEOUT_MS: '5000' })));
  const refusal = (p: Promise<unknown>) => p.then(() => 'allowed', (err: Error) => err.message);

  it('creates, writes, reads, lists and probes its own bucket', async () => {
    const own = store('log-batches');
    try {
      await own.ensureBucket();
      const key = `raw/cus-privilege/${uniqueName('b')}.json`;
      expect(await own.putIfAbsent(key, Buffer.from('[]'), { sha256: 'x' })).toEqual({ status: 'created' });
      expect((await own.get(key))?.body.toString()).toBe('[]');
      expect(await own.head(key)).toEqual({ sha256: 'x' });
      expect((await own.list('raw/cus-privilege/')).objects.map((o) => o.key)).toContain(key);
      await own.ping();
    } finally {
      own.destroy();
    }
  });

  it('is refused everything in another bucket', async () => {
    const other = store(uniqueName('other-bucket').toLowerCase());
    try {
      expect(await refusal(other.ensureBucket())).toMatch(/403|AccessDenied/);
      expect(await refusal(other.putIfAbsent('x.json', Buffer.from('{}'), {}))).toMatch(/403|AccessDenied/);
      expect(await refusal(other.ping())).toMatch(/403|AccessDenied/);
    } finally {
      other.destroy();
    }
  });

  it('MinIO refuses its default root keys', async () => {
    const guess = store('log-batches', { id: 'minioadmin', secret: 'minioadmin' });
    try {
      expect(await refusal(guess.ping())).toMatch(/403|InvalidAccessKeyId/);
    } finally {
      guess.destroy();
    }
  });
});
