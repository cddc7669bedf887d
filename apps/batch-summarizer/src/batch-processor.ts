import { createHash } from 'node:crypto';
import { BatchIngestedEvent, parseBatchIngestedEvent, summaryKey } from '@pipeline/batch';
import { UserAgentClassifier } from '@pipeline/entry';
import { EventBusUnavailableError, EventPublisher, OutboundMessage } from '@pipeline/kafka';
import { Summary, parseSummary, serializePartial, serializeSummary, summarizeRawBatch } from '@pipeline/partial';
import type { Logger } from '@pipeline/platform';
import { retryUntilStopped } from '@pipeline/platform';
import { ObjectStore, ObjectStoreUnavailableError } from '@pipeline/s3';
import { windowKey } from '@pipeline/window';
import { BatchOutcome, PoisonCode, SummarizerMetrics } from './metrics';

/** One consumed `batch-ingested` record. */
export interface InboundMessage {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
}

/** What the consumer lends the processor for one record. */
export interface ProcessControl {
  /** True once the work should be abandoned unacknowledged (shutdown, rebalance). */
  shouldStop(): boolean;
  /** Keeps the group membership alive during long waits; never throws. */
  heartbeat(): Promise<void>;
}

/** The record was left unfinished because the consumer is stopping; its offset must not be resolved. */
export class StoppedError extends Error {
  constructor(override readonly cause: unknown) {
    super(`stopped while retrying: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = 'StoppedError';
  }
}

/** Dead-letter headers: where the record came from and why it could not be summarized. */
export const DLQ_HEADERS = {
  reason: 'dlq-reason',
  reasonCode: 'dlq-reason-code',
  sourceTopic: 'dlq-source-topic',
  sourcePartition: 'dlq-source-partition',
  sourceOffset: 'dlq-source-offset',
  batchId: 'dlq-batch-id',
  customerId: 'dlq-customer-id',
} as const;

class Poison {
  constructor(
    readonly code: PoisonCode,
    readonly reason: string,
  ) {}
}

/** S3 or Kafka did not answer: wait and try again. Anything else will not get better by waiting. */
export function isTransient(err: unknown): boolean {
  return (
    err instanceof ObjectStoreUnavailableError ||
    err instanceof EventBusUnavailableError ||
    (err as Error)?.name === 'ObjectStoreUnavailableError' ||
    (err as Error)?.name === 'EventBusUnavailableError'
  );
}

export interface BatchProcessorDeps {
  store: ObjectStore;
  publisher: EventPublisher;
  classifier: UserAgentClassifier;
  metrics: SummarizerMetrics;
  logger: Logger;
  insightTopic: string;
  dlqTopic: string;
  retryMaxMs: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const sha256Hex = (body: Uint8Array) => createHash('sha256').update(body).digest('hex');

/**
 * Turns one `batch-ingested` record into acknowledged side effects: the summary stored
 * create-only, then one `insight-events` message per minute. Resolves only when they are
 * durable, so the caller may then resolve the offset. Poison records are dead-lettered (also
 * acknowledged) instead; S3 and Kafka failures are retried until they pass or the consumer stops.
 */
export class BatchProcessor {
  constructor(private readonly deps: BatchProcessorDeps) {}

  async process(msg: InboundMessage, ctl: ProcessControl): Promise<BatchOutcome> {
    const started = process.hrtime.bigint();
    const elapsed = () => Number(process.hrtime.bigint() - started) / 1e9;
    let log = this.deps.logger.child({ partition: msg.partition, offset: msg.offset });
    let event: BatchIngestedEvent | undefined;

    let result: { outcome: 'summarized' | 'replayed'; summary: Summary } | Poison;
    try {
      const decoded = this.decodeEvent(msg);
      if (decoded instanceof Poison) {
        result = decoded;
      } else {
        event = decoded;
        log = log.child({ batchId: event.batchId, customerId: event.customerId });
        result = await this.summarize(event, ctl, log);
      }
    } catch (err) {
      if (err instanceof StoppedError) throw err;
      // A defect, not an outage: retrying would stall the partition forever.
      log.error({ err }, 'unexpected failure while summarizing; dead-lettering the event');
      result = new Poison('internal_error', `unexpected failure: ${(err as Error)?.message ?? String(err)}`);
    }

    if (result instanceof Poison) {
      await this.deadLetter(msg, result, event, ctl, log);
      this.deps.metrics.batches.inc({ outcome: 'dlq' });
      this.deps.metrics.dlq.inc({ reason: result.code });
      this.deps.metrics.duration.observe({ outcome: 'dlq' }, elapsed());
      log.warn({ reasonCode: result.code, reason: result.reason }, 'event dead-lettered');
      return 'dlq';
    }

    const { outcome, summary } = result;
    const messages: OutboundMessage[] = summary.partials.map((p) => ({
      key: windowKey(p.customerId, p.windowStart),
      value: serializePartial(p),
    }));
    await this.retry('publish_partials', ctl, log, () => this.deps.publisher.publish(this.deps.insightTopic, messages));
    const seconds = elapsed();
    this.deps.metrics.batches.inc({ outcome });
    this.deps.metrics.entries.inc(summary.entries);
    this.deps.metrics.partials.inc(messages.length);
    this.deps.metrics.duration.observe({ outcome }, seconds);
    log.info({ outcome, entries: summary.entries, partials: messages.length, durationMs: Math.round(seconds * 1000) }, 'batch summarized');
    return outcome;
  }

  private decodeEvent(msg: InboundMessage): BatchIngestedEvent | Poison {
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

  private async summarize(event: BatchIngestedEvent, ctl: ProcessControl, log: Logger): Promise<{ outcome: 'summarized' | 'replayed'; summary: Summary } | Poison> {
    const { store } = this.deps;
    const ref = { customerId: event.customerId, batchId: event.batchId };

    const raw = await this.retry('get_raw', ctl, log, () => store.get(event.objectKey));
    if (raw === null) return new Poison('object_missing', `raw batch ${event.objectKey} not found in bucket ${store.bucket}`);
    // The raw key is written create-only, so its bytes are the ones the event announced; anything
    // else is a foreign or damaged event, and the real one carries the right digest.
    if (sha256Hex(raw.body) !== event.sha256) return new Poison('object_mismatch', `sha256 of ${event.objectKey} differs from the event's`);
    let text: string;
    try {
      text = utf8.decode(raw.body);
    } catch {
      return new Poison('object_invalid', `raw batch ${event.objectKey} is not valid UTF-8`);
    }
    const fresh = summarizeRawBatch(ref, text, this.deps.classifier.familyOf);
    if (!fresh.ok) return new Poison('object_invalid', fresh.reason);
    if (fresh.value.entries !== event.entries) {
      return new Poison('object_mismatch', `raw batch holds ${fresh.value.entries} entries, the event says ${event.entries}`);
    }

    const key = summaryKey(event.customerId, event.batchId);
    const body = Buffer.from(serializeSummary(fresh.value));
    const put = await this.retry('put_summary', ctl, log, () =>
      store.putIfAbsent(key, body, { entries: String(fresh.value.entries), 'raw-sha256': event.sha256 }),
    );
    if (put.status === 'created') return { outcome: 'summarized', summary: fresh.value };

    // Summarized before (a redelivery): send what was stored, so every delivery sends the same bytes
    // even if this build would classify some user agent differently.
    const stored = await this.retry('get_summary', ctl, log, () => store.get(key));
    if (stored === null) {
      log.warn({ key }, 'summary reported as existing but could not be read; using the fresh one');
      return { outcome: 'replayed', summary: fresh.value };
    }
    const parsed = parseSummary(stored.body.toString('utf8'), ref);
    if (!parsed.ok) {
      log.error({ key, reason: parsed.reason }, 'stored summary unreadable; using the fresh one');
      return { outcome: 'replayed', summary: fresh.value };
    }
    return { outcome: 'replayed', summary: parsed.value };
  }

  private async deadLetter(msg: InboundMessage, poison: Poison, event: BatchIngestedEvent | undefined, ctl: ProcessControl, log: Logger): Promise<void> {
    const headers: Record<string, string> = {
      [DLQ_HEADERS.reason]: poison.reason.slice(0, 1000),
      [DLQ_HEADERS.reasonCode]: poison.code,
      [DLQ_HEADERS.sourceTopic]: msg.topic,
      [DLQ_HEADERS.sourcePartition]: String(msg.partition),
      [DLQ_HEADERS.sourceOffset]: msg.offset,
    };
    if (event) {
      headers[DLQ_HEADERS.batchId] = event.batchId;
      headers[DLQ_HEADERS.customerId] = event.customerId;
    }
    const dead: OutboundMessage = {
      key: msg.key ? msg.key.toString('utf8') : `${msg.topic}|${msg.partition}|${msg.offset}`,
      value: msg.value ?? Buffer.alloc(0),
      headers,
    };
    await this.retry('publish_dlq', ctl, log, () => this.deps.publisher.publish(this.deps.dlqTopic, [dead]));
  }

  /**
   * Retries `fn` while S3 or Kafka is unavailable, heartbeating between attempts; other errors
   * are rethrown at once. Throws StoppedError when the consumer stops before it succeeds.
   */
  private async retry<T>(operation: string, ctl: ProcessControl, log: Logger, fn: () => Promise<T>): Promise<T> {
    type Attempt = { ok: true; value: T } | { ok: false; err: unknown };
    let attempt: Attempt;
    try {
      attempt = await retryUntilStopped<Attempt>(
        async () => {
          try {
            return { ok: true, value: await fn() };
          } catch (err) {
            if (isTransient(err)) throw err;
            return { ok: false, err };
          }
        },
        {
          shouldStop: ctl.shouldStop,
          maxMs: this.deps.retryMaxMs,
          onRetry: async (err, n, delayMs) => {
            this.deps.metrics.retries.inc({ operation });
            const line = { operation, attempt: n + 1, delayMs, err: (err as Error)?.message ?? String(err) };
            if (n % 10 === 0) log.warn(line, 'dependency unavailable; retrying');
            else log.debug(line, 'still retrying');
            await ctl.heartbeat();
          },
        },
      );
    } catch (err) {
      throw new StoppedError(err);
    }
    if (!attempt.ok) throw attempt.err;
    return attempt.value;
  }
}
