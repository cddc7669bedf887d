import { createHash } from 'node:crypto';
import { BATCH_INGESTED_HEADERS, BatchIngestedEvent, insightEventMessage, parseBatchIngestedEvent, serializePartial, summaryKey } from '@pipeline/contract';
import { UserAgentClassifier } from '@pipeline/entry';
import type { ConsumedMessage, EventPublisher, MessageHandler, Rejection } from '@pipeline/kafka';
import { parseSummary, serializeSummary, Summary, summarizeRawBatch, UnsplittablePartialError } from '@pipeline/partial';
import type { Logger } from '@pipeline/platform';
import { ObjectStore } from '@pipeline/s3';
import { SummarizerMetrics } from './metrics';

/** Why an event is refused for good (a closed set: it is a metric label and a dead-letter header). */
export type PoisonCode = 'event_invalid' | 'object_missing' | 'object_invalid' | 'object_mismatch' | 'partial_unsplittable';

class Poison {
  constructor(
    readonly code: PoisonCode,
    readonly reason: string,
  ) {}
}

export interface SummarizeHandlerDeps {
  store: ObjectStore;
  publisher: EventPublisher;
  classifier: UserAgentClassifier;
  metrics: SummarizerMetrics;
  logger: Logger;
  insightTopic: string;
  maxPartialBytes: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const sha256Hex = (body: Uint8Array) => createHash('sha256').update(body).digest('hex');

function inlineBody(msg: ConsumedMessage): Buffer | undefined {
  const header = msg.headers[BATCH_INGESTED_HEADERS.rawBody];
  const value = Array.isArray(header) ? header[0] : header;
  return value === undefined ? undefined : Buffer.isBuffer(value) ? value : Buffer.from(value);
}

interface SummaryToSend {
  outcome: 'summarized' | 'replayed';
  summary: Summary;
  partialsJson: string[];
}

/** Average bytes of an entry in a raw batch, to weigh an event by the memory its batch will take. */
const BYTES_PER_ENTRY = 160;

/**
 * The share of the in-flight budget an event takes: the raw batch it will load (a poison event
 * costs next to nothing). Validating the event is the handler's job, not this.
 */
export function announcedBytes(value: Buffer | null): number {
  if (!value || value.length === 0 || value.length > 64 * 1024) return value?.length ?? 1;
  try {
    const entries = (JSON.parse(value.toString('utf8')) as { entries?: unknown })?.entries;
    return typeof entries === 'number' && Number.isSafeInteger(entries) && entries > 0 ? entries * BYTES_PER_ENTRY : value.length;
  } catch {
    return value.length;
  }
}

/** The customer of a `batch-ingested` message, from its key (`customerId|batchId`); a foreign key counts as its own. */
export function customerOfEventKey(key: Buffer | null): string {
  const text = key?.toString('utf8') ?? '';
  const bar = text.indexOf('|');
  return bar < 0 ? text : text.slice(0, bar);
}

/**
 * Turns one `batch-ingested` event into durable effects: the summary stored create-only, then
 * one `insight-events` message per minute (or per part of a minute too large for one message).
 * Poison events are refused with a reason (the runtime dead-letters them); S3 and Kafka failures
 * are thrown as they come, typed by their adapters, for the runtime to retry or isolate.
 */
export class SummarizeHandler implements MessageHandler {
  constructor(private readonly deps: SummarizeHandlerDeps) {}

  async handle(messages: ConsumedMessage[]): Promise<Rejection[]> {
    const rejected: Rejection[] = [];
    for (const message of messages) {
      const poison = await this.summarize(message);
      if (poison) rejected.push(poison);
    }
    return rejected;
  }

  private async summarize(msg: ConsumedMessage): Promise<Rejection | undefined> {
    const started = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
    const decoded = this.decodeEvent(msg);
    if (decoded instanceof Poison) return this.refuse(msg, decoded, undefined, seconds());
    const event = decoded;
    const log = this.deps.logger.child({ batchId: event.batchId, customerId: event.customerId, partition: msg.partition, offset: msg.offset });

    const result = await this.summaryOf(event, inlineBody(msg), log);
    if (result instanceof Poison) return this.refuse(msg, result, event, seconds());

    const { outcome, summary, partialsJson } = result;
    await this.deps.publisher.publish(
      this.deps.insightTopic,
      summary.partials.map((p, i) => insightEventMessage(p, partialsJson[i])),
    );
    const s = seconds();
    this.deps.metrics.batches.inc({ outcome });
    this.deps.metrics.entries.inc(summary.entries);
    this.deps.metrics.partials.inc(summary.partials.length);
    this.deps.metrics.duration.observe({ outcome }, s);
    log.info({ outcome, entries: summary.entries, partials: summary.partials.length, durationMs: Math.round(s * 1000) }, 'batch summarized');
    return undefined;
  }

  private refuse(msg: ConsumedMessage, poison: Poison, event: BatchIngestedEvent | undefined, seconds: number): Rejection {
    this.deps.metrics.batches.inc({ outcome: 'dlq' });
    this.deps.metrics.duration.observe({ outcome: 'dlq' }, seconds);
    return { message: msg, code: poison.code, reason: poison.reason, batchId: event?.batchId, customerId: event?.customerId };
  }

  private decodeEvent(msg: ConsumedMessage): BatchIngestedEvent | Poison {
    if (!msg.value || msg.value.length === 0) return new Poison('event_invalid', 'event has no value');
    let input: unknown;
    try {
      input = JSON.parse(utf8.decode(msg.value));
    } catch (err) {
      return new Poison('event_invalid', `event is not JSON: ${(err as Error).message}`);
    }
    const parsed = parseBatchIngestedEvent(input);
    return parsed.ok ? parsed.value : new Poison('event_invalid', `event invalid: ${parsed.reason}`);
  }

  /** The batch's summary (the stored one on a redelivery), with its partials' canonical JSON: serialized once, stored and sent. */
  private async summaryOf(event: BatchIngestedEvent, inline: Buffer | undefined, log: Logger): Promise<SummaryToSend | Poison> {
    const { store } = this.deps;
    const ref = { customerId: event.customerId, batchId: event.batchId };

    // A small batch travels with its event; bytes that do not match the digest are not trusted.
    let body = inline && sha256Hex(inline) === event.sha256 ? inline : undefined;
    if (!body) {
      const raw = await store.get(event.objectKey);
      if (raw === null) return new Poison('object_missing', `raw batch ${event.objectKey} not found in bucket ${store.bucket}`);
      // The raw key is written create-only, so its bytes are the ones the event announced; anything
      // else is a foreign or damaged event, and the real one carries the right digest.
      if (sha256Hex(raw.body) !== event.sha256) return new Poison('object_mismatch', `sha256 of ${event.objectKey} differs from the event's`);
      body = raw.body;
    }
    let text: string;
    try {
      text = utf8.decode(body);
    } catch {
      return new Poison('object_invalid', `raw batch ${event.objectKey} is not valid UTF-8`);
    }
    let fresh: ReturnType<typeof summarizeRawBatch>;
    try {
      fresh = summarizeRawBatch(ref, text, { familyOf: this.deps.classifier.familyOf, maxPartialBytes: this.deps.maxPartialBytes });
    } catch (err) {
      if (err instanceof UnsplittablePartialError) return new Poison(err.code, err.message);
      throw err;
    }
    if (!fresh.ok) return new Poison('object_invalid', fresh.reason);
    if (fresh.value.entries !== event.entries) {
      return new Poison('object_mismatch', `raw batch holds ${fresh.value.entries} entries, the event says ${event.entries}`);
    }

    const key = summaryKey(event.customerId, event.batchId);
    const partialsJson = fresh.value.partials.map(serializePartial);
    const put = await store.putIfAbsent(key, Buffer.from(serializeSummary(fresh.value, partialsJson)), { entries: String(fresh.value.entries), 'raw-sha256': event.sha256 });
    if (put.status === 'created') return { outcome: 'summarized', summary: fresh.value, partialsJson };

    // Summarized before (a redelivery): send what was stored, so every delivery sends the same
    // bytes, split the same way, even if this build would classify a user agent differently.
    const stored = await store.get(key);
    if (stored === null) {
      log.warn({ key }, 'summary reported as existing but could not be read; using the fresh one');
      return { outcome: 'replayed', summary: fresh.value, partialsJson };
    }
    const parsed = parseSummary(stored.body.toString('utf8'), ref);
    if (!parsed.ok) {
      log.error({ key, reason: parsed.reason }, 'stored summary unreadable; using the fresh one');
      return { outcome: 'replayed', summary: fresh.value, partialsJson };
    }
    return { outcome: 'replayed', summary: parsed.value, partialsJson: parsed.value.partials.map(serializePartial) };
  }
}
