import { S3ServiceException } from '@aws-sdk/client-s3';
import { classifyS3, errorMessage } from '@pipeline/platform';
import { ObjectStoreError } from './object-store';

/** The HTTP status of a failed S3 call, from the SDK's errors and from ours typed like them. */
export const statusOf = (err: unknown): number | undefined =>
  err instanceof S3ServiceException ? err.$metadata?.httpStatusCode : (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;

/** Types an S3 failure by its HTTP status (classifyS3); a failure with no answer is an outage. */
export function s3Failure(op: string, err: unknown): ObjectStoreError {
  const status = statusOf(err);
  const name = (err as Error)?.name ?? 'Error';
  const detail = status ? `HTTP ${status} ${name}` : errorMessage(err);
  const { kind, name: code } = classifyS3(status, name);
  return new ObjectStoreError(kind, code, `S3 ${op} failed: ${detail}`, err);
}
