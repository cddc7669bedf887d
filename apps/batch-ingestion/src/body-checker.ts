import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Piscina } from 'piscina';
import { checkBatchBody, Checked, CheckedBody } from '@pipeline/batch';
import type { KeptTimes } from '@pipeline/entry';

export interface BodyCheckerOptions {
  /** Bodies of at least this many bytes are checked on the thread; 0: every body on the event loop. */
  threadBytes: number;
  /** The thread's task, built next to main.js (body-check.worker.ts). */
  workerFile?: string;
  /** Most heap the thread may grow (a 2 MiB body takes a few tens of MiB parsed). */
  maxHeapMb?: number;
}

/**
 * Checks bodies (parse, validate, digest). Small ones at once, on the event loop: a thread's round
 * trip costs more than they do. Large ones on one thread of their own, so that a customer's 2 MiB
 * batches (about 8 ms of parsing on an idle core, and the collection of what it leaves on the
 * heap) never hold up the event loop every other customer's answer waits on. One thread: the
 * parsing a flood brings takes at most one core, and the admission's byte budgets bound its queue.
 */
export class BodyChecker {
  private readonly pool?: Piscina;
  private readonly threadBytes: number;

  constructor(options: BodyCheckerOptions) {
    this.threadBytes = options.threadBytes;
    if (options.threadBytes <= 0) return;
    const filename = options.workerFile ?? join(__dirname, 'body-check.worker.js');
    if (!existsSync(filename)) throw new Error(`the body-check thread's code is missing (${filename}): build the app, or set INGESTION_BODY_THREAD_BYTES=0`);
    this.pool = new Piscina({
      filename,
      minThreads: 1,
      maxThreads: 1,
      idleTimeout: 2 ** 31 - 1,
      resourceLimits: { maxOldGenerationSizeMb: options.maxHeapMb ?? 128 },
    });
  }

  /** Where `body` is checked: `thread` or `inline`. */
  placeOf(body: Uint8Array): 'thread' | 'inline' {
    return this.pool && body.byteLength >= this.threadBytes ? 'thread' : 'inline';
  }

  async check(body: Uint8Array, kept?: KeptTimes): Promise<Checked<CheckedBody>> {
    if (this.placeOf(body) === 'inline') return checkBatchBody(body, kept);
    try {
      return (await this.pool!.run({ body, kept })) as Checked<CheckedBody>;
    } catch {
      // The thread died under this body (its heap limit) or was stopped: the same check here
      // gives the same answer, so a lost thread never loses a request.
      return checkBatchBody(body, kept);
    }
  }

  async close(): Promise<void> {
    await this.pool?.destroy();
  }
}
