import type { LifecycleRule } from '@aws-sdk/client-s3';
import { RAW_PREFIX, SUMMARY_PREFIX } from '@pipeline/contract';
import { ConfigError, S3Env } from '@pipeline/platform';

/** Objects under `prefix` expire `days` after they were written; 0 keeps them forever (no rule). */
export interface ExpiryRule {
  id: string;
  prefix: string;
  days: number;
}

/** Rule ids of the pipeline's own expiry rules; rules with other ids belong to someone else and are kept. */
export const RAW_EXPIRY_RULE_ID = 'log-analytics-raw-batches';
export const SUMMARY_EXPIRY_RULE_ID = 'log-analytics-summaries';

/**
 * The expiry of raw batches and summaries the S3_*_RETENTION_DAYS variables describe. Summaries
 * must outlive the raw batches: the ingestion's reconciler announces again every raw batch that
 * has no summary, so a summary expiring first would bring its batch back into the pipeline.
 */
export function expiryRulesFromEnv(env: Pick<S3Env, 'S3_RAW_RETENTION_DAYS' | 'S3_SUMMARY_RETENTION_DAYS'>): ExpiryRule[] {
  const raw = env.S3_RAW_RETENTION_DAYS;
  const summaries = env.S3_SUMMARY_RETENTION_DAYS;
  if (summaries > 0 && (raw === 0 || summaries <= raw)) {
    throw new ConfigError([
      `S3_SUMMARY_RETENTION_DAYS: ${summaries} must be 0 (keep forever) or more than S3_RAW_RETENTION_DAYS (${raw === 0 ? '0, forever' : raw}): a raw batch whose summary expired first would be announced again by the reconciler`,
    ]);
  }
  return [
    { id: RAW_EXPIRY_RULE_ID, prefix: RAW_PREFIX, days: raw },
    { id: SUMMARY_EXPIRY_RULE_ID, prefix: SUMMARY_PREFIX, days: summaries },
  ];
}

interface Normalized {
  id: string;
  prefix: string;
  days: number | undefined;
  enabled: boolean;
}

const prefixOf = (r: LifecycleRule) => r.Filter?.Prefix ?? r.Filter?.And?.Prefix ?? r.Prefix ?? '';
const normalize = (r: LifecycleRule): Normalized => ({ id: r.ID ?? '', prefix: prefixOf(r), days: r.Expiration?.Days, enabled: r.Status === 'Enabled' });
const sameRule = (a: Normalized, b: Normalized) => a.id === b.id && a.prefix === b.prefix && a.days === b.days && a.enabled === b.enabled;

/**
 * The bucket's lifecycle rules once `wanted` is in force, or null when they already are. The
 * configuration is one document for the whole bucket, written by every service that provisions
 * the bucket: rules of other owners are carried over untouched, ours are replaced (or removed at
 * 0 days), and nothing is written when nothing changes, so a start is idempotent.
 */
export function planLifecycle(current: readonly LifecycleRule[], wanted: readonly ExpiryRule[]): LifecycleRule[] | null {
  const ours = new Set(wanted.map((w) => w.id));
  const foreign = current.filter((r) => !ours.has(r.ID ?? ''));
  const desired: LifecycleRule[] = wanted
    .filter((w) => w.days > 0)
    .map((w) => ({ ID: w.id, Status: 'Enabled', Filter: { Prefix: w.prefix }, Expiration: { Days: w.days } }));
  const present = current.filter((r) => ours.has(r.ID ?? '')).map(normalize);
  const unchanged = present.length === desired.length && desired.every((d) => present.some((p) => sameRule(p, normalize(d))));
  return unchanged ? null : [...foreign, ...desired];
}
