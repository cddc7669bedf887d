import { createRequire } from 'node:module';

/** The part of kafkajs' per-connection request queue this module relies on. */
interface RequestQueueInternals {
  pending: unknown[];
  throttledUntil: number;
  scheduleCheckPendingRequests(): void;
}

const PATCHED = Symbol.for('log-analytics.kafkajs.idle-request-queue');

/**
 * kafkajs 2.2.4 (its latest release, kafkajs#1556, #1704, #1751) re-schedules its check for
 * pending requests after every check, even with nothing pending and no throttle: `throttledUntil`
 * starts at -1, so the delay is negative, Node turns it into 1 ms (with a TimeoutNegativeWarning
 * since Node 23), and every broker connection wakes its process about a thousand times a second
 * forever. An idle service spent 0.03-0.05 of a core on it. A check is only needed while requests
 * wait or a broker throttles: a request that has to wait is queued by `push`, which schedules its
 * own check, and a finished request runs the check directly. So the check is skipped when neither
 * holds and left as it is otherwise.
 *
 * Returns whether the queue now behaves so (false when kafkajs' internals are not the expected ones).
 */
export function stopIdleRequestQueuePolling(): boolean {
  let RequestQueue: { prototype: RequestQueueInternals & { [PATCHED]?: true } };
  try {
    RequestQueue = createRequire(require.resolve('kafkajs'))('./src/network/requestQueue');
  } catch {
    return false;
  }
  const proto = RequestQueue?.prototype;
  if (typeof proto?.scheduleCheckPendingRequests !== 'function') return false;
  if (proto[PATCHED]) return true;
  const schedule = proto.scheduleCheckPendingRequests;
  proto.scheduleCheckPendingRequests = function (this: RequestQueueInternals) {
    if (this.pending.length === 0 && !(this.throttledUntil > Date.now())) return;
    schedule.call(this);
  };
  proto[PATCHED] = true;
  return true;
}
