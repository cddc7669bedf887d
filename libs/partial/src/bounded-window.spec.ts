import fc from 'fast-check';
import { Partial } from '@pipeline/contract';
import { KnownWindow, mergeBatch, mergePartial, OffsetPartial, OTHER_PATH_KEY } from './merge';
import { emptyWindowState, markWritten, toRow, WindowState, windowStateKey } from './window-state';

const WINDOW = '2025-12-28T18:03Z';

const partial = (batchId: string, byPath: Record<string, number>): Partial => {
  const total = Object.values(byPath).reduce((a, b) => a + b, 0);
  return { v: 1, batchId, customerId: 'cus-axon', windowStart: WINDOW, windowSize: 'minute', total, requestsByPath: byPath, requestsByUserAgent: { curl: total } };
};

const sumOf = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

describe('a window of at most N distinct paths', () => {
  it('keeps the keys it admitted and counts new keys beyond the cap under (other), the total exact', () => {
    const s = emptyWindowState('cus-axon', WINDOW);
    mergePartial(s, partial('b1', { 'GET /a': 1, 'GET /b': 2 }), 3);
    mergePartial(s, partial('b2', { 'GET /c': 3, 'GET /d': 4, 'GET /a': 5 }), 3);
    mergePartial(s, partial('b3', { 'GET /e': 6, 'GET /b': 7 }), 3);
    expect(Object.fromEntries(s.byPath)).toEqual({ 'GET /a': 6, 'GET /b': 9, 'GET /c': 3, [OTHER_PATH_KEY]: 10 });
    expect(s.total).toBe(28);
    expect(sumOf(s.byPath)).toBe(28);
    expect(s.byUserAgent.get('curl')).toBe(28);
  });

  it('gives the free places to a partial\'s new keys in code-point order, however its JSON lists them', () => {
    const counts: Array<[string, number]> = [
      ['GET /😀', 1],
      ['GET /\uffff', 3],
      ['GET /z', 2],
    ];
    const rows = [counts, [...counts].reverse(), [counts[1], counts[2], counts[0]]].map((order) => {
      const s = emptyWindowState('cus-axon', WINDOW);
      mergePartial(s, partial('b0', { 'GET /held': 1 }), 3);
      mergePartial(s, partial('b1', Object.fromEntries(order)), 3);
      return toRow(s);
    });
    expect(rows[1]).toEqual(rows[0]);
    expect(rows[2]).toEqual(rows[0]);
    // Two places: /z, then U+FFFF, which comes before the emoji in code points (not in UTF-16 code units).
    expect(rows[0].path_keys).toEqual([OTHER_PATH_KEY, 'GET /held', 'GET /z', 'GET /\uffff']);
    expect(rows[0].path_counts).toEqual([1, 1, 2, 3]);
  });

  it('counts an (other) key that arrives in a partial without giving it a place', () => {
    const s = emptyWindowState('cus-axon', WINDOW);
    mergePartial(s, partial('b1', { [OTHER_PATH_KEY]: 5, 'GET /a': 1 }), 1);
    mergePartial(s, partial('b2', { 'GET /b': 2 }), 1);
    expect(Object.fromEntries(s.byPath)).toEqual({ 'GET /a': 1, [OTHER_PATH_KEY]: 7 });
  });

  it('keeps every key of a window stored before the cap, and folds only new ones', () => {
    const s = emptyWindowState('cus-axon', WINDOW);
    mergePartial(s, partial('b1', { 'GET /a': 1, 'GET /b': 1, 'GET /c': 1 }), 10);
    markWritten(s);
    mergePartial(s, partial('b2', { 'GET /a': 1, 'GET /d': 1 }), 2);
    expect(Object.fromEntries(s.byPath)).toEqual({ 'GET /a': 2, 'GET /b': 1, 'GET /c': 1, [OTHER_PATH_KEY]: 1 });
  });

  it('reports what it folded, and the revision row stays within the cap however many paths arrive', () => {
    const base = emptyWindowState('cus-axon', WINDOW);
    const known = new Map<string, KnownWindow>([[windowStateKey(base), { state: base, source: 'store' }]]);
    const items: OffsetPartial[] = Array.from({ length: 5 }, (_, b) => ({
      offset: b,
      partial: partial(`b${b}`, Object.fromEntries(Array.from({ length: 4_000 }, (_, i) => [`GET /p/${b}/${String(i).padStart(4, '0')}`, 1]))),
    }));
    const r = mergeBatch({ items, known, allowedLatenessMs: 0, maxPathsPerWindow: 10_000 });
    expect(r.folded).toEqual({ paths: 10_000, requests: 10_000 });
    const row = toRow(r.changed[0]);
    expect(row.path_keys).toHaveLength(10_001);
    expect(row.total_requests).toBe(20_000);
    expect(row.path_counts.reduce((a, b) => a + b, 0)).toBe(20_000);
    expect(row.path_counts[row.path_keys.indexOf(OTHER_PATH_KEY)]).toBe(10_000);
  });

  /**
   * The partials of one partition in offset order, cut into fetched batches anywhere, each batch
   * possibly delivered again (a crash before the commit) or merged by a second writer from the last
   * durable revision: every way ends in the same counts, every revision holds at most the cap, and
   * no key's count ever goes down from one revision to the next.
   */
  it('gives the same counts per key for any batching and redelivery, bounded and monotone', () => {
    const cap = 4;
    const keyPool = ['GET /a', 'GET /b', 'GET /c', 'GET /d', 'GET /e', 'GET /f', 'GET /g', 'POST /a', 'GET /😀', 'GET /\uffff'];
    const partialArb = fc.dictionary(fc.constantFrom(...keyPool), fc.integer({ min: 1, max: 5 }), { minKeys: 1, maxKeys: 6 });
    fc.assert(
      fc.property(
        fc.array(partialArb, { minLength: 1, maxLength: 25 }),
        fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 25 }),
        fc.array(fc.boolean(), { minLength: 25, maxLength: 25 }),
        (paths, cuts, redeliver) => {
          const all: OffsetPartial[] = paths.map((byPath, i) => ({ offset: i, partial: partial(`b${i}`, byPath) }));
          // One fold, one partial at a time, no redelivery.
          const reference = emptyWindowState('cus-axon', WINDOW);
          for (const { partial: p } of all) mergePartial(reference, p, cap);

          let durable: WindowState = emptyWindowState('cus-axon', WINDOW);
          const key = windowStateKey(durable);
          let from = 0;
          let previous = new Map<string, number>();
          for (let b = 0; from < all.length; b++) {
            const batch = all.slice(from, from + cuts[b % cuts.length]);
            const run = () => mergeBatch({ items: batch, known: new Map([[key, { state: durable, source: 'memory' as const }]]), allowedLatenessMs: 0, maxPathsPerWindow: cap });
            const first = run();
            // Another writer merging the same batch from the same revision writes the same row.
            expect(toRow(run().changed[0])).toEqual(toRow(first.changed[0]));
            durable = first.changed[0];
            markWritten(durable);
            if (redeliver[b % redeliver.length]) {
              // Redelivered after the write, before the commit: every partial a duplicate.
              const again = mergeBatch({ items: batch, known: new Map([[key, { state: durable, source: 'store' as const }]]), allowedLatenessMs: 0, maxPathsPerWindow: cap });
              expect(again.changed).toEqual([]);
              expect(again.duplicates).toBe(batch.length);
            }
            const held = [...durable.byPath.keys()].filter((k) => k !== OTHER_PATH_KEY);
            expect(held.length).toBeLessThanOrEqual(cap);
            for (const [k, n] of previous) expect(durable.byPath.get(k) ?? 0).toBeGreaterThanOrEqual(n);
            expect(sumOf(durable.byPath)).toBe(durable.total);
            previous = new Map(durable.byPath);
            from += batch.length;
          }
          expect(Object.fromEntries(durable.byPath)).toEqual(Object.fromEntries(reference.byPath));
          expect(durable.total).toBe(paths.reduce((a, m) => a + Object.values(m).reduce((x, y) => x + y, 0), 0));
        },
      ),
    );
  });
});
