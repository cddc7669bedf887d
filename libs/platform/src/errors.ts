/** The servers the pipeline depends on. */
export type Dependency = 's3' | 'kafka' | 'clickhouse';

/**
 * A call to a dependency failed. Each adapter throws only this (through its own subclass), and
 * decides once, where it knows the server's error codes, whether waiting can help:
 * - retryable: the server is down, slow or overloaded; the same call may pass later;
 * - not retryable: the server refused this input and will refuse it every time (a value it cannot
 *   store, a message above its size limit, a malformed request).
 * Callers map the two to an answer in one place each: a 503 with Retry-After or a 500 at the
 * ingestion, a backoff or a dead letter in the consumers.
 */
export class DependencyError extends Error {
  constructor(
    readonly dependency: Dependency,
    readonly retryable: boolean,
    /** A short machine-readable reason (the server's error name or code), usable as a metric label. */
    readonly code: string,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'DependencyError';
  }
}

export function isDependencyError(err: unknown): err is DependencyError {
  return err instanceof DependencyError;
}

/** The message of anything thrown, for logs and headers. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
