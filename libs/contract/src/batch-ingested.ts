import { isBatchId, isCustomerId } from './ids';
import { rawBatchKey } from './storage';

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

/** Kafka key of `batch-ingested`: spreads customers' batches over partitions. */
export function batchIngestedKey(customerId: string, batchId: string): string {
  return `${customerId}|${batchId}`;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Validates a decoded `batch-ingested` message; poison input gets a reason, never a throw. */
export function parseBatchIngestedEvent(input: unknown): Parsed<BatchIngestedEvent> {
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

/**
 * Headers of a `batch-ingested` message. `raw-body`, when present, carries the raw batch's bytes,
 * exactly as stored: a small batch travels with its announcement, so the summarizer need not read
 * it back from S3 (it checks the bytes against the event's sha256 and reads S3 when they differ
 * or are absent). The stored object stays the durable copy.
 */
export const BATCH_INGESTED_HEADERS = { rawBody: 'raw-body' } as const;

/** The message (key, canonical JSON value and, for a small batch, its bytes) that announces `event`. */
export function batchIngestedMessage(event: BatchIngestedEvent, rawBody?: Uint8Array): { key: string; value: string; headers?: Record<string, Buffer> } {
  const canonical: BatchIngestedEvent = {
    v: 1,
    batchId: event.batchId,
    customerId: event.customerId,
    objectKey: event.objectKey,
    entries: event.entries,
    sha256: event.sha256,
    ingestedAt: event.ingestedAt,
  };
  const message = { key: batchIngestedKey(event.customerId, event.batchId), value: JSON.stringify(canonical) };
  if (!rawBody) return message;
  return { ...message, headers: { [BATCH_INGESTED_HEADERS.rawBody]: Buffer.from(rawBody.buffer, rawBody.byteOffset, rawBody.byteLength) } };
}
