/** Customer ids as the gateway forwards them in `x-customer-id`. */
export const CUSTOMER_ID = /^[A-Za-z0-9._-]{1,64}$/;
/** Idempotency keys (the batch id when given), scoped per customer. */
export const IDEMPOTENCY_KEY = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Customer ids and batch ids are validated against these patterns before any key is built, and
 * neither may be `.` or `..`: so no value a client sends can leave its own `raw/{customer}/` prefix.
 */
const safeSegment = (s: string) => s !== '.' && s !== '..';

export function isCustomerId(s: unknown): s is string {
  return typeof s === 'string' && CUSTOMER_ID.test(s) && safeSegment(s);
}

export function isBatchId(s: unknown): s is string {
  return typeof s === 'string' && IDEMPOTENCY_KEY.test(s) && safeSegment(s);
}
