import { LRUCache } from 'lru-cache';
import { WindowState, windowStateKey } from './window-state';

export interface WindowStateCacheOptions {
  /** Most bytes (estimated) of window states held at once; the least recently used leave first. */
  maxBytes: number;
  /** A window untouched for this long leaves memory. */
  idleEvictMs: number;
  /** Clock for idle eviction (milliseconds, monotonic); tests pass their own. */
  now?: () => number;
}

/**
 * The durable window states this instance holds in memory. Only states that have been written
 * are put here, so dropping any of them at any time is safe: the next partial of an evicted
 * window reloads its state from the store. That is what keeps memory bounded.
 */
export class WindowStateCache {
  private readonly cache: LRUCache<string, WindowState>;

  constructor(options: WindowStateCacheOptions) {
    if (!Number.isSafeInteger(options.maxBytes) || options.maxBytes < 1) throw new Error('maxBytes must be a positive integer');
    if (!(options.idleEvictMs > 0)) throw new Error('idleEvictMs must be positive');
    this.cache = new LRUCache<string, WindowState>({
      maxSize: options.maxBytes,
      // A state larger than the whole budget is simply not kept: it reloads when next touched.
      sizeCalculation: (state) => Math.max(1, estimatedBytes(state)),
      ttl: options.idleEvictMs,
      updateAgeOnGet: true,
      ttlAutopurge: false,
      // No cached clock reading: idle time is measured on every access.
      ttlResolution: 0,
      ...(options.now ? { perf: { now: options.now } } : {}),
    });
  }

  get(key: string): WindowState | undefined {
    return this.cache.get(key);
  }

  /** Holds a state that has just been made durable (its revision was written). */
  put(state: WindowState): void {
    if (state.revision <= 0) throw new Error(`window ${windowStateKey(state)} was never written; only durable states are cached`);
    if (state.newIds.size > 0) throw new Error(`window ${windowStateKey(state)} has unwritten ids; only durable states are cached`);
    this.cache.set(windowStateKey(state), state);
  }

  delete(key: string): void {
    this.cache.delete(key);
  }

  clear(): void {
    this.cache.clear();
  }

  /** Drops idle windows now and returns how many remain. */
  evictIdle(): number {
    this.cache.purgeStale();
    return this.cache.size;
  }

  get size(): number {
    return this.cache.size;
  }

  /** Estimated bytes held. */
  get bytes(): number {
    return this.cache.calculatedSize;
  }
}

/** Heap bytes a state takes, roughly: strings at two bytes a character plus per-entry overhead. */
export function estimatedBytes(state: WindowState): number {
  let bytes = 200 + 2 * (state.customerId.length + state.windowStart.length);
  for (const key of state.byPath.keys()) bytes += 2 * key.length + 80;
  for (const key of state.byUserAgent.keys()) bytes += 2 * key.length + 80;
  // Ids are of a similar length; estimating from the first keeps this cheap for a hot window.
  const [first] = state.mergedIds;
  if (first !== undefined) bytes += state.mergedIds.size * (2 * first.length + 60);
  return bytes;
}
