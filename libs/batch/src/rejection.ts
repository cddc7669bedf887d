/**
 * Why a batch was refused, in the terms of the HTTP contract of `POST /logs`: the status, a
 * stable machine-readable code, a sentence for humans, and optional structured details.
 */
export interface Rejection {
  status: 400 | 401 | 403 | 413 | 415 | 422 | 429;
  code: RejectionCode;
  message: string;
  details?: unknown;
}

export type RejectionCode =
  | 'unauthorized'
  | 'forbidden_customer'
  | 'rate_limited'
  | 'missing_customer_id'
  | 'invalid_customer_id'
  | 'invalid_idempotency_key'
  | 'unsupported_media_type'
  | 'unsupported_content_encoding'
  | 'payload_too_large'
  | 'invalid_body'
  | 'invalid_json'
  | 'not_an_array'
  | 'empty_batch'
  | 'invalid_entries'
  | 'idempotency_key_reused';

/** The outcome label of a rejection, as counted in the batches-by-outcome metric. */
export function outcomeOfRejection(r: Rejection): 'invalid' | 'too_large' | 'unsupported_media' | 'unauthorized' | 'forbidden' | 'rate_limited' | 'key_reused' {
  switch (r.status) {
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 429:
      return 'rate_limited';
    case 413:
      return 'too_large';
    case 415:
      return 'unsupported_media';
    case 422:
      return 'key_reused';
    default:
      return 'invalid';
  }
}

export type Checked<T> = { ok: true; value: T } | { ok: false; rejection: Rejection };

export const accept = <T>(value: T): Checked<T> => ({ ok: true, value });
export const reject = (status: Rejection['status'], code: RejectionCode, message: string, details?: unknown): Checked<never> => ({
  ok: false,
  rejection: details === undefined ? { status, code, message } : { status, code, message, details },
});
