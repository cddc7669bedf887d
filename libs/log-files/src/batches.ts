import { createHash } from 'node:crypto';
import { MAX_BATCH_BYTES, parseBatchBody } from '@pipeline/batch';
import { EntryError, validateEntry } from '@pipeline/entry';
import { ParsedRecord } from './formats';

/** A record that is not sent, and why: by line, as a person fixes it. */
export interface RejectedRecord {
  line: number;
  ordinal: number;
  reason: string;
}

/** A batch ready for `POST /logs`: its body, its idempotency key and the records it holds. */
export interface PreparedSend {
  /** The batch id: the same records at the same position always get the same key. */
  key: string;
  /** The JSON array, uncompressed, at most MAX_BATCH_BYTES. */
  body: Uint8Array;
  entries: number;
  firstLine: number;
  lastLine: number;
}

const describe = (errors: EntryError[]) => errors.map((e) => (e.field ? `${e.field} ${e.reason}` : e.reason)).join('; ');

/**
 * The record as it would be sent, or why the ingestion would refuse it: the ingestion's own
 * validation (`validateEntry`), so that whatever passes here is accepted there.
 */
export function checkRecord(record: ParsedRecord): { entry: Record<string, unknown> } | { rejected: RejectedRecord } {
  if ('error' in record) return { rejected: { line: record.line, ordinal: record.ordinal, reason: record.error } };
  const errors = validateEntry(record.entry, record.ordinal - 1);
  if (errors.length > 0) return { rejected: { line: record.line, ordinal: record.ordinal, reason: describe(errors) } };
  const e = record.entry as Record<string, unknown>;
  // Only the four fields the pipeline reads travel: extra fields would cost bytes and be ignored.
  return { entry: { receivedAt: e.receivedAt, method: e.method, path: e.path, userAgent: e.userAgent } };
}

/**
 * The idempotency key of a batch: where it is in the input (its first and last record) and a
 * digest of its body. Sending the same input again yields the same keys, so the ingestion answers
 * 409 and nothing is counted twice; two equal batches at different places of one input stay two
 * batches. Version-prefixed so that a future derivation cannot collide with this one.
 */
export function batchKey(firstOrdinal: number, lastOrdinal: number, body: Uint8Array): string {
  const digest = createHash('sha256').update(body).digest('hex').slice(0, 32);
  return `send1-${firstOrdinal}-${lastOrdinal}-${digest}`;
}

const encoder = new TextEncoder();

/**
 * Packs checked entries, in input order, into batch bodies of at most `maxBytes`. Where a batch
 * ends depends only on the entries before it, so the same input always gives the same batches
 * (and keys). Every body is checked with the ingestion's own body parser before it is handed out:
 * a batch the ingestion would refuse is a defect here, not a surprise there.
 */
export class BatchPacker {
  private parts: Uint8Array[] = [];
  private bytes = 2; // "[" and "]"
  private first = 0;
  private last = 0;
  private firstLine = 0;
  private lastLine = 0;

  constructor(private readonly maxBytes = MAX_BATCH_BYTES) {}

  /** Adds one entry; returns the batch it closed, if adding it would have overflowed that batch. */
  add(entry: Record<string, unknown>, at: { ordinal: number; line: number }): PreparedSend | undefined {
    const json = encoder.encode(JSON.stringify(entry));
    if (json.length + 2 > this.maxBytes) throw new Error(`entry ${at.ordinal} alone is larger than a batch`);
    let closed: PreparedSend | undefined;
    if (this.parts.length > 0 && this.bytes + 1 + json.length > this.maxBytes) closed = this.flush();
    if (this.parts.length === 0) {
      this.first = at.ordinal;
      this.firstLine = at.line;
    } else this.bytes += 1; // the comma
    this.parts.push(json);
    this.bytes += json.length;
    this.last = at.ordinal;
    this.lastLine = at.line;
    return closed;
  }

  /** The batch in progress, if any (at the end of the input). */
  flush(): PreparedSend | undefined {
    if (this.parts.length === 0) return undefined;
    const body = new Uint8Array(this.bytes);
    body[0] = 0x5b;
    let at = 1;
    this.parts.forEach((p, i) => {
      if (i > 0) body[at++] = 0x2c;
      body.set(p, at);
      at += p.length;
    });
    body[at] = 0x5d;
    const entries = this.parts.length;
    const checked = parseBatchBody(body);
    if (!checked.ok || checked.value.entries !== entries) throw new Error(`batch of records ${this.first}-${this.last} would be refused: ${checked.ok ? 'entry count' : checked.rejection.message}`);
    const batch: PreparedSend = { key: batchKey(this.first, this.last, body), body, entries, firstLine: this.firstLine, lastLine: this.lastLine };
    this.parts = [];
    this.bytes = 2;
    return batch;
  }
}
