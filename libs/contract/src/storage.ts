/** Object keys in the bucket. Deterministic, so a retry of the same batch hits the same key. */

export function rawBatchKey(customerId: string, batchId: string): string {
  return `${RAW_PREFIX}${customerId}/${batchId}.json`;
}

export function summaryKey(customerId: string, batchId: string): string {
  return `${SUMMARY_PREFIX}${customerId}/${batchId}.json`;
}

export const RAW_PREFIX = 'raw/';
export const SUMMARY_PREFIX = 'summaries/';

/** The summary key that belongs to a raw batch key, or null when `rawKey` is not one. */
export function summaryKeyOfRaw(rawKey: string): string | null {
  if (!rawKey.startsWith(RAW_PREFIX) || !rawKey.endsWith('.json')) return null;
  return SUMMARY_PREFIX + rawKey.slice(RAW_PREFIX.length);
}

/** User metadata of a raw batch object (S3 lower-cases metadata names). */
export const RAW_METADATA = {
  sha256: 'sha256',
  entries: 'entries',
  ingestedAt: 'ingested-at',
} as const;
