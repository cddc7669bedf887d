import { BatchIngestedEvent, batchIngestedMessage, RAW_METADATA } from '@pipeline/contract';
import { PreparedBatch } from './body';

/** The slice of object storage ingestion needs (an ObjectStore satisfies it). */
export interface RawBatchStore {
  /** Create-only write (`If-None-Match: *`): never overwrites, says whether the key was taken. `payloadSha256`: the body's digest, already known. */
  putIfAbsent(key: string, body: Buffer, metadata: Record<string, string>, contentType?: string, payloadSha256?: string): Promise<{ status: 'created' | 'exists' }>;
  /** User metadata of an object, or null when there is none under the key. */
  head(key: string): Promise<Record<string, string> | null>;
}

/** The slice of the event bus ingestion needs (an EventPublisher satisfies it). */
export interface BatchEventPublisher {
  /** Resolves once every message is acknowledged by all in-sync replicas. */
  publish(topic: string, messages: { key: string; value: string; headers?: Record<string, string | Buffer> }[]): Promise<void>;
}

export type IngestOutcome =
  | { kind: 'accepted'; batchId: string; entries: number; event: BatchIngestedEvent }
  | { kind: 'duplicate'; batchId: string; entries: number; event?: BatchIngestedEvent }
  | { kind: 'key_reused'; batchId: string };

export function buildBatchIngestedEvent(batch: Pick<PreparedBatch, 'customerId' | 'batchId' | 'objectKey' | 'entries' | 'sha256'>, ingestedAt: string): BatchIngestedEvent {
  return {
    v: 1,
    batchId: batch.batchId,
    customerId: batch.customerId,
    objectKey: batch.objectKey,
    entries: batch.entries,
    sha256: batch.sha256,
    ingestedAt,
  };
}

/**
 * Object keys this process may have stored but did not announce: the publish failed, or the write
 * itself failed in a way that may still have written it (a connection lost before S3's answer),
 * and the client was told 503. When the client retries, the batch is announced and answered 202,
 * not 409: from the client's point of view this is its first acceptance. Bounded: the oldest keys are forgotten,
 * and a forgotten or never-known key (another instance, a restart) is answered 409 as usual,
 * which is still correct.
 */
export class UnannouncedBatches {
  private readonly keys = new Set<string>();

  constructor(private readonly capacity = 10_000) {}

  add(key: string): void {
    this.keys.delete(key);
    this.keys.add(key);
    if (this.keys.size > this.capacity) this.keys.delete(this.keys.values().next().value as string);
  }

  has(key: string): boolean {
    return this.keys.has(key);
  }

  delete(key: string): void {
    this.keys.delete(key);
  }

  get size(): number {
    return this.keys.size;
  }
}

/**
 * Object keys this process stored *and* announced, with the sha256 of their bytes. A repeat of
 * such a batch needs neither S3 nor Kafka: its bytes are known, and the announcement that the
 * re-publish on a duplicate exists for (a crash between the write and the publish) did happen.
 * So the answer (409, or 422 for other bytes) comes from memory. Bounded by `capacity` keys, and
 * each is forgotten after `maxAgeMs` (well below any retention of raw batches); a forgotten or
 * never-known key goes the durable way, which gives the same answer.
 */
export interface AnnouncedBatches {
  get(objectKey: string): string | undefined;
  set(objectKey: string, sha256: string): void;
}

export interface IngestDeps {
  store: RawBatchStore;
  publisher: BatchEventPublisher;
  topic: string;
  /** The current time, ISO-8601; injected so tests are deterministic. */
  now: () => string;
  unannounced?: UnannouncedBatches;
  announced?: AnnouncedBatches;
  /** Batches up to this many bytes travel with their announcement (0: never). */
  inlineBodyMaxBytes?: number;
  /** Told as each step ends (the write, the announcement), so a caller can time them. */
  onStep?: (step: 'stored' | 'announced') => void;
}

/** The key existed with metadata that was gone by the time it was read; only a deletion racing us does this. */
export class StoredBatchVanishedError extends Error {
  constructor(readonly objectKey: string) {
    super(`${objectKey} existed but could not be read back`);
    this.name = 'StoredBatchVanishedError';
  }
}

/**
 * Durable first, then announced: the raw batch is written create-only, and `batch-ingested` is
 * published only after the write succeeded. If the key already holds the same bytes (same sha256)
 * the event is published again before answering "duplicate": a crash between the write and the
 * publish of an earlier attempt must not lose the batch, and consumers are idempotent. If the key
 * holds different bytes the client reused its idempotency key: nothing is written or published.
 * A batch this process stored but failed to announce is answered `accepted` when its retry
 * announces it (see UnannouncedBatches).
 *
 * Failures of the store or the publisher propagate; every step is safe to repeat.
 */
export async function ingestBatch(batch: PreparedBatch, deps: IngestDeps): Promise<IngestOutcome> {
  const known = deps.announced?.get(batch.objectKey);
  if (known !== undefined) {
    return known === batch.sha256 ? { kind: 'duplicate', batchId: batch.batchId, entries: batch.entries } : { kind: 'key_reused', batchId: batch.batchId };
  }
  const ingestedAt = deps.now();
  const metadata = {
    [RAW_METADATA.sha256]: batch.sha256,
    [RAW_METADATA.entries]: String(batch.entries),
    [RAW_METADATA.ingestedAt]: ingestedAt,
  };
  const body = Buffer.from(batch.body.buffer, batch.body.byteOffset, batch.body.byteLength);
  let put: Awaited<ReturnType<RawBatchStore['putIfAbsent']>>;
  try {
    put = await deps.store.putIfAbsent(batch.objectKey, body, metadata, 'application/json', batch.sha256);
  } catch (err) {
    deps.unannounced?.add(batch.objectKey);
    throw err;
  }
  deps.onStep?.('stored');
  if (put.status === 'created') {
    const event = buildBatchIngestedEvent(batch, ingestedAt);
    try {
      await deps.publisher.publish(deps.topic, [batchIngestedMessage(event, inline(batch, deps))]);
      deps.onStep?.('announced');
    } catch (err) {
      deps.unannounced?.add(batch.objectKey);
      throw err;
    }
    deps.unannounced?.delete(batch.objectKey);
    deps.announced?.set(batch.objectKey, batch.sha256);
    return { kind: 'accepted', batchId: batch.batchId, entries: batch.entries, event };
  }

  const stored = await deps.store.head(batch.objectKey);
  if (stored === null) throw new StoredBatchVanishedError(batch.objectKey);
  if (stored[RAW_METADATA.sha256] !== batch.sha256) return { kind: 'key_reused', batchId: batch.batchId };
  // Re-announce with the first acceptance time, so the repeated event equals the original one.
  const firstIngestedAt = stored[RAW_METADATA.ingestedAt] && !Number.isNaN(Date.parse(stored[RAW_METADATA.ingestedAt])) ? stored[RAW_METADATA.ingestedAt] : ingestedAt;
  const event = buildBatchIngestedEvent(batch, firstIngestedAt);
  await deps.publisher.publish(deps.topic, [batchIngestedMessage(event, inline(batch, deps))]);
  deps.onStep?.('announced');
  deps.announced?.set(batch.objectKey, batch.sha256);
  if (deps.unannounced?.has(batch.objectKey)) {
    deps.unannounced.delete(batch.objectKey);
    return { kind: 'accepted', batchId: batch.batchId, entries: batch.entries, event };
  }
  return { kind: 'duplicate', batchId: batch.batchId, entries: batch.entries, event };
}

const inline = (batch: PreparedBatch, deps: IngestDeps) => (batch.body.byteLength <= (deps.inlineBodyMaxBytes ?? 0) ? batch.body : undefined);
