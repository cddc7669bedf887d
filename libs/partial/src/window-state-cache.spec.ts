import { emptyWindowState, WindowState } from './window-state';
import { WindowStateCache } from './window-state-cache';

const written = (minute: string): WindowState => ({ ...emptyWindowState('cus-axon', minute), revision: 1 });

describe('WindowStateCache', () => {
  it('holds at most maxWindows, dropping the least recently used', () => {
    const cache = new WindowStateCache({ maxWindows: 2, idleEvictMs: 60_000 });
    cache.put(written('2025-12-28T18:01Z'));
    cache.put(written('2025-12-28T18:02Z'));
    expect(cache.get('cus-axon|2025-12-28T18:01Z')).toBeDefined(); // 18:02 is now the least recent
    cache.put(written('2025-12-28T18:03Z'));
    expect(cache.size).toBe(2);
    expect(cache.get('cus-axon|2025-12-28T18:02Z')).toBeUndefined();
    expect(cache.get('cus-axon|2025-12-28T18:01Z')).toBeDefined();
  });

  it('evicts windows left idle', () => {
    let now = 1_000;
    const cache = new WindowStateCache({ maxWindows: 10, idleEvictMs: 500, now: () => now });
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
    const cache = new WindowStateCache({ maxWindows: 10, idleEvictMs: 500 });
    expect(() => cache.put(emptyWindowState('cus-axon', '2025-12-28T18:01Z'))).toThrow(/never written/);
  });

  it('forgets everything on clear', () => {
    const cache = new WindowStateCache({ maxWindows: 10, idleEvictMs: 500 });
    cache.put(written('2025-12-28T18:01Z'));
    cache.clear();
    expect(cache.size).toBe(0);
  });
});
