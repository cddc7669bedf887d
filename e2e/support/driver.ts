import type { Send } from '../scenarios';
import { Answer, IngestClient } from './http';
import { formatCounts, Progress } from './progress';

/** What happened to one send, after its retries. */
export interface SendRecord {
  index: number;
  /** Final HTTP status, or null when the send was given up (no answer within the retry window). */
  status: number | null;
  attempts: number;
  networkErrors: number;
  /**
   * Attempts whose effect the client cannot know: no answer, or 502 / 503 / 504 (a balancer that lost
   * its upstream mid-request, or an ingestion whose Kafka publish failed after the batch was stored).
   * The next attempt may then find the batch stored and answer 409.
   */
  unsettled: number;
  /** Duration of the final attempt. */
  latencyMs: number;
  /** performance.now() of the first attempt and of the final answer. */
  firstSentAt: number;
  answeredAt: number;
  body?: string;
  error?: string;
}

export interface DriveReport {
  records: SendRecord[];
  /** Every answer of every attempt by status, and `network` for attempts without an answer. */
  answers: Record<string, number>;
  retries: number;
  /** Epoch ms of the first send and of the last answer. */
  startedAt: number;
  finishedAt: number;
  /** Bytes on the wire of the sends finally answered 202. */
  acceptedBytes: number;
}

export interface DriveOptions {
  inFlight: number;
  /** Read before every attempt: a restarted container may come back on another port. */
  ingestUrl: () => string;
  progress?: Progress;
  /** Longest a single send keeps retrying (503, 502, 504, 429, no answer). Default 120 s. */
  giveUpAfterMs?: number;
  /** Called after each final answer, with the number of sends done so far. */
  onAnswered?: (done: number, total: number) => void;
  /** Ends the run early (the test timed out, the stack stopped). */
  signal?: AbortSignal;
  /** The run fails when no send got a final answer for this long. Default 120 s. */
  stallAfterMs?: number;
}

const RETRYABLE = new Set([429, 502, 503, 504]);
/** Retryable answers given after the batch may have been stored (429 comes before anything is). */
const UNSETTLED = new Set([502, 503, 504]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Sends in order with `inFlight` requests at a time, like a gateway with a bounded pool. A
 * retryable answer or a lost connection is retried with backoff (retries are always safe: the
 * pipeline is idempotent), so a restart of the ingestion only delays sends.
 */
export async function drive(sends: readonly Send[], options: DriveOptions): Promise<DriveReport> {
  const client = new IngestClient(options.inFlight);
  const giveUpAfter = options.giveUpAfterMs ?? 120_000;
  const records: SendRecord[] = new Array(sends.length);
  const answers: Record<string, number> = {};
  let retries = 0;
  let next = 0;
  let done = 0;
  let acceptedBytes = 0;
  const startedAt = Date.now();
  const t0 = performance.now();
  const note = (key: string) => (answers[key] = (answers[key] ?? 0) + 1);
  const stallAfter = options.stallAfterMs ?? 120_000;
  let lastAnswerAt = performance.now();
  let stopped: Error | undefined;
  const checkStopped = () => {
    if (!stopped && options.signal?.aborted) stopped = new Error(`sending stopped: ${(options.signal.reason as Error)?.message ?? 'aborted'}`);
    if (!stopped && performance.now() - lastAnswerAt > stallAfter) stopped = new Error(`no send got a final answer for ${stallAfter / 1000} s (answers so far: ${formatCounts(answers)})`);
    if (stopped) throw stopped;
  };

  options.progress?.every(() => {
    const rate = done / Math.max(0.001, (performance.now() - t0) / 1000);
    return `sent ${done}/${sends.length} (${Math.floor((100 * done) / sends.length)}%) | answers ${formatCounts(answers)} | retries ${retries} | ${rate.toFixed(0)} req/s`;
  });

  const sendOne = async (index: number): Promise<SendRecord> => {
    const send = sends[index];
    const firstSentAt = performance.now();
    let attempts = 0;
    let networkErrors = 0;
    let unsettled = 0;
    for (;;) {
      checkStopped();
      attempts++;
      let answer: Answer | undefined;
      let error: Error | undefined;
      try {
        answer = await client.post(options.ingestUrl(), send);
      } catch (err) {
        error = err as Error;
      }
      const now = performance.now();
      if (answer) note(String(answer.status));
      else {
        note('network');
        networkErrors++;
      }
      if (!answer || UNSETTLED.has(answer.status)) unsettled++;
      const retryable = !answer || RETRYABLE.has(answer.status);
      if (!retryable) {
        return { index, status: answer!.status, attempts, networkErrors, unsettled, latencyMs: answer!.ms, firstSentAt, answeredAt: now, body: answer!.body };
      }
      if (now - firstSentAt > giveUpAfter) {
        return { index, status: null, attempts, networkErrors, unsettled, latencyMs: answer?.ms ?? 0, firstSentAt, answeredAt: now, error: error?.message ?? `last answer ${answer?.status}` };
      }
      retries++;
      const backoff = Math.min(2_000, 50 * 2 ** Math.min(attempts, 6)) * (0.5 + Math.random() / 2);
      await sleep(answer?.retryAfter !== undefined ? Math.min(answer.retryAfter * 1000, 2_000) : backoff);
    }
  };

  const worker = async () => {
    while (next < sends.length) {
      const index = next++;
      const record = await sendOne(index);
      lastAnswerAt = performance.now();
      records[index] = record;
      if (record.status === 202) acceptedBytes += sends[index].body.length;
      done++;
      options.onAnswered?.(done, sends.length);
    }
  };

  try {
    await Promise.all(Array.from({ length: Math.min(options.inFlight, sends.length) }, worker));
  } finally {
    options.progress?.stop();
    client.close();
  }
  options.progress?.line(`sent ${done}/${sends.length} | answers ${formatCounts(answers)} | retries ${retries}`);
  return { records, answers, retries, startedAt, finishedAt: Date.now(), acceptedBytes };
}

/** Final statuses by value (`none` for given-up sends). */
export function finalStatuses(report: DriveReport): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of report.records) {
    const key = r.status === null ? 'none' : String(r.status);
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}
