import type { LifecycleRule } from '@aws-sdk/client-s3';
import { ConfigError } from '@pipeline/platform';
import { expiryRulesFromEnv, planLifecycle, RAW_EXPIRY_RULE_ID, SUMMARY_EXPIRY_RULE_ID } from './lifecycle';

const ours = (id: string, prefix: string, days: number): LifecycleRule => ({ ID: id, Status: 'Enabled', Filter: { Prefix: prefix }, Expiration: { Days: days } });
const foreign: LifecycleRule = { ID: 'operator-tmp', Status: 'Enabled', Filter: { Prefix: 'tmp/' }, Expiration: { Days: 1 } };

describe('bucket expiry rules', () => {
  it('keep everything by default: no rule', () => {
    const rules = expiryRulesFromEnv({ S3_RAW_RETENTION_DAYS: 0, S3_SUMMARY_RETENTION_DAYS: 0 });
    expect(rules.map((r) => [r.prefix, r.days])).toEqual([['raw/', 0], ['summaries/', 0]]);
    expect(planLifecycle([], rules)).toBeNull();
  });

  it('refuse summaries that would expire before their raw batches', () => {
    expect(() => expiryRulesFromEnv({ S3_RAW_RETENTION_DAYS: 30, S3_SUMMARY_RETENTION_DAYS: 30 })).toThrow(ConfigError);
    expect(() => expiryRulesFromEnv({ S3_RAW_RETENTION_DAYS: 30, S3_SUMMARY_RETENTION_DAYS: 7 })).toThrow(/S3_SUMMARY_RETENTION_DAYS/);
    expect(() => expiryRulesFromEnv({ S3_RAW_RETENTION_DAYS: 0, S3_SUMMARY_RETENTION_DAYS: 7 })).toThrow(/reconciler/);
    expect(expiryRulesFromEnv({ S3_RAW_RETENTION_DAYS: 30, S3_SUMMARY_RETENTION_DAYS: 0 }).map((r) => r.days)).toEqual([30, 0]);
    expect(expiryRulesFromEnv({ S3_RAW_RETENTION_DAYS: 30, S3_SUMMARY_RETENTION_DAYS: 31 }).map((r) => r.days)).toEqual([30, 31]);
  });

  it('add our rules next to rules of other owners', () => {
    const plan = planLifecycle([foreign], expiryRulesFromEnv({ S3_RAW_RETENTION_DAYS: 30, S3_SUMMARY_RETENTION_DAYS: 45 }));
    expect(plan).toEqual([foreign, ours(RAW_EXPIRY_RULE_ID, 'raw/', 30), ours(SUMMARY_EXPIRY_RULE_ID, 'summaries/', 45)]);
  });

  it('write nothing when the rules in force are the wanted ones, in any order and form', () => {
    const wanted = expiryRulesFromEnv({ S3_RAW_RETENTION_DAYS: 30, S3_SUMMARY_RETENTION_DAYS: 45 });
    const legacyForm: LifecycleRule = { ID: RAW_EXPIRY_RULE_ID, Status: 'Enabled', Prefix: 'raw/', Expiration: { Days: 30 } };
    expect(planLifecycle([ours(SUMMARY_EXPIRY_RULE_ID, 'summaries/', 45), foreign, legacyForm], wanted)).toBeNull();
  });

  it('replace ours when the days changed or a rule was disabled, and remove them at 0', () => {
    const current = [ours(RAW_EXPIRY_RULE_ID, 'raw/', 30), foreign, { ...ours(SUMMARY_EXPIRY_RULE_ID, 'summaries/', 45), Status: 'Disabled' as const }];
    expect(planLifecycle(current, expiryRulesFromEnv({ S3_RAW_RETENTION_DAYS: 30, S3_SUMMARY_RETENTION_DAYS: 45 }))).toEqual([
      foreign,
      ours(RAW_EXPIRY_RULE_ID, 'raw/', 30),
      ours(SUMMARY_EXPIRY_RULE_ID, 'summaries/', 45),
    ]);
    expect(planLifecycle(current, expiryRulesFromEnv({ S3_RAW_RETENTION_DAYS: 0, S3_SUMMARY_RETENTION_DAYS: 0 }))).toEqual([foreign]);
    expect(planLifecycle([ours(RAW_EXPIRY_RULE_ID, 'raw/', 30)], expiryRulesFromEnv({ S3_RAW_RETENTION_DAYS: 0, S3_SUMMARY_RETENTION_DAYS: 0 }))).toEqual([]);
  });
});
