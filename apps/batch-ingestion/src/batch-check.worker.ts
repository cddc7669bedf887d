// A batch-check thread (see ThreadChecker): bundled on its own, next to main.js.
import { getPriority } from 'node:os';
import { BatchHeaders, Checked, PreparedBatch, prepareBatch } from '@pipeline/batch';
import type { KeptTimes } from '@pipeline/entry';

export interface CheckTask {
  headers: BatchHeaders;
  body: Uint8Array;
  kept?: KeptTimes;
}

/** A checked batch without its body, which stays with the event loop. */
export type CheckedBatch = Omit<PreparedBatch, 'body'>;

export default function check({ headers, body, kept }: CheckTask): Checked<CheckedBatch> {
  const checked = prepareBatch(headers, body, kept);
  if (!checked.ok) return checked;
  const { body: _body, ...batch } = checked.value;
  return { ok: true, value: batch };
}

/** This thread's niceness (on Linux, getpriority of the calling thread). */
export function niceness(): number {
  return getPriority();
}
