import { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { Logger } from 'pino';
import {
  Admission,
  AnnouncedBatches,
  BatchEventPublisher,
  GatewayAuthenticator,
  BatchHeaders,
  MAX_BATCH_BYTES,
  RawBatchStore,
  Rejection,
  StoredBatchVanishedError,
  UnannouncedBatches,
  checkBatchHeaders,
  ingestBatch,
  outcomeOfRejection,
} from '@pipeline/batch';
import { isBatchId, isCustomerId } from '@pipeline/contract';
import type { KeptTimes } from '@pipeline/entry';
import { DependencyError, errorMessage, failureAnswer, isDependencyError, RETRY_AFTER_SECONDS } from '@pipeline/platform';
import { BatchChecker, inlineChecker } from './batch-check';
import { readBody } from './body-reader';
import { BatchOutcome, IngestionMetrics } from './metrics';


export interface Answer {
  status: number;
  body: unknown;
  headers: Record<string, string>;
  /** False when the client gave up mid-body: there is nobody left to answer. */
  send: boolean;
  /** The body was not read to its end: what is left must be discarded (bounded) or cut off. */
  unreadBody?: boolean;
}

export interface IngestionHandlerDeps {
  /** Only authenticated gateways get in. */
  auth: GatewayAuthenticator;
  /**
   * Who may send what now: each customer's requests and bytes a second and its share of the bytes
   * in flight, the instance's whole in-flight budget (a body is reserved at the 2 MiB limit until
   * its size is known, so memory stays bounded however many clients send at once), the gateway
   * token's rate. Checked before a byte of the body is read.
   */
  admission: Admission;
  store: RawBatchStore;
  publisher: BatchEventPublisher;
  topic: string;
  metrics: IngestionMetrics;
  logger: Logger;
  /** True once the bucket and topic exist; until then batches are answered 503. */
  isProvisioned: () => boolean;
  bodyTimeoutMs: number;
  now?: () => string;
  /** The event times kept now (the aggregator's retention, the allowed clock skew); entries outside are refused. */
  keptTimes?: () => KeptTimes;
  unannounced?: UnannouncedBatches;
  /** Batches this process stored and announced: their repeats are answered from memory. */
  announced?: AnnouncedBatches;
  /** Batches up to this many bytes travel with their announcement. */
  inlineBodyMaxBytes?: number;
  /** Parses, validates and digests a body; unset: on the event loop. */
  checker?: BatchChecker;
}

export const errorBody = (code: string, message: string, details?: unknown) => ({
  error: details === undefined ? { code, message } : { code, message, details },
});

/**
 * `POST /logs`: headers, body (bounded), validation, then the durable write and the event. Every
 * outcome is one JSON answer and one log line carrying the customer and batch ids.
 */
export class IngestionHandler {
  private readonly now: () => string;
  private readonly unannounced: UnannouncedBatches;
  private readonly checker: BatchChecker;

  constructor(private readonly deps: IngestionHandlerDeps) {
    this.now = deps.now ?? (() => new Date().toISOString());
    this.unannounced = deps.unannounced ?? new UnannouncedBatches();
    this.checker = deps.checker ?? inlineChecker;
  }

  async handle(headers: IncomingHttpHeaders, body: Readable | undefined): Promise<Answer> {
    const started = process.hrtime.bigint();
    const customerId = isCustomerId(headers['x-customer-id']) ? headers['x-customer-id'] : undefined;
    const key = headers['idempotency-key'];
    const log: Record<string, unknown> = { customerId, batchId: isBatchId(key) ? key : undefined };
    const answer = (
      outcome: BatchOutcome,
      a: Omit<Answer, 'send' | 'headers'> & { headers?: Record<string, string>; send?: boolean },
      extra: Record<string, unknown> = {},
    ): Answer => {
      this.deps.metrics.batches.inc({ outcome });
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      const line = { ...log, ...extra, outcome, status: a.status, durationMs: Math.round(durationMs * 10) / 10 };
      const level = outcome === 'error' ? 'error' : outcome === 'unavailable' ? 'warn' : 'info';
      this.deps.logger[level](line, `POST /logs ${a.status} ${outcome}`);
      return { status: a.status, body: a.body, headers: a.headers ?? {}, send: a.send ?? true, unreadBody: a.unreadBody };
    };
    const rejected = (r: Rejection, extra: Record<string, unknown> = {}, unreadBody = false) =>
      answer(outcomeOfRejection(r), { status: r.status, body: errorBody(r.code, r.message, r.details), unreadBody }, { code: r.code, ...extra });

    // Who is calling comes first: an unknown caller learns nothing else and sends nothing further.
    const gateway = this.deps.auth.authenticate(headers.authorization);
    if (!gateway.ok) {
      const a = rejected(gateway.rejection, {}, !!body && !body.readableEnded);
      return { ...a, headers: { ...a.headers, 'www-authenticate': 'Bearer realm="log-analytics"' } };
    }
    log.gateway = gateway.value.name;

    const checked = checkBatchHeaders({
      customerId: headers['x-customer-id'],
      idempotencyKey: key,
      contentType: headers['content-type'],
      contentEncoding: headers['content-encoding'],
    });
    if (!checked.ok) return rejected(checked.rejection, {}, !!body && !body.readableEnded);
    const allowed = this.deps.auth.authorize(gateway.value, checked.value.customerId);
    if (!allowed.ok) return rejected(allowed.rejection, {}, !!body && !body.readableEnded);
    const declared = Number(headers['content-length']);
    if (Number.isFinite(declared) && declared > MAX_BATCH_BYTES) {
      return rejected({ status: 413, code: 'payload_too_large', message: `The body must be at most ${MAX_BATCH_BYTES} bytes.` }, { declaredBytes: declared }, true);
    }
    // A gzip body of any size may inflate to the limit; a plain one takes what it declares.
    const identity = checked.value.contentEncoding === 'identity' && Number.isFinite(declared);
    const admitted = this.deps.admission.admit({
      token: gateway.value.name,
      customerId: checked.value.customerId,
      expectedBytes: Number.isFinite(declared) ? declared : 0,
      reserveBytes: identity ? Math.max(declared, 1) : MAX_BATCH_BYTES,
    });
    if (!admitted.ok) {
      const { status, scope, limit, retryAfterSeconds, message } = admitted.refusal;
      const extra = { scope, limit, retryAfterSeconds };
      this.deps.metrics.refused.inc({ scope, limit });
      const a =
        status === 429
          ? rejected({ status, code: 'rate_limited', message, details: { scope, limit } }, extra, !!body && !body.readableEnded)
          : answer('unavailable', { status, body: errorBody('busy', message), unreadBody: true }, { reason: 'bytes_in_flight', ...extra });
      return { ...a, headers: { ...a.headers, 'retry-after': String(retryAfterSeconds) } };
    }
    try {
      return await this.receive(checked.value, body, answer, rejected, log, (bytes) => admitted.pass.settle(bytes));
    } finally {
      admitted.pass.release();
    }
  }

  /** Bytes of request bodies currently reserved (a gauge). */
  get reservedBytes(): number {
    return this.deps.admission.bytesInFlight;
  }

  private async receive(
    checkedHeaders: BatchHeaders,
    body: Readable | undefined,
    answer: AnswerFn,
    rejected: RejectFn,
    log: Record<string, unknown>,
    settle: (bodyBytes: number) => void,
  ): Promise<Answer> {
    // Where a slow answer spent its time, in its log line: receiving the body, checking it,
    // storing it, announcing it.
    const lap = stopwatch();
    const read = body
      ? await readBody(body, { limit: MAX_BATCH_BYTES, coding: checkedHeaders.contentEncoding, timeoutMs: this.deps.bodyTimeoutMs })
      : ({ ok: true, body: Buffer.alloc(0), wireBytes: 0 } as const);
    if (!read.ok) {
      switch (read.reason) {
        case 'too_large':
          // At least the limit was read (or inflated): what the customer's byte budget is charged.
          settle(MAX_BATCH_BYTES);
          return rejected({ status: 413, code: 'payload_too_large', message: read.message }, {}, true);
        case 'bad_encoding':
          return rejected({ status: 400, code: 'invalid_body', message: read.message }, {}, true);
        case 'timeout':
          // A stalled client sends nothing more worth waiting for: close right after the answer.
          return answer('timeout', { status: 408, body: errorBody('request_timeout', read.message), headers: { connection: 'close' } });
        case 'aborted':
          return answer('aborted', { status: 400, body: errorBody('aborted', read.message), send: false }, { reason: read.message });
      }
    }
    const bytes = read.body.byteLength;
    settle(bytes);
    this.deps.metrics.batchBytes.observe(bytes);
    log.readMs = lap();

    const checkStarted = performance.now();
    const prepared = await this.checker.check(checkedHeaders, read.body, this.deps.keptTimes?.());
    this.deps.metrics.bodyCheckDuration.observe({ place: this.checker.placeOf(bytes) }, (performance.now() - checkStarted) / 1000);
    if (!prepared.ok) return rejected(prepared.rejection, { bytes });
    const batch = prepared.value;
    Object.assign(log, { batchId: batch.batchId, entries: batch.entries, bytes: batch.bytes, checkMs: lap() });

    if (!this.deps.isProvisioned()) {
      return answer('unavailable', {
        status: 503,
        body: errorBody('unavailable', 'Storage or event bus is not ready yet; retry later.'),
        headers: { 'retry-after': String(RETRY_AFTER_SECONDS.unavailable) },
      });
    }

    try {
      const outcome = await ingestBatch(batch, {
        store: this.deps.store,
        publisher: this.deps.publisher,
        topic: this.deps.topic,
        now: this.now,
        unannounced: this.unannounced,
        announced: this.deps.announced,
        inlineBodyMaxBytes: this.deps.inlineBodyMaxBytes,
        onStep: (step) => (log[step === 'stored' ? 'storeMs' : 'announceMs'] = lap()),
      });
      switch (outcome.kind) {
        case 'accepted':
          this.deps.metrics.entriesAccepted.inc(outcome.entries);
          return answer('accepted', { status: 202, body: { batchId: outcome.batchId, entries: outcome.entries } });
        case 'duplicate':
          return answer('duplicate', { status: 409, body: { batchId: outcome.batchId, status: 'duplicate' } });
        case 'key_reused':
          return rejected({
            status: 422,
            code: 'idempotency_key_reused',
            message: 'This idempotency key was already used by this customer for a different body; the stored batch is unchanged.',
            details: { batchId: outcome.batchId },
          });
      }
    } catch (err) {
      return answerFailure(err, answer);
    }
  }
}

/** Milliseconds (one decimal) since the previous call, or since it was made. */
function stopwatch(): () => number {
  let last = performance.now();
  return () => {
    const now = performance.now();
    const ms = Math.round((now - last) * 10) / 10;
    last = now;
    return ms;
  };
}

type AnswerFn = (outcome: BatchOutcome, a: Omit<Answer, 'send' | 'headers'> & { headers?: Record<string, string>; send?: boolean }, extra?: Record<string, unknown>) => Answer;
type RejectFn = (r: Rejection, extra?: Record<string, unknown>, unreadBody?: boolean) => Answer;

const DEPENDENCY_NAMES: Record<DependencyError['dependency'], string> = { s3: 'Storage', kafka: 'The event bus', clickhouse: 'The analytics store' };

/**
 * A failure of the durable write or the announcement as an answer, as the shared failure policy
 * says (failureAnswer): an outage, a store refusing writes, or a racing deletion is a 503 with
 * Retry-After, and the retry is safe because every step is idempotent; anything else is a 500, also
 * safe to retry, and logged as a defect.
 */
function answerFailure(err: unknown, answer: AnswerFn): Answer {
  const failure = err instanceof StoredBatchVanishedError ? { status: 503 as const, retryAfterSeconds: RETRY_AFTER_SECONDS.unavailable } : failureAnswer(err);
  if (failure.status === 503) {
    const dependency = isDependencyError(err) ? err.dependency : 's3';
    const refusing = isDependencyError(err) && err.kind === 'refusing';
    return answer(
      'unavailable',
      {
        status: 503,
        body: errorBody('unavailable', `${DEPENDENCY_NAMES[dependency]} ${refusing ? 'refuses writes for now' : 'is unavailable'}; retrying is safe.`),
        headers: { 'retry-after': String(failure.retryAfterSeconds) },
      },
      { dependency, code: isDependencyError(err) ? err.code : 'vanished', kind: isDependencyError(err) ? err.kind : 'unavailable', err: errorMessage(err) },
    );
  }
  return answer('error', { status: 500, body: errorBody('internal_error', 'Unexpected error; retrying is safe.') }, { err });
}
