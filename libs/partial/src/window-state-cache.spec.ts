import { emptyWindowState, WindowState } from './window-state';
import { estimatedBytes, WindowStateCache } from './window-state-cache';

const written = (minute: string): WindowState => ({ ...emptyWindowState('cus-axon', minute), revision: 1 });

describe('WindowStateCache', () => {
  it('holds at most maxBytes, dropping the least recently used', () => {
    const one = estimatedBytes(written('2025-12-28T18:01Z'));
    const cache = new WindowStateCache({ maxBytes: 2 * one, idleEvictMs: 60_000 });
    cache.put(written('2025-12-28T18:01Z'));
    cache.put(written('2025-12-28T18:02Z'));
    expect(cache.get('cus-axon|2025-12-28T18:01Z')).toBeDefined(); // 18:02 is now the least recent
    cache.put(written('2025-12-28T18:03Z'));
    expect(cache.size).toBe(2);
    expect(cache.get('cus-axon|2025-12-28T18:02Z')).toBeUndefined();
    expect(cache.get('cus-axon|2025-12-28T18:01Z')).toBeDefined();
    expect(cache.bytes).toBe(2 * one);
  });

  it('weighs states by their keys and ids, and keeps none larger than the whole budget', () => {
    const small = written('2025-12-28T18:01Z');
    const big = { ...written('2025-12-28T18:02Z'), byPath: new Map(Array.from({ length: 1_000 }, (_, i) => [`GET /${i}/${'x'.repeat(100)}`, 1] as [string, number])) };
    expect(estimatedBytes(big)).toBeGreaterThan(200_000);
    const cache = new WindowStateCache({ maxBytes: 100_000, idleEvictMs: 60_000 });
    cache.put(small);
    cache.put(big);
    expect(cache.get('cus-axon|2025-12-28T18:02Z')).toBeUndefined();
    expect(cache.get('cus-axon|2025-12-28T18:01Z')).toBe(small);
  });

  it('evicts windows left idle', () => {
    let now = 1_000;
    const cache = new WindowStateCache({ maxBytes: 1_000_000, idleEvictMs: 500, now: () => now });
    cache.put(written('2025-12-28T18:01Z'));
    cache.put(written('2025-12-28T18:02Z'));
    now += 400;
    cache.get('cus-axon|2025-12-28T18:02Z');
    now += 200;
    expect(cache.evictIdle()).toBe(1);
    expect(cache.get('cus-axon|2025-12-28T18:01Z')).toBeUndefined();
    expect(cache.get('cus-axon|2025-12-28T18:02Z')).toBeDefined();
  });

  it('only holds durable states', () => {
    const cache = new WindowStateCache({ maxBytes: 1_000_000, idleEvictMs: 500 });
    expect(() => cache.put(emptyWindowState('cus-axon', '2025-12-28T18:01Z'))).toThrow(/never written/);
  });

  it('forgets everything on clear', () => {
    const cache = new WindowStateCache({ maxBytes: 1_000_000, idleEvictMs: 500 });
    cache.put(written('2025-12-28T18:01Z'));
    cache.clear();
    expect(cache.size).toBe(0);
  });
});
