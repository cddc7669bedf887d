import { S3ServiceException } from '@aws-sdk/client-s3';
import { errorMessage } from '@pipeline/platform';
import { ObjectStoreError } from './object-store';

/** The HTTP status of a failed S3 call, from the SDK's errors and from ours typed like them. */
export const statusOf = (err: unknown): number | undefined =>
  err instanceof S3ServiceException ? err.$metadata?.httpStatusCode : (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;

/** Statuses that refuse the request itself: sending it again can only fail the same way. */
const REFUSED = new Set([400, 411, 413, 414]);

/**
 * The one place where an S3 failure becomes a retry decision. Only a refusal of the request
 * itself (malformed, too large) is permanent. An outage, throttling, a full disk (MinIO's 507
 * `XMinioStorageFull`), a missing bucket or denied credentials fail every request alike until an
 * operator or time mends them, so they are waited out: the ingestion answers 503 and the consumers
 * retry, and nothing is dead-lettered for a cause that is not in the message.
 */
export function s3Failure(op: string, err: unknown): ObjectStoreError {
  const status = statusOf(err);
  const name = (err as Error)?.name ?? 'Error';
  const detail = status ? `HTTP ${status} ${name}` : errorMessage(err);
  return new ObjectStoreError(!(status !== undefined && REFUSED.has(status)), status ? `${status}_${name}` : 'unavailable', `S3 ${op} failed: ${detail}`, err);
}
