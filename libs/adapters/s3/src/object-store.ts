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
  ensureBucket(): Promise<void>;
  /** Writes with `If-None-Match: *`: never overwrites, and says whether the key was taken. */
  putIfAbsent(key: string, body: Buffer, metadata: Record<string, string>, contentType?: string): Promise<PutOutcome>;
  /** The object, or null when the key does not exist. */
  get(key: string): Promise<StoredObject | null>;
  /** User metadata only, or null when the key does not exist. */
  head(key: string): Promise<Record<string, string> | null>;
  /** Resolves when the bucket answers; used by readiness probes. */
  ping(): Promise<void>;
}

/** S3 or the network failed in a way a retry may fix; callers map it to 503 or a backoff. */
export class ObjectStoreUnavailableError extends Error {
  constructor(message: string, override readonly cause?: unknown) {
    super(message);
    this.name = 'ObjectStoreUnavailableError';
  }
}
