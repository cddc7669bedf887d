/** The `batch-ingested` message: a raw batch is durably stored and ready to summarize. */
export interface BatchIngestedEvent {
  v: 1;
  batchId: string;
  customerId: string;
  /** S3 key of the raw batch, `raw/{customerId}/{batchId}.json`. */
  objectKey: string;
  entries: number;
  /** Hex sha256 of the stored body. */
  sha256: string;
  /** ISO-8601 time the batch was first accepted. */
  ingestedAt: string;
}

export const CUSTOMER_ID = /^[A-Za-z0-9._-]{1,64}$/;
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

export function rawBatchKey(customerId: string, batchId: string): string {
  return `raw/${customerId}/${batchId}.json`;
}

export function summaryKey(customerId: string, batchId: string): string {
  return `summaries/${customerId}/${batchId}.json`;
}

/** Kafka key of `batch-ingested`: spreads customers' batches over partitions. */
export function batchEventKey(customerId: string, batchId: string): string {
  return `${customerId}|${batchId}`;
}

export type EventParse = { ok: true; value: BatchIngestedEvent } | { ok: false; reason: string };

/** Validates a decoded `batch-ingested` message; poison input gets a reason, never a throw. */
export function parseBatchIngestedEvent(input: unknown): EventParse {
  const e = input as BatchIngestedEvent;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return { ok: false, reason: 'not an object' };
  if (e.v !== 1) return { ok: false, reason: `unsupported version ${JSON.stringify(e.v)}` };
  if (!isCustomerId(e.customerId)) return { ok: false, reason: 'customerId invalid' };
  if (!isBatchId(e.batchId)) return { ok: false, reason: 'batchId invalid' };
  if (e.objectKey !== rawBatchKey(e.customerId, e.batchId)) return { ok: false, reason: 'objectKey does not match customerId and batchId' };
  if (!Number.isSafeInteger(e.entries) || e.entries < 1) return { ok: false, reason: 'entries must be a positive integer' };
  if (typeof e.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(e.sha256)) return { ok: false, reason: 'sha256 invalid' };
  if (typeof e.ingestedAt !== 'string' || Number.isNaN(Date.parse(e.ingestedAt))) return { ok: false, reason: 'ingestedAt invalid' };
  return { ok: true, value: e };
}
