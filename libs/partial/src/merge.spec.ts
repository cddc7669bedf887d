import { mergeBatch, mergePartial, KnownWindow, OffsetPartial, isLate } from './merge';
import { Partial } from '@pipeline/contract';
import { cloneWindowState, emptyWindowState, markWritten, toRow, WindowState, windowStateKey } from './window-state';

const partial = (batchId: string, windowStart = '2025-12-28T18:03Z', byPath: Record<string, number> = { 'GET /': 2, 'GET /about': 1 }, byUa: Record<string, number> = { Chrome: 1, curl: 2 }, customerId = 'cus-axon'): Partial => ({
  v: 1,
  batchId,
  customerId,
  windowStart,
  windowSize: 'minute',
  total: Object.values(byPath).reduce((a, b) => a + b, 0),
  requestsByPath: byPath,
  requestsByUserAgent: byUa,
});

const known = (states: WindowState[], source: KnownWindow['source'] = 'memory') => new Map(states.map((s) => [windowStateKey(s), { state: s, source }]));
const fresh = (...windows: Array<[string, string]>) => known(windows.map(([c, w]) => emptyWindowState(c, w)), 'store');
const items = (...partials: Partial[]): OffsetPartial[] => partials.map((partial, i) => ({ offset: 100 + i, partial }));

describe('mergePartial', () => {
  it('adds counts and remembers the batch', () => {
    const s = emptyWindowState('cus-axon', '2025-12-28T18:03Z');
    expect(mergePartial(s, partial('b1'))).toBe('merged');
    expect(s.total).toBe(3);
    expect(Object.fromEntries(s.byPath)).toEqual({ 'GET /': 2, 'GET /about': 1 });
    expect(Object.fromEntries(s.byUserAgent)).toEqual({ Chrome: 1, curl: 2 });
    expect([...s.newIds]).toEqual(['b1']);
    expect(s.mergedIds.size).toBe(0);
  });

  it('ignores the same batch a second time, leaving the counts as they were', () => {
    const s = emptyWindowState('cus-axon', '2025-12-28T18:03Z');
    mergePartial(s, partial('b1'));
    const before = toRow(s);
    expect(mergePartial(s, partial('b1'))).toBe('duplicate');
    expect(toRow(s)).toEqual(before);
  });

  it('sums many batches exactly, whatever their order and repetitions', () => {
    const batches = Array.from({ length: 500 }, (_, i) => partial(`batch-${String(i).padStart(6, '0')}`, '2025-12-28T18:03Z', { 'GET /': (i % 3) + 1 }, { Firefox: (i % 3) + 1 }));
    const expectedTotal = batches.reduce((a, p) => a + p.total, 0);
    const shuffled = [...batches, ...batches.slice(0, 200)].sort((a, b) => ((a.batchId.charCodeAt(11) * 7919) % 13) - ((b.batchId.charCodeAt(11) * 7919) % 13));
    const s = emptyWindowState('cus-axon', '2025-12-28T18:03Z');
    const outcomes = shuffled.map((p) => mergePartial(s, p));
    expect(outcomes.filter((o) => o === 'merged')).toHaveLength(500);
    expect(outcomes.filter((o) => o === 'duplicate')).toHaveLength(200);
    expect(s.total).toBe(expectedTotal);
    expect(s.byPath.get('GET /')).toBe(expectedTotal);
    expect(s.byUserAgent.get('Firefox')).toBe(expectedTotal);
    expect(s.newIds.size).toBe(500);
  });

  it('refuses a partial of another window', () => {
    const s = emptyWindowState('cus-axon', '2025-12-28T18:03Z');
    expect(() => mergePartial(s, partial('b1', '2025-12-28T18:04Z'))).toThrow(/merged into/);
    expect(() => mergePartial(s, partial('b1', '2025-12-28T18:03Z', undefined, undefined, 'cus-other'))).toThrow(/merged into/);
    expect(s.total).toBe(0);
  });
});

describe('working copies', () => {
  it('share the written ids, add only new ones, and leave the original untouched until written', () => {
    const written = { ...emptyWindowState('cus-axon', '2025-12-28T18:03Z'), revision: 4, mergedIds: new Set(['b1']) };
    const copy = cloneWindowState(written);
    expect(mergePartial(copy, partial('b1'))).toBe('duplicate');
    expect(mergePartial(copy, partial('b2'))).toBe('merged');
    expect([...written.mergedIds]).toEqual(['b1']);
    expect([...copy.newIds]).toEqual(['b2']);
    expect(toRow(copy).batch_ids).toEqual(['b2']);
    markWritten(copy);
    expect([[...copy.mergedIds].sort(), copy.newIds.size]).toEqual([['b1', 'b2'], 0]);
  });
});

describe('mergeBatch', () => {
  it('keeps interleaved windows apart and writes one new revision per changed window', () => {
    const w1 = ['cus-axon', '2025-12-28T18:03Z'] as [string, string];
    const w2 = ['cus-axon', '2025-12-28T18:04Z'] as [string, string];
    const w3 = ['cus-beta', '2025-12-28T18:03Z'] as [string, string];
    const r = mergeBatch({
      items: items(partial('b1', w1[1]), partial('b1', w2[1]), partial('b2', w1[1]), partial('b1', w3[1], undefined, undefined, 'cus-beta'), partial('b3', w2[1])),
      known: fresh(w1, w2, w3),
      allowedLatenessMs: 300_000,
    });
    expect(r.merged).toBe(5);
    expect(r.duplicates).toBe(0);
    const byKey = new Map(r.changed.map((s) => [windowStateKey(s), s]));
    expect(byKey.get('cus-axon|2025-12-28T18:03Z')!.total).toBe(6);
    expect([...byKey.get('cus-axon|2025-12-28T18:03Z')!.newIds].sort()).toEqual(['b1', 'b2']);
    expect(byKey.get('cus-axon|2025-12-28T18:04Z')!.total).toBe(6);
    expect(byKey.get('cus-beta|2025-12-28T18:03Z')!.total).toBe(3);
    // revision = last offset of the window in the batch + 1
    expect(byKey.get('cus-axon|2025-12-28T18:03Z')!.revision).toBe(103);
    expect(byKey.get('cus-axon|2025-12-28T18:04Z')!.revision).toBe(105);
    expect(byKey.get('cus-beta|2025-12-28T18:03Z')!.revision).toBe(104);
  });

  it('does not touch the known states (a failed write leaves memory as it was)', () => {
    const base = emptyWindowState('cus-axon', '2025-12-28T18:03Z');
    mergePartial(base, partial('b0'));
    base.revision = 7;
    const snapshot = toRow(base);
    const r = mergeBatch({ items: items(partial('b1')), known: known([base]), allowedLatenessMs: 0 });
    expect(r.changed[0].total).toBe(6);
    expect(toRow(base)).toEqual(snapshot);
  });

  it('writes nothing when every partial was already merged (full redelivery)', () => {
    const base = emptyWindowState('cus-axon', '2025-12-28T18:03Z');
    mergePartial(base, partial('b1'));
    mergePartial(base, partial('b2'));
    base.revision = 102;
    const r = mergeBatch({ items: items(partial('b1'), partial('b2')), known: known([base], 'store'), allowedLatenessMs: 0 });
    expect(r.changed).toEqual([]);
    expect(r.duplicates).toBe(2);
    expect(r.merged).toBe(0);
    expect(r.late).toBe(0);
  });

  it('ignores a batch repeated inside one fetched batch', () => {
    const r = mergeBatch({ items: items(partial('b1'), partial('b1'), partial('b2'), partial('b1')), known: fresh(['cus-axon', '2025-12-28T18:03Z']), allowedLatenessMs: 0 });
    expect(r.merged).toBe(2);
    expect(r.duplicates).toBe(2);
    expect(r.changed[0].total).toBe(6);
    expect(r.outcomes.map((o) => o.outcome)).toEqual(['merged', 'duplicate', 'merged', 'duplicate']);
  });

  it('never lowers a revision, even when offsets are behind it (topic repartitioned)', () => {
    const base = emptyWindowState('cus-axon', '2025-12-28T18:03Z');
    base.revision = 5_000;
    mergePartial(base, partial('b0'));
    const r = mergeBatch({ items: items(partial('b1')), known: known([base]), allowedLatenessMs: 0 });
    expect(r.changed[0].revision).toBe(5_001);
  });

  it('gives a revision that says which offsets a row holds, so racing writers agree', () => {
    // Writer A (lost its partition while writing) and writer B (new owner) both merge offsets 100..101
    // on top of the same durable state: same revision, same contents.
    const base = emptyWindowState('cus-axon', '2025-12-28T18:03Z');
    mergePartial(base, partial('b0'));
    base.revision = 50;
    const batch = items(partial('b1'), partial('b2'));
    const a = mergeBatch({ items: batch, known: known([base]), allowedLatenessMs: 0 }).changed[0];
    const b = mergeBatch({ items: batch, known: known([base], 'store'), allowedLatenessMs: 0 }).changed[0];
    expect(toRow(a)).toEqual(toRow(b));
    // B already loaded A's row: everything is a duplicate, nothing is written over it.
    expect(mergeBatch({ items: batch, known: known([a], 'store'), allowedLatenessMs: 0 }).changed).toEqual([]);
  });

  it('advances the partition watermark with event time only', () => {
    const r = mergeBatch({
      items: items(partial('b1', '2025-12-28T18:05Z'), partial('b2', '2025-12-28T18:03Z')),
      known: fresh(['cus-axon', '2025-12-28T18:05Z'], ['cus-axon', '2025-12-28T18:03Z']),
      watermarkMs: Date.parse('2025-12-28T18:04:00Z'),
      allowedLatenessMs: 0,
    });
    expect(r.watermarkMs).toBe(Date.parse('2025-12-28T18:05:00Z'));
  });

  it('refuses to merge a window it was not given a state for', () => {
    expect(() => mergeBatch({ items: items(partial('b1')), known: new Map(), allowedLatenessMs: 0 })).toThrow(/no known state/);
  });
});

describe('late partials', () => {
  const written = (windowStart: string) => {
    const s = emptyWindowState('cus-axon', windowStart);
    mergePartial(s, partial('b0', windowStart));
    s.revision = 1;
    return s;
  };

  it('are not late when the window was never written', () => {
    const r = mergeBatch({ items: items(partial('b1', '2024-01-01T00:00Z')), known: fresh(['cus-axon', '2024-01-01T00:00Z']), watermarkMs: Date.parse('2025-12-28T18:00:00Z'), allowedLatenessMs: 0 });
    expect(r.late).toBe(0);
  });

  it('are late when the written window was reloaded from the store (however old it is)', () => {
    const r = mergeBatch({ items: items(partial('b1', '2024-01-01T00:00Z')), known: known([written('2024-01-01T00:00Z')], 'store'), allowedLatenessMs: 300_000 });
    expect(r.late).toBe(1);
    expect(r.changed[0].total).toBe(6);
    expect(r.outcomes[0]).toMatchObject({ outcome: 'merged', late: true });
  });

  it('are late when a window still in memory ended more than the allowed lateness behind the watermark', () => {
    const w = written('2025-12-28T18:03Z');
    const onTime = mergeBatch({ items: items(partial('b1', '2025-12-28T18:03Z')), known: known([w]), watermarkMs: Date.parse('2025-12-28T18:09:00Z'), allowedLatenessMs: 300_000 });
    expect(onTime.late).toBe(0);
    const lateOne = mergeBatch({ items: items(partial('b1', '2025-12-28T18:03Z')), known: known([w]), watermarkMs: Date.parse('2025-12-28T18:09:01Z'), allowedLatenessMs: 300_000 });
    expect(lateOne.late).toBe(1);
  });

  it('count only merged partials: a late duplicate is just a duplicate', () => {
    const r = mergeBatch({ items: items(partial('b0', '2024-01-01T00:00Z')), known: known([written('2024-01-01T00:00Z')], 'store'), allowedLatenessMs: 0 });
    expect(r).toMatchObject({ late: 0, duplicates: 1, merged: 0 });
  });

  it('isLate compares data time only', () => {
    const w = { state: written('2025-12-28T18:03Z'), source: 'memory' as const };
    const start = Date.parse('2025-12-28T18:03:00Z');
    expect(isLate(w, start, undefined, 0)).toBe(false);
    expect(isLate(w, start, start + 60_000, 0)).toBe(false);
    expect(isLate(w, start, start + 60_001, 0)).toBe(true);
  });
});
