import { createHash } from 'node:crypto';
import { KeptTimes, MAX_REPORTED_ERRORS, validateEntries } from '@pipeline/entry';
import { isBatchId, rawBatchKey } from '@pipeline/contract';
import { BatchHeaders } from './headers';
import { Checked, accept, reject } from './rejection';

/** The largest batch body, in bytes, before and after decompression (2 MiB). */
export const MAX_BATCH_BYTES = 2 * 1024 * 1024;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses a batch body (already decompressed) and validates every entry, with the event times the
 * pipeline keeps when given. Returns the number of entries; the body itself is what gets stored,
 * byte for byte.
 */
export function parseBatchBody(body: Uint8Array, kept?: KeptTimes): Checked<{ entries: number }> {
  if (body.byteLength > MAX_BATCH_BYTES) {
    return reject(413, 'payload_too_large', `The body must be at most ${MAX_BATCH_BYTES} bytes.`);
  }
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    return reject(400, 'invalid_body', 'The body is not valid UTF-8.');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return reject(400, 'invalid_json', `The body is not valid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(parsed)) return reject(400, 'not_an_array', 'The body must be a JSON array of log entries.');
  if (parsed.length === 0) return reject(400, 'empty_batch', 'The batch must hold at least one entry.');
  const { errors, errorCount } = validateEntries(parsed, MAX_REPORTED_ERRORS, kept);
  if (errorCount > 0) {
    return reject(400, 'invalid_entries', `${errorCount} problem(s) in the entries; the batch was not accepted.`, { errors, errorCount });
  }
  return accept({ entries: parsed.length });
}

export function sha256Hex(body: Uint8Array): string {
  return createHash('sha256').update(body).digest('hex');
}

/**
 * The batch id of a batch sent without an idempotency key: a digest of its bytes, so that an
 * identical retry lands on the same key and is recognised as a duplicate.
 */
export function derivedBatchId(sha256: string): string {
  const id = `sha256-${sha256.slice(0, 32)}`;
  if (!isBatchId(id)) throw new Error(`derived batch id ${id} is not a valid batch id`);
  return id;
}

/** Everything needed to store and announce one valid batch. */
export interface PreparedBatch {
  customerId: string;
  batchId: string;
  objectKey: string;
  sha256: string;
  entries: number;
  bytes: number;
  body: Uint8Array;
}

/** Headers checked, body parsed: the batch's identity, storage key and digest, or why not. */
export function prepareBatch(headers: BatchHeaders, body: Uint8Array, kept?: KeptTimes): Checked<PreparedBatch> {
  const parsed = parseBatchBody(body, kept);
  if (!parsed.ok) return parsed;
  const sha256 = sha256Hex(body);
  const batchId = headers.idempotencyKey ?? derivedBatchId(sha256);
  return accept({
    customerId: headers.customerId,
    batchId,
    objectKey: rawBatchKey(headers.customerId, batchId),
    sha256,
    entries: parsed.value.entries,
    bytes: body.byteLength,
    body,
  });
}
