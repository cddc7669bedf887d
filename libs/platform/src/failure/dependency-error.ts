/** The servers the pipeline depends on. */
export type Dependency = 's3' | 'kafka' | 'clickhouse';

/**
 * What a failed call says about where the fault lies, decided once per dependency in classify.ts
 * and acted on by the ingestion's answers, the consumers and readiness alike (policy.ts):
 * - `unavailable`: the server is down, slow, restarting or overloaded; the same call passes later;
 * - `refusing`: the server answers but refuses every write, whatever the input (read-only, disk
 *   full, too many parts, a memory limit, a missing table, a revoked right) until an operator or
 *   time mends it;
 * - `input`: the server refuses this input and will every time (a value it cannot parse or hold, a
 *   message above its size limit): only the input can be the cause;
 * - `unknown`: an answer the tables do not know; nobody is blamed without further evidence.
 */
export type FailureKind = 'unavailable' | 'refusing' | 'input' | 'unknown';

/** A call to a dependency failed. Each adapter throws only this (through its own subclass). */
export class DependencyError extends Error {
  constructor(
    readonly dependency: Dependency,
    readonly kind: FailureKind,
    /** A short machine-readable reason (the server's error name or code), usable as a metric label. */
    readonly code: string,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'DependencyError';
  }

  /** Whether the same call can pass later: every failure but a refusal of the input itself. */
  get retryable(): boolean {
    return this.kind !== 'input';
  }
}

export function isDependencyError(err: unknown): err is DependencyError {
  return err instanceof DependencyError;
}

/** The message of anything thrown, for logs and headers. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
