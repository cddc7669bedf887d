import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Piscina } from 'piscina';
import { BatchHeaders, Checked, PreparedBatch, prepareBatch } from '@pipeline/batch';
import type { KeptTimes } from '@pipeline/entry';
import type { CheckTask, CheckedBatch } from './batch-check.worker';

/** Where a body is checked: on the event loop, or on a check thread. */
export type CheckPlace = 'inline' | 'thread';

/**
 * Parses and validates a batch body, and digests it: the CPU a request costs. Asynchronous
 * because a large body is checked off the event loop.
 */
export interface BatchChecker {
  placeOf(bytes: number): CheckPlace;
  check(headers: BatchHeaders, body: Buffer, kept?: KeptTimes): Promise<Checked<PreparedBatch>>;
  close(): Promise<void>;
}

/** Everything on the event loop (tests, and INGESTION_CHECK_THREADS=0). */
export const inlineChecker: BatchChecker = {
  placeOf: () => 'inline',
  check: async (headers, body, kept) => prepareBatch(headers, body, kept),
  close: async () => undefined,
};

export interface ThreadCheckerOptions {
  /** The bundled worker; unset: batch-check.worker.js next to main.js, where the build puts it. */
  filename?: string;
  threads: number;
  /** Bodies of at least this many bytes are checked on a thread; smaller ones on the event loop. */
  minBytes: number;
  /** How much lower than the event loop the threads run (Linux thread niceness). */
  niceIncrement: number;
  /** Told when a thread fails a check (the body is then checked on the event loop). */
  onThreadError?: (err: unknown) => void;
}

/**
 * Checks large bodies on worker threads. A 1.6 MB body takes 7 ms of JSON parsing and validation
 * on an idle core and several times that on a busy one; on the event loop that time is added to
 * every other customer's request waiting behind it. On a thread, at a lower priority than the
 * loop, the loop stays free to move small batches' bytes while a flood's bodies are checked.
 * Small bodies stay on the loop, where the hop to a thread would cost more than the check.
 */
export class ThreadChecker implements BatchChecker {
  private readonly pool: Piscina<CheckTask, Checked<CheckedBatch>>;

  constructor(private readonly options: ThreadCheckerOptions) {
    this.pool = new Piscina({
      filename: options.filename ?? join(__dirname, 'batch-check.worker.js'),
      minThreads: options.threads,
      maxThreads: options.threads,
      // The threads stay up: starting one costs more than a request's whole budget.
      idleTimeout: Number.POSITIVE_INFINITY,
      niceIncrement: options.niceIncrement,
      // A thread checks one body at a time, and the largest parses into some tens of MiB of
      // short-lived objects: small generations keep the threads' share of the service's memory
      // small (V8 collects earlier as they fill; the largest body still fits, see the tests).
      resourceLimits: { maxYoungGenerationSizeMb: 16, maxOldGenerationSizeMb: 64 },
    });
    // A thread that fails outside a task (its code missing, say) is reported here; unheard, the
    // event would stop the service.
    this.pool.on('error', (err) => options.onThreadError?.(err));
  }

  placeOf(bytes: number): CheckPlace {
    return bytes >= this.options.minBytes ? 'thread' : 'inline';
  }

  async check(headers: BatchHeaders, body: Buffer, kept?: KeptTimes): Promise<Checked<PreparedBatch>> {
    if (this.placeOf(body.byteLength) === 'inline') return prepareBatch(headers, body, kept);
    try {
      // The thread gets a copy (under a millisecond for 2 MiB); the body stays here for the write.
      const checked = await this.pool.run({ headers, body, kept });
      return checked.ok ? { ok: true, value: { ...checked.value, body } } : checked;
    } catch (err) {
      // A thread that died under this body (its memory limit) or could not start: the same check
      // here gives the same answer, so a lost thread never fails a request.
      this.options.onThreadError?.(err);
      return prepareBatch(headers, body, kept);
    }
  }

  /** The threads' niceness as they see it themselves (0 where the platform could not lower it). */
  niceness(): Promise<number> {
    return this.pool.run({ headers: { customerId: '-', contentEncoding: 'identity' }, body: new Uint8Array(0) }, { name: 'niceness' }) as unknown as Promise<number>;
  }

  async close(): Promise<void> {
    await this.pool.close({ force: false });
  }
}

/** One thread for every core beyond the first, which the event loop keeps to itself. */
export const defaultCheckThreads = (): number => Math.max(1, availableParallelism() - 1);
