import { backoffDelay } from '@pipeline/platform';

/** What an answer of `POST /logs` means for the batch that was sent. */
export type Delivery =
  | { kind: 'accepted' }
  /** This customer already sent this batch id with the same content: nothing to do. */
  | { kind: 'duplicate' }
  /** Worth sending again, after `retryAfterMs` when the ingestion said so. */
  | { kind: 'retry'; reason: string; retryAfterMs?: number }
  /** Refused for good: sending it again cannot help. */
  | { kind: 'refused'; reason: string };

/** `Retry-After` in milliseconds: delta-seconds or an HTTP date (RFC 9110 section 10.2.3). */
export function parseRetryAfter(header: string | null | undefined, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function errorText(status: number, body: string): string {
  try {
    const error = (JSON.parse(body) as { error?: { code?: string; message?: string; details?: unknown } }).error;
    if (error?.code || error?.message) {
      const details = error.details === undefined ? '' : ` ${JSON.stringify(error.details).slice(0, 1000)}`;
      return `${status} ${error.code ?? ''}: ${error.message ?? ''}${details}`;
    }
  } catch {
    /* not the contract's error shape: show the text */
  }
  return `${status} ${body.slice(0, 200)}`.trim();
}

/**
 * The contract's answers: 202 accepted, 409 already there, 503 and 429 to retry after
 * `Retry-After`, other 4xx refused for good (422: the key was used for other content). 5xx other
 * than 503 and 408 come from proxies and crashed requests and are retried too: every retry is
 * safe, since the batch id makes a repeat a duplicate.
 */
export function interpretAnswer(status: number, retryAfter: string | null | undefined, body: string): Delivery {
  if (status === 202) return { kind: 'accepted' };
  if (status === 409) return { kind: 'duplicate' };
  if (status === 503 || status === 429 || status === 408 || status >= 500) {
    return { kind: 'retry', reason: errorText(status, body), retryAfterMs: parseRetryAfter(retryAfter) };
  }
  return { kind: 'refused', reason: errorText(status, body) };
}

export interface RetryPolicy {
  /** Attempts per batch, the first included. */
  maxAttempts: number;
  baseMs: number;
  /** Longest wait between two attempts, also when `Retry-After` asks for more. */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 10, baseMs: 500, maxDelayMs: 30_000 };

/**
 * How long to wait before attempt `attempt + 1`: at least what the ingestion asked for, else a
 * capped exponential backoff with jitter (so many senders do not return in step); never more
 * than `maxDelayMs`, so a run ends in bounded time.
 */
export function retryDelayMs(attempt: number, retryAfterMs: number | undefined, policy: RetryPolicy = DEFAULT_RETRY): number {
  const backoff = backoffDelay(attempt, policy.baseMs, policy.maxDelayMs);
  return Math.min(policy.maxDelayMs, Math.max(retryAfterMs ?? 0, backoff));
}
