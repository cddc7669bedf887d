import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { BatchToSend, IngestionClient, RetryPolicy, retryDelayMs } from '@pipeline/ingestion-client';
import {
  BatchPacker,
  BatchResult,
  checkRecord,
  decodeUtf8,
  detectFormat,
  Format,
  isBlank,
  Line,
  LineSplitter,
  parseCombinedLine,
  parseJsonArray,
  parseNdjsonLine,
  ParsedRecord,
  PreparedSend,
  SendReport,
} from '@pipeline/log-files';
import { sleep } from '@pipeline/platform';
import { startProgress } from './progress';

export interface SendOptions {
  customerId: string;
  /** A path, or `-` for standard input. */
  file: string;
  format?: Format;
  url: string;
  token: string;
  concurrency: number;
  retry: RetryPolicy;
  timeoutMs: number;
  progressIntervalMs: number;
  /** Read, check and batch, but send nothing. */
  dryRun: boolean;
}

/** Sends batches with at most `concurrency` in flight; `submit` waits while the pool is full (backpressure on the reader). */
class SendPool {
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly concurrency: number,
    private readonly deliver: (batch: PreparedSend) => Promise<void>,
  ) {}

  async submit(batch: PreparedSend): Promise<void> {
    while (this.inFlight.size >= this.concurrency) await Promise.race(this.inFlight);
    const p = this.deliver(batch).finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  async drain(): Promise<void> {
    await Promise.all(this.inFlight);
  }
}

/** One batch until a final answer: accepted, already there, refused, or out of attempts. */
async function deliverOne(client: IngestionClient, batch: PreparedSend, o: SendOptions, report: SendReport): Promise<BatchResult> {
  const request: BatchToSend = { customerId: o.customerId, idempotencyKey: batch.key, body: batch.body };
  const failed = (reason: string): BatchResult => ({ kind: 'failed', entries: batch.entries, firstLine: batch.firstLine, lastLine: batch.lastLine, key: batch.key, reason });
  for (let attempt = 0; ; attempt++) {
    const answer = await client.post(request);
    switch (answer.kind) {
      case 'accepted':
      case 'duplicate':
        return { kind: answer.kind, entries: batch.entries };
      case 'refused':
        return failed(answer.reason);
      case 'retry':
        if (attempt + 1 >= o.retry.maxAttempts) return failed(`gave up after ${attempt + 1} attempts: ${answer.reason}`);
        report.retries++;
        await sleep(retryDelayMs(attempt, answer.retryAfterMs, o.retry));
    }
  }
}

const PARSERS: Record<Exclude<Format, 'json'>, (line: Line) => ParsedRecord | null> = { ndjson: parseNdjsonLine, combined: parseCombinedLine };

/**
 * Reads the input, checks every record with the ingestion's own validation, packs the valid ones
 * into batches and sends them; returns the tally. Line formats are streamed (memory stays bounded
 * by the batches in flight); a JSON array is read whole.
 */
export async function send(o: SendOptions, io: { stdin: Readable; stderr: NodeJS.WriteStream; signal?: AbortSignal }): Promise<SendReport> {
  const report = new SendReport();
  const client = new IngestionClient({ url: o.url, token: o.token, timeoutMs: o.timeoutMs });
  const pool = new SendPool(o.concurrency, async (batch) => {
    report.record(o.dryRun ? { kind: 'accepted', entries: batch.entries } : await deliverOne(client, batch, o, report));
  });
  const packer = new BatchPacker();
  const input = o.file === '-' ? io.stdin : createReadStream(o.file);
  const totalBytes = o.file === '-' ? undefined : (await stat(o.file)).size;
  const progress = startProgress(report, totalBytes, { tty: Boolean(io.stderr.isTTY), intervalMs: o.progressIntervalMs, out: io.stderr });

  const take = async (record: ParsedRecord | null) => {
    if (record === null) return;
    const checked = checkRecord(record);
    if ('rejected' in checked) return report.reject(checked.rejected);
    const closed = packer.add(checked.entry, record);
    if (closed) await pool.submit(closed);
  };

  try {
    let format = o.format;
    // Until the format is known (from the first non-blank line) and while it is a JSON array, the raw bytes are kept.
    const kept: Buffer[] = [];
    const splitter = new LineSplitter();
    /** Takes the records of `lines`; returns the format, known from the first non-blank line on. */
    const onLines = async (known: Format | undefined, lines: Line[]): Promise<Format | undefined> => {
      for (const line of lines) {
        if (known === undefined) {
          if (isBlank(line.bytes)) continue;
          known = detectFormat(line.bytes);
        }
        if (known === 'json') return known;
        await take(PARSERS[known](line));
      }
      return known;
    };
    let read = 0;
    for await (const chunk of input as AsyncIterable<Buffer>) {
      if (io.signal?.aborted) break;
      read += chunk.length;
      progress.update(read);
      if (format === 'json') {
        kept.push(chunk);
        continue;
      }
      if (format === undefined) kept.push(chunk);
      format = await onLines(format, splitter.push(chunk));
      if (format !== undefined && format !== 'json') kept.length = 0;
    }
    // Interrupted: the batch being filled is dropped, not sent short. A full run later cuts the same
    // batch longer under another key, and both would be counted.
    if (!io.signal?.aborted) {
      if (format !== 'json') format = await onLines(format, splitter.end());
      if (format === 'json') {
        const text = decodeUtf8(Buffer.concat(kept));
        const records = text === null ? [{ ordinal: 1, line: 1, error: 'not valid UTF-8' }] : parseJsonArray(text);
        for (const record of records) await take(record);
      }
      const last = packer.flush();
      if (last) await pool.submit(last);
    }
    await pool.drain();
  } finally {
    progress.stop();
  }
  return report;
}
