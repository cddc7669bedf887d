import { KeyedShares, WeightedLimiter, runOrdered } from './ordered-pool';

/** Work items that finish (or fail) only when the test says so. */
class Gates {
  readonly started: number[] = [];
  private readonly pending = new Map<number, { resolve: () => void; reject: (err: unknown) => void }>();
  inFlight = 0;
  maxInFlight = 0;

  process = (item: number) =>
    new Promise<void>((resolve, reject) => {
      this.started.push(item);
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      const settle = () => this.inFlight--;
      this.pending.set(item, {
        resolve: () => (settle(), resolve()),
        reject: (err) => (settle(), reject(err)),
      });
    });

  finish(...items: number[]) {
    for (const item of items) {
      const gate = this.pending.get(item);
      if (!gate) throw new Error(`item ${item} is not in flight`);
      this.pending.delete(item);
      gate.resolve();
    }
  }

  fail(item: number, err: unknown) {
    this.pending.get(item)!.reject(err);
    this.pending.delete(item);
  }
}

const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

class Stop extends Error {}

describe('runOrdered', () => {
  it('reports only the contiguous done prefix, whatever order the items finish in', async () => {
    const gates = new Gates();
    const prefixes: number[] = [];
    const run = runOrdered([0, 1, 2, 3, 4], { concurrency: 5, shouldStop: () => false, process: gates.process, onDonePrefix: (i) => prefixes.push(i) });
    await flush();
    expect(gates.started).toEqual([0, 1, 2, 3, 4]);

    gates.finish(2, 1, 4);
    await flush();
    expect(prefixes).toEqual([]);
    gates.finish(0);
    await flush();
    expect(prefixes).toEqual([2]);
    gates.finish(3);
    await expect(run).resolves.toEqual({ donePrefix: 5, done: 5, halted: false });
    expect(prefixes).toEqual([2, 4]);
  });

  it('never works on more than `concurrency` items and starts them in order', async () => {
    const gates = new Gates();
    const items = Array.from({ length: 10 }, (_, i) => i);
    const run = runOrdered(items, { concurrency: 3, shouldStop: () => false, process: gates.process, onDonePrefix: () => undefined });
    for (let i = 0; i < 10; i++) {
      await flush();
      gates.finish(i);
    }
    await run;
    expect(gates.maxInFlight).toBe(3);
    expect(gates.started).toEqual(items);
  });

  it('holds the prefix at an item that never finishes, and starts nothing once told to stop', async () => {
    const gates = new Gates();
    let stop = false;
    const prefixes: number[] = [];
    const run = runOrdered([0, 1, 2, 3, 4, 5], { concurrency: 3, shouldStop: () => stop, isStop: (e) => e instanceof Stop, process: gates.process, onDonePrefix: (i) => prefixes.push(i) });
    await flush();
    gates.finish(0, 2);
    await flush();
    expect(gates.started).toEqual([0, 1, 2, 3, 4]);
    stop = true;
    gates.finish(3, 4);
    await flush();
    gates.fail(1, new Stop('gave up'));
    const result = await run;
    expect(result).toEqual({ donePrefix: 1, done: 4, halted: true });
    expect(prefixes).toEqual([0]);
    expect(gates.started).not.toContain(5);
  });

  it('on a failure starts nothing more, waits for the items in flight, then returns the error', async () => {
    const gates = new Gates();
    const boom = new TypeError('boom');
    let settled = false;
    const run = runOrdered([0, 1, 2, 3], { concurrency: 2, shouldStop: () => false, process: gates.process, onDonePrefix: () => undefined }).finally(() => {
      settled = true;
    });
    await flush();
    gates.fail(0, boom);
    await flush();
    expect(settled).toBe(false);
    expect(gates.started).toEqual([0, 1]);
    gates.finish(1);
    const result = await run;
    expect(result.error).toBe(boom);
    expect(result).toMatchObject({ donePrefix: 0, done: 1, halted: true });
  });

  it('takes each item`s weight from the shared budget while it is worked on', async () => {
    const gates = new Gates();
    const limiter = new WeightedLimiter(10);
    const run = runOrdered([6, 6, 1], { concurrency: 3, shouldStop: () => false, process: gates.process, onDonePrefix: () => undefined, limiter, weightOf: (w) => w });
    await flush();
    // The second 6 does not fit next to the first; the 1 behind it waits its turn.
    expect(gates.started).toEqual([6]);
    expect(limiter.inUse).toBe(6);
    gates.finish(6);
    await flush();
    expect(gates.started).toEqual([6, 6, 1]);
    expect(limiter.inUse).toBe(7);
    gates.finish(6, 1);
    await run;
    expect(limiter.inUse).toBe(0);
  });
});

describe('WeightedLimiter', () => {
  it('grants in arrival order, runs an over-sized request alone, and ignores a second release', async () => {
    const limiter = new WeightedLimiter(10);
    const order: string[] = [];
    const a = await limiter.acquire(4);
    const big = limiter.acquire(1_000).then((release) => (order.push('big'), release));
    const small = limiter.acquire(1).then((release) => (order.push('small'), release));
    await flush();
    expect(order).toEqual([]);
    expect(limiter.waiting).toBe(2);
    a();
    a();
    const releaseBig = await big;
    await flush();
    expect(order).toEqual(['big']);
    expect(limiter.inUse).toBe(10);
    releaseBig();
    (await small)();
    expect(order).toEqual(['big', 'small']);
    expect(limiter.inUse).toBe(0);
  });

  it('counts a missing or nonsensical weight as 1', async () => {
    const limiter = new WeightedLimiter(3);
    await limiter.acquire(Number.NaN);
    await limiter.acquire(-5);
    await limiter.acquire(0.2);
    expect(limiter.inUse).toBe(3);
  });
});

describe('runOrdered with shares by key', () => {
  /** Items as `key:weight`, numbered by position. */
  const keyOf = (item: number, keys: string[]) => keys[item];

  it('lets items of other keys past a key that holds its share, and still reports the prefix in order', async () => {
    const gates = new Gates();
    const keys = ['a', 'a', 'a', 'a', 'b', 'a', 'b'];
    const shares = new KeyedShares(2);
    const prefixes: number[] = [];
    const items = keys.map((_, i) => i);
    const run = runOrdered(items, { concurrency: 4, shouldStop: () => false, process: gates.process, onDonePrefix: (i) => prefixes.push(i), shares: { of: shares, keyOf: (i) => keyOf(i, keys) } });
    await flush();
    // a holds its share with two items; b's items go ahead of a's waiting ones.
    expect(gates.started).toEqual([0, 1, 4, 6]);
    expect(shares.holding('a')).toBe(2);
    gates.finish(4, 6);
    await flush();
    expect(prefixes).toEqual([]);
    gates.finish(0);
    await flush();
    expect(gates.started).toEqual([0, 1, 4, 6, 2]);
    expect(prefixes).toEqual([0]);
    gates.finish(1);
    await flush();
    gates.finish(2);
    await flush();
    gates.finish(3);
    await flush();
    gates.finish(5);
    await expect(run).resolves.toEqual({ donePrefix: 7, done: 7, halted: false });
    expect(prefixes[prefixes.length - 1]).toBe(6);
    expect(shares.holding('a')).toBe(0);
  });

  it('shares one budget between runs (partitions), and always lets a key that holds nothing in', async () => {
    const gates = new Gates();
    const shares = new KeyedShares(10);
    const weights = [25, 1, 1];
    const opts = (offset: number) => ({
      concurrency: 3,
      shouldStop: () => false,
      process: (i: number) => gates.process(offset + i),
      onDonePrefix: () => undefined,
      weightOf: (i: number) => weights[i],
      shares: { of: shares, keyOf: () => 'a' },
    });
    const one = runOrdered([0, 1, 2], opts(0));
    const two = runOrdered([0, 1, 2], opts(10));
    await flush();
    // The heavy item is let in alone (the key held nothing); everything else of the key waits, in both runs.
    expect(gates.started).toEqual([0]);
    gates.finish(0);
    await flush();
    // The light ones of both runs fit the share; the other heavy one waits until the key holds nothing.
    expect([...gates.started].sort((x, y) => x - y)).toEqual([0, 1, 2, 11, 12]);
    gates.finish(1, 2, 11);
    await flush();
    expect(gates.started).not.toContain(10);
    gates.finish(12);
    await flush();
    expect(gates.started).toContain(10);
    gates.finish(10);
    await Promise.all([one, two]);
    expect(shares.holding('a')).toBe(0);
  });

  it('gives the share back when an item fails or the run stops', async () => {
    const gates = new Gates();
    const shares = new KeyedShares(1);
    let stop = false;
    const run = runOrdered([0, 1, 2], { concurrency: 3, shouldStop: () => stop, isStop: (e) => e instanceof Stop, process: gates.process, onDonePrefix: () => undefined, shares: { of: shares, keyOf: () => 'a' } });
    await flush();
    expect(gates.started).toEqual([0]);
    stop = true;
    gates.fail(0, new Stop());
    await expect(run).resolves.toMatchObject({ donePrefix: 0, halted: true });
    expect(gates.started).toEqual([0]);
    expect(shares.holding('a')).toBe(0);
  });
});
