import { DependencyError, errorMessage, FailureKind, isDependencyError } from './dependency-error';

/**
 * What the pipeline does about a failure, in one place: the ingestion's HTTP answer, a consumer's
 * decision about the unit of work in hand, and the reason readiness gives.
 */

/** The kind of any failure: dependency errors carry theirs; anything else is a defect nobody can blame yet. */
export function kindOf(err: unknown): FailureKind {
  return isDependencyError(err) ? err.kind : 'unknown';
}

/** A stable reason code of any failure (`clickhouse_readonly`, `s3_403_accessdenied`, `internal_error`). */
export function reasonCodeOf(err: unknown): string {
  if (isDependencyError(err)) return `${err.dependency}_${err.code}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  return 'internal_error';
}

/** One line for logs and readiness: which dependency, what kind of failure, what it said. */
export function describeFailure(err: unknown): string {
  if (!isDependencyError(err)) return `unexpected error: ${errorMessage(err)}`;
  const what: Record<FailureKind, string> = {
    unavailable: 'is unavailable',
    refusing: 'refuses writes',
    input: 'refuses this input',
    unknown: 'fails in a way not classified',
  };
  return `${err.dependency} ${what[err.kind]} (${err.code}): ${err.message}`;
}

// --- consumers --------------------------------------------------------------------------------

/**
 * What a consumer does with a unit that failed:
 * - `hold`: wait (capped backoff) and try the same unit again; the partition waits behind it;
 * - `split`: the unit holds several messages and the failure points at one of them: halve it, so
 *   every other message gets through;
 * - `dead_letter`: the unit is one message and the failure is its own: set it aside with its reason
 *   and move on.
 */
export type ConsumerAction = 'hold' | 'split' | 'dead_letter';

export interface FailureEvidence {
  /** Attempts of this unit in a row that failed with the same reason. */
  sameFailures: number;
  /** Attempts after which an unclassified failure may be blamed on the input (with proof below). */
  blameAfterAttempts: number;
  /**
   * Whether the dependency was seen to work for other input since this unit began to fail: other
   * units succeeded, or a known-good write passed just now.
   */
  othersPass: boolean;
}

/**
 * Poison is decided by evidence about the message, never by the failure repeating alone: a refusal
 * only the input can cause, or a failure nobody classified that keeps coming back for this unit
 * while the dependency works for other input. Whatever the store gives for any input (down, slow,
 * read-only, full, too many parts, memory, a missing table or right) holds the partition until it
 * recovers; then the backlog is counted with no operator action.
 */
export function consumerAction(kind: FailureKind, unitSize: number, evidence: FailureEvidence): ConsumerAction {
  const blamed = kind === 'input' || (kind === 'unknown' && evidence.sameFailures >= evidence.blameAfterAttempts && evidence.othersPass);
  if (!blamed) return 'hold';
  return unitSize > 1 ? 'split' : 'dead_letter';
}

// --- HTTP -------------------------------------------------------------------------------------

export interface FailureAnswer {
  status: 503 | 500;
  /** Seconds the client is asked to wait (503 only). */
  retryAfterSeconds?: number;
}

/** Seconds a client waits after an outage (short: most are restarts) and after a refusing store (an operator must act). */
export const RETRY_AFTER_SECONDS: Record<Exclude<FailureKind, 'input'>, number> = { unavailable: 2, unknown: 2, refusing: 10 };

/**
 * The HTTP answer to a failure of a dependency while serving a request: anything that may pass
 * later is a 503 with Retry-After (retrying is always safe: every step is idempotent); a dependency
 * refusing input the service accepted as valid is a defect of the service, a 500.
 */
export function failureAnswer(err: unknown): FailureAnswer {
  const kind = isDependencyError(err) ? err.kind : 'input';
  if (kind === 'input') return { status: 500 };
  return { status: 503, retryAfterSeconds: RETRY_AFTER_SECONDS[kind] };
}

export type { DependencyError };
