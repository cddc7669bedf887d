import { DeleteBucketLifecycleCommand, PutBucketLifecycleConfigurationCommand } from '@aws-sdk/client-s3';
import { loadConfig, s3Env } from '@pipeline/platform';
import { stackCredentials, stackEndpoints } from '@pipeline/testing';
import { createS3Client, S3ObjectStore, s3SettingsFromEnv } from './s3-object-store';
import { expiryRulesFromEnv, RAW_EXPIRY_RULE_ID, SUMMARY_EXPIRY_RULE_ID } from './lifecycle';

/**
 * Expiry rules on the native stack's MinIO, set with the services' own account (its policy,
 * infra/minio/pipeline-policy.json, allows the bucket's lifecycle configuration and nothing more).
 */
describe('bucket expiry rules on MinIO', () => {
  const creds = stackCredentials();
  const settings = s3SettingsFromEnv(
    loadConfig(s3Env, { S3_ENDPOINT: stackEndpoints().s3Endpoint, S3_BUCKET: 'log-batches', S3_ACCESS_KEY_ID: creds.S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY: creds.S3_SECRET_ACCESS_KEY }),
  );
  const store = S3ObjectStore.fromSettings(settings);
  const client = createS3Client(settings);
  const summary = (rules: Awaited<ReturnType<S3ObjectStore['lifecycleRules']>>) =>
    rules.map((r) => [r.ID, r.Filter?.Prefix ?? r.Prefix, r.Expiration?.Days, r.Status]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  const rules = (raw: number, summaries: number) => expiryRulesFromEnv({ S3_RAW_RETENTION_DAYS: raw, S3_SUMMARY_RETENTION_DAYS: summaries });
  const OPERATOR_RULE = 'operator-scratch';
  let before: Awaited<ReturnType<S3ObjectStore['lifecycleRules']>> = [];

  beforeAll(async () => {
    await store.ensureBucket();
    // Whatever was there, less this test's own rule (a run cut short may have left it).
    before = (await store.lifecycleRules()).filter((r) => r.ID !== OPERATOR_RULE);
  });

  afterAll(async () => {
    // Leave the bucket's configuration as it was found.
    if (before.length > 0) await client.send(new PutBucketLifecycleConfigurationCommand({ Bucket: 'log-batches', LifecycleConfiguration: { Rules: before } }));
    else await client.send(new DeleteBucketLifecycleCommand({ Bucket: 'log-batches' }));
    store.destroy();
    client.destroy();
  });

  it('sets, keeps, changes and removes the pipeline\'s rules, leaving other rules alone', async () => {
    await store.ensureExpiry(rules(0, 0));
    expect(await store.ensureExpiry(rules(30, 45))).toBe('updated');
    expect(summary(await store.lifecycleRules())).toEqual(
      expect.arrayContaining([
        [RAW_EXPIRY_RULE_ID, 'raw/', 30, 'Enabled'],
        [SUMMARY_EXPIRY_RULE_ID, 'summaries/', 45, 'Enabled'],
      ]),
    );
    // A second start changes nothing.
    expect(await store.ensureExpiry(rules(30, 45))).toBe('unchanged');

    // An operator's own rule survives every change of ours.
    const current = (await store.lifecycleRules()).filter((r) => r.ID !== OPERATOR_RULE);
    const operator = { ID: OPERATOR_RULE, Status: 'Enabled' as const, Filter: { Prefix: 'scratch/' }, Expiration: { Days: 2 } };
    await client.send(new PutBucketLifecycleConfigurationCommand({ Bucket: 'log-batches', LifecycleConfiguration: { Rules: [...current, operator] } }));
    expect(await store.ensureExpiry(rules(7, 0))).toBe('updated');
    expect(summary(await store.lifecycleRules())).toEqual(
      expect.arrayContaining([
        [RAW_EXPIRY_RULE_ID, 'raw/', 7, 'Enabled'],
        ['operator-scratch', 'scratch/', 2, 'Enabled'],
      ]),
    );
    expect(summary(await store.lifecycleRules()).map(([id]) => id)).not.toContain(SUMMARY_EXPIRY_RULE_ID);

    expect(await store.ensureExpiry(rules(0, 0))).toBe('updated');
    expect(summary(await store.lifecycleRules()).map(([id]) => id)).toEqual(expect.not.arrayContaining([RAW_EXPIRY_RULE_ID, SUMMARY_EXPIRY_RULE_ID]));
    expect(summary(await store.lifecycleRules()).map(([id]) => id)).toContain('operator-scratch');
  });
});
