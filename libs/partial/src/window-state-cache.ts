import { LRUCache } from 'lru-cache';
import { WindowState, windowStateKey } from './window-state';

export interface WindowStateCacheOptions {
  /** Most windows held at once; the least recently used one leaves first. */
  maxWindows: number;
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
    if (!Number.isSafeInteger(options.maxWindows) || options.maxWindows < 1) throw new Error('maxWindows must be a positive integer');
    if (!(options.idleEvictMs > 0)) throw new Error('idleEvictMs must be positive');
    this.cache = new LRUCache<string, WindowState>({
      max: options.maxWindows,
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
}
