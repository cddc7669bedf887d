import { loadConfig, s3Env } from '@pipeline/platform';
import { s3SettingsFromEnv } from './s3-object-store';

describe('s3SettingsFromEnv', () => {
  it('maps every S3_* variable to its client setting', () => {
    const env = loadConfig(s3Env, {
      S3_ENDPOINT: 'http://minio.local:9000',
      S3_REGION: 'eu-west-1',
      S3_ACCESS_KEY_ID: 'key',
      S3_SECRET_ACCESS_KEY: 'secret',
      S3_BUCKET: 'raw-batches',
      S3_FORCE_PATH_STYLE: 'false',
      S3_REQUEST_TIMEOUT_MS: '1234',
    });
    expect(s3SettingsFromEnv(env)).toEqual({
      endpoint: 'http://minio.local:9000',
      region: 'eu-west-1',
      accessKeyId: 'key',
      secretAccessKey: 'secret',
      bucket: 'raw-batches',
      forcePathStyle: false,
      requestTimeoutMs: 1234,
    });
  });
});
