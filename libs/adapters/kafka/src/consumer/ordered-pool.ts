/**
 * A budget shared by every partition of one instance, in "weight" units (entries of the raw
 * batches being worked on). It bounds memory: a 2 MiB batch holds its body, its text and its
 * parsed entries while it is summarized, so many of them at once must wait for each other, while
 * small batches still run many at a time. Waiters are served first come, first served, so a
 * heavy event is not starved by a stream of light ones.
 */
export class WeightedLimiter {
  private used = 0;
  private readonly waiters: { weight: number; grant: () => void }[] = [];

  constructor(readonly capacity: number) {
    if (!(capacity >= 1)) throw new RangeError(`capacity must be at least 1, got ${capacity}`);
  }

  /** Weight currently held. */
  get inUse(): number {
    return this.used;
  }

  /** Callers waiting for their share. */
  get waiting(): number {
    return this.waiters.length;
  }

  /**
   * Resolves with a release function once `weight` fits (clamped to 1..capacity, so one event
   * heavier than the whole budget still runs, alone). Release exactly once; extra calls are ignored.
   */
  acquire(weight: number): Promise<() => void> {
    const w = Number.isFinite(weight) ? Math.min(this.capacity, Math.max(1, Math.ceil(weight))) : 1;
    return new Promise((resolve) => {
      const grant = () => {
        this.used += w;
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          this.used -= w;
          this.drain();
        });
      };
      if (this.waiters.length === 0 && this.used + w <= this.capacity) grant();
      else this.waiters.push({ weight: w, grant });
    });
  }

  private drain(): void {
    while (this.waiters.length > 0 && this.used + this.waiters[0].weight <= this.capacity) this.waiters.shift()!.grant();
  }
}

/**
 * Shares of an in-flight budget by key (a customer): one key holds at most `maxWeight` at once,
 * however many of its items are waiting, so items of other keys find workers and budget. A key
 * that holds nothing always gets its next item in, whatever its weight.
 */
export class KeyedShares {
  private readonly held = new Map<string, number>();
  private wakers: Array<() => void> = [];

  constructor(readonly maxWeight: number) {
    if (!(maxWeight >= 1)) throw new RangeError(`a share must be at least 1, got ${maxWeight}`);
  }

  /** Weight `key` holds now. */
  holding(key: string): number {
    return this.held.get(key) ?? 0;
  }

  /** Takes `weight` for `key` if its share allows; a release function, or undefined when it must wait. */
  tryTake(key: string, weight: number): (() => void) | undefined {
    const held = this.holding(key);
    if (held > 0 && held + weight > this.maxWeight) return undefined;
    this.held.set(key, held + weight);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = this.holding(key) - weight;
      if (left > 0) this.held.set(key, left);
      else this.held.delete(key);
      const wakers = this.wakers;
      this.wakers = [];
      for (const wake of wakers) wake();
    };
  }

  /** Resolves at the next release of any key. */
  released(): Promise<void> {
    return new Promise((resolve) => this.wakers.push(resolve));
  }
}

export interface OrderedPoolOptions<T> {
  /** Most items worked on at the same time. */
  concurrency: number;
  /** Read before each item starts; once true, no further item is started. */
  shouldStop(): boolean;
  /**
   * Works on one item; resolves once it is done for good (its side effects durable). A rejection
   * halts the run: nothing further starts, the items in flight are awaited.
   */
  process(item: T, index: number): Promise<void>;
  /**
   * Called synchronously, in increasing order, whenever the done prefix grows: every item from 0
   * to `index` is done. Never called for an index past an item that is not done.
   */
  onDonePrefix(index: number): void;
  /** Rejections that mean "left unfinished on purpose" (stop, rebalance) rather than a failure. */
  isStop?(err: unknown): boolean;
  /** Optional shared budget: each item holds `weightOf(item)` of it while it is worked on. */
  limiter?: WeightedLimiter;
  weightOf?(item: T): number;
  /**
   * Optional shares of the budget by key: an item whose key holds its share waits, unstarted, and
   * the workers go on with the next items of other keys (the done prefix still waits for it).
   */
  shares?: { of: KeyedShares; keyOf(item: T): string };
}

export interface OrderedPoolResult {
  /** Length of the done prefix: items[0 .. donePrefix) are done. */
  donePrefix: number;
  /** Items done, in or out of the prefix. */
  done: number;
  /** True when the run ended before every item was done (stop, or a failure). */
  halted: boolean;
  /** The first rejection that was not a stop, if any. */
  error?: unknown;
}

/**
 * Works on `items` (the records of one partition, in offset order) up to `concurrency` at a time,
 * and reports progress only as a contiguous done prefix, so the caller can acknowledge (commit)
 * exactly what is finished: an item that is slow, retrying or left unfinished holds back the
 * acknowledgement of everything after it, however many of those are done. Returns only when no
 * item is in flight any more.
 */
export async function runOrdered<T>(items: readonly T[], opts: OrderedPoolOptions<T>): Promise<OrderedPoolResult> {
  const finished = new Uint8Array(items.length);
  let prefix = 0;
  let next = 0;
  let done = 0;
  let halted = false;
  let error: unknown;
  let failed = false;
  const isStop = opts.isStop ?? (() => false);

  const started = opts.shares ? new Uint8Array(items.length) : undefined;
  /** The first unstarted item whose key's share lets it in, taking its share; undefined when every unstarted item must wait. */
  const pick = (): { index: number; share?: () => void } | undefined => {
    if (!opts.shares || !started) return { index: next++ };
    while (next < items.length && started[next] === 1) next++;
    for (let i = next; i < items.length; i++) {
      if (started[i] === 1) continue;
      const share = opts.shares.of.tryTake(opts.shares.keyOf(items[i]), opts.weightOf?.(items[i]) ?? 1);
      if (!share) continue;
      started[i] = 1;
      return { index: i, share };
    }
    return undefined;
  };
  const unstarted = () => {
    if (!started) return next < items.length;
    while (next < items.length && started[next] === 1) next++;
    return next < items.length;
  };

  const worker = async (): Promise<void> => {
    while (!halted && unstarted()) {
      if (opts.shouldStop()) {
        halted = true;
        return;
      }
      const picked = pick();
      if (!picked) {
        // Every item left waits for its key's share: until some item, of any run, gives one back.
        await opts.shares!.of.released();
        continue;
      }
      const index = picked.index;
      const item = items[index];
      let release: (() => void) | undefined;
      try {
        release = opts.limiter ? await opts.limiter.acquire(opts.weightOf?.(item) ?? 1) : undefined;
      } catch (err) {
        picked.share?.();
        throw err;
      }
      try {
        // The wait for the budget may have outlasted a stop or a failure elsewhere.
        if (halted || opts.shouldStop()) {
          halted = true;
          return;
        }
        await opts.process(item, index);
      } catch (err) {
        halted = true;
        if (!isStop(err) && !failed) {
          failed = true;
          error = err;
        }
        return;
      } finally {
        release?.();
        picked.share?.();
      }
      finished[index] = 1;
      done++;
      if (index === prefix) {
        while (prefix < items.length && finished[prefix] === 1) prefix++;
        try {
          opts.onDonePrefix(prefix - 1);
        } catch (err) {
          // Never leave the other workers running behind a rejected Promise.all.
          halted = true;
          if (!failed) {
            failed = true;
            error = err;
          }
          return;
        }
      }
    }
  };

  const width = Math.max(1, Math.min(opts.concurrency, items.length));
  await Promise.all(Array.from({ length: width }, worker));
  return { donePrefix: prefix, done, halted: halted || prefix < items.length, ...(failed ? { error } : {}) };
}
