import { mergePartial } from './merge';
import { Partial } from '@pipeline/contract';
import { compareCodePoints, dateTimeTextToMinute, emptyWindowState, fromRow, minuteToDateTimeText, toRow, StoredWindowRow, cloneWindowState } from './window-state';

const partial = (batchId: string, byPath: Record<string, number>, byUa: Record<string, number>): Partial => ({
  v: 1,
  batchId,
  customerId: 'cus-axon',
  windowStart: '2025-12-28T18:03Z',
  windowSize: 'minute',
  total: Object.values(byPath).reduce((a, b) => a + b, 0),
  requestsByPath: byPath,
  requestsByUserAgent: byUa,
});

describe('window state rows', () => {
  it('turns a state into a row with sorted parallel arrays and sorted batch ids', () => {
    const s = emptyWindowState('cus-axon', '2025-12-28T18:03Z');
    mergePartial(s, partial('b2', { 'GET /contact': 1, 'GET /': 2 }, { curl: 2, Chrome: 1 }));
    mergePartial(s, partial('b1', { 'GET /about': 1 }, { Googlebot: 1 }));
    s.revision = 9;
    expect(toRow(s)).toEqual({
      customer_id: 'cus-axon',
      window_start: '2025-12-28 18:03:00',
      revision: 9,
      total_requests: 4,
      path_keys: ['GET /', 'GET /about', 'GET /contact'],
      path_counts: [2, 1, 1],
      ua_keys: ['Chrome', 'Googlebot', 'curl'],
      ua_counts: [1, 1, 2],
      batch_ids: ['b1', 'b2'],
    });
  });

  it('reads back what it wrote, with 64-bit integers as strings', () => {
    const s = emptyWindowState('cus-axon', '2025-12-28T18:03Z');
    mergePartial(s, partial('b1', { 'GET /': 3 }, { Other: 3 }));
    s.revision = 12;
    const row = toRow(s);
    const stored: StoredWindowRow = { ...row, revision: '12', total_requests: '3', path_counts: ['3'], ua_counts: ['3'] };
    // Read back, the ids are written ones.
    expect(fromRow(stored)).toEqual({ ...s, mergedIds: new Set(['b1']), newIds: new Set() });
  });

  it('refuses a stored row that does not add up', () => {
    const row: StoredWindowRow = { customer_id: 'c', window_start: '2025-12-28 18:03:00', revision: 1, total_requests: 5, path_keys: ['GET /'], path_counts: [4], ua_keys: ['Other'], ua_counts: [5], batch_ids: ['b'] };
    expect(() => fromRow(row)).toThrow(/does not add up/);
    expect(() => fromRow({ ...row, path_counts: [5, 1] })).toThrow(/different lengths/);
    expect(() => fromRow({ ...row, path_counts: [5], window_start: '2025-12-28 18:03:07' })).toThrow(/window_start/);
  });

  it('converts between minutes and ClickHouse DateTime text', () => {
    expect(minuteToDateTimeText('2025-12-28T18:03Z')).toBe('2025-12-28 18:03:00');
    expect(dateTimeTextToMinute('2025-12-28 18:03:00')).toBe('2025-12-28T18:03Z');
    expect(dateTimeTextToMinute('2025-12-28 18:03:01')).toBeNull();
    expect(dateTimeTextToMinute('2025-02-30 18:03:00')).toBeNull();
    // ClickHouse 18.16 writes the DateTime 0 so; current releases write 1970-01-01 00:00:00.
    expect(dateTimeTextToMinute('0000-00-00 00:00:00')).toBe('1970-01-01T00:00Z');
    expect(dateTimeTextToMinute('1970-01-01 00:00:00')).toBe('1970-01-01T00:00Z');
    expect(dateTimeTextToMinute('0000-00-00 00:01:00')).toBeNull();
    expect(() => minuteToDateTimeText('2025-12-28T18:03:00Z')).toThrow();
  });

  it('orders keys by code point, as ClickHouse orders their UTF-8 bytes', () => {
    const keys = ['😀', '\uffff', 'é', 'Z', 'a', '', '\ue000', '𝔸'];
    const utf8Order = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect([...keys].sort(compareCodePoints)).toEqual(utf8Order);
    expect(utf8Order).toEqual(['', 'Z', 'a', 'é', '\ue000', '\uffff', '𝔸', '😀']);
    const s = emptyWindowState('cus-axon', '2025-12-28T18:03Z');
    mergePartial(s, partial('b1', { 'GET /😀': 1, 'GET /\uffff': 2 }, { Other: 3 }));
    expect(toRow(s).path_keys).toEqual(['GET /\uffff', 'GET /😀']);
  });

  it('clones deeply', () => {
    const s = emptyWindowState('cus-axon', '2025-12-28T18:03Z');
    const c = cloneWindowState(s);
    mergePartial(c, partial('b1', { 'GET /': 1 }, { Other: 1 }));
    expect(s.total).toBe(0);
    expect(s.mergedIds.size).toBe(0);
    expect(s.byPath.size).toBe(0);
  });
});
