import { DependencyError, FailureKind } from '@pipeline/platform';

/** The outcome of a create-only write: either we created the object or it already existed. */
export type PutOutcome = { status: 'created' } | { status: 'exists' };

export interface StoredObject {
  body: Buffer;
  /** User metadata, keys lower-cased without the `x-amz-meta-` prefix. */
  metadata: Record<string, string>;
}

/** The small slice of S3 the pipeline needs; tests and apps depend on this, not on the SDK. */
export interface ObjectStore {
  readonly bucket: string;
  /** Creates the bucket when missing: for tools and tests with an account that may; the services never do (a provisioning step does). */
  ensureBucket(): Promise<void>;
  /**
   * Writes with `If-None-Match: *`: never overwrites, and says whether the key was taken.
   * `payloadSha256` (hex) is the body's digest when the caller already has it.
   */
  putIfAbsent(key: string, body: Buffer, metadata: Record<string, string>, contentType?: string, payloadSha256?: string): Promise<PutOutcome>;
  /** The object, or null when the key does not exist. */
  get(key: string): Promise<StoredObject | null>;
  /** User metadata only, or null when the key does not exist. */
  head(key: string): Promise<Record<string, string> | null>;
  /** Keys under `prefix` after `startAfter`, in key order, with their last-modified time; one page. */
  list(prefix: string, options?: { startAfter?: string; maxKeys?: number }): Promise<{ objects: ListedObject[]; truncated: boolean }>;
  /** Resolves when the bucket answers; used by readiness probes. */
  ping(): Promise<void>;
}

export interface ListedObject {
  key: string;
  lastModified: Date;
  size: number;
}

/** An S3 call failed; `kind` says where the fault lies (see FailureKind). */
export class ObjectStoreError extends DependencyError {
  constructor(kind: FailureKind, code: string, message: string, cause?: unknown) {
    super('s3', kind, code, message, cause);
    this.name = 'ObjectStoreError';
  }
}
