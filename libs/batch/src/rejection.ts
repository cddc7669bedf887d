/**
 * Why a batch was refused, in the terms of the HTTP contract of `POST /logs`: the status, a
 * stable machine-readable code, a sentence for humans, and optional structured details.
 */
export interface Rejection {
  status: RejectionStatus;
  code: RejectionCode;
  message: string;
  details?: unknown;
}

/**
 * Every refusal of a batch and the status it is answered with: the one list the checks, the
 * handler and the OpenAPI document (openapi.ts) are built from.
 */
export const REJECTION_STATUS = {
  unauthorized: 401,
  missing_customer_id: 401,
  forbidden_customer: 403,
  rate_limited: 429,
  invalid_customer_id: 400,
  invalid_idempotency_key: 400,
  unsupported_media_type: 415,
  unsupported_content_encoding: 415,
  payload_too_large: 413,
  invalid_body: 400,
  invalid_json: 400,
  not_an_array: 400,
  empty_batch: 400,
  invalid_entries: 400,
  idempotency_key_reused: 422,
} as const;

export type RejectionCode = keyof typeof REJECTION_STATUS;
export type RejectionStatus = (typeof REJECTION_STATUS)[RejectionCode];

/** Answers of the service itself rather than refusals of the batch, with their status. */
export const SERVICE_ERROR_STATUS = {
  request_timeout: 408,
  busy: 503,
  unavailable: 503,
  internal_error: 500,
} as const;

export type ServiceErrorCode = keyof typeof SERVICE_ERROR_STATUS;

/**
 * The code of an error answer by its status, for answers the handler does not make (routing, the
 * HTTP framework's own checks): the generic code where the contract's tables above have none.
 * The error filter and the handler thus speak from one list of codes.
 */
const GENERIC_ERROR_CODES: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  408: 'request_timeout',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'too_many_requests',
  500: 'internal_error',
  503: 'unavailable',
};

export function errorCodeOfStatus(status: number): string {
  return GENERIC_ERROR_CODES[status] ?? `http_${status}`;
}
/** Every `error.code` POST /logs may answer with. */
export type ErrorCode = RejectionCode | ServiceErrorCode;

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
/** The status must be the one REJECTION_STATUS gives the code (checked by the compiler). */
export const reject = <C extends RejectionCode>(status: (typeof REJECTION_STATUS)[C], code: C, message: string, details?: unknown): Checked<never> => ({
  ok: false,
  rejection: details === undefined ? { status, code, message } : { status, code, message, details },
});
