import { Partial } from '@pipeline/contract';
import { aggregatePartials, fromAggregateRows, rollup } from './rollup';

const partial = (batchId: string, windowStart: string, byPath: Record<string, number>, byUa: Record<string, number>, customerId = 'cus-axon'): Partial => ({
  v: 1,
  batchId,
  customerId,
  windowStart,
  windowSize: 'minute',
  total: Object.values(byPath).reduce((a, b) => a + b, 0),
  requestsByPath: byPath,
  requestsByUserAgent: byUa,
});

describe('aggregatePartials', () => {
  it('counts each batch once per window and sorts keys and windows', () => {
    const aggs = aggregatePartials([
      partial('b1', '2025-12-28T18:04Z', { 'GET /': 1 }, { curl: 1 }),
      partial('b1', '2025-12-28T18:03Z', { 'GET /about': 2, 'GET /': 1 }, { Chrome: 3 }),
      partial('b1', '2025-12-28T18:03Z', { 'GET /about': 2, 'GET /': 1 }, { Chrome: 3 }),
      partial('b2', '2025-12-28T18:03Z', { 'GET /': 1 }, { curl: 1 }),
    ]);
    expect(aggs).toEqual([
      { customerId: 'cus-axon', windowStart: '2025-12-28T18:03Z', total: 4, byPath: { 'GET /': 2, 'GET /about': 2 }, byUserAgent: { Chrome: 3, curl: 1 } },
      { customerId: 'cus-axon', windowStart: '2025-12-28T18:04Z', total: 1, byPath: { 'GET /': 1 }, byUserAgent: { curl: 1 } },
    ]);
    expect(Object.keys(aggs[0].byPath)).toEqual(['GET /', 'GET /about']);
  });
});

describe('rollup', () => {
  const minutes = aggregatePartials([
    partial('b1', '2025-12-28T18:03Z', { 'GET /': 4 }, { Chrome: 4 }),
    partial('b1', '2025-12-28T18:59Z', { 'GET /': 1, 'POST /x': 1 }, { curl: 2 }),
    partial('b2', '2025-12-28T19:00Z', { 'GET /': 5 }, { Chrome: 5 }),
    partial('b3', '2025-12-29T00:00Z', { 'GET /': 7 }, { Firefox: 7 }),
    partial('b3', '2025-12-28T18:03Z', { 'GET /': 3 }, { Other: 3 }, 'cus-beta'),
  ]);

  it('sums minutes into hours per customer', () => {
    expect(rollup(minutes, 'hour')).toEqual([
      { customerId: 'cus-axon', windowStart: '2025-12-28T18:00Z', total: 6, byPath: { 'GET /': 5, 'POST /x': 1 }, byUserAgent: { Chrome: 4, curl: 2 } },
      { customerId: 'cus-axon', windowStart: '2025-12-28T19:00Z', total: 5, byPath: { 'GET /': 5 }, byUserAgent: { Chrome: 5 } },
      { customerId: 'cus-axon', windowStart: '2025-12-29T00:00Z', total: 7, byPath: { 'GET /': 7 }, byUserAgent: { Firefox: 7 } },
      { customerId: 'cus-beta', windowStart: '2025-12-28T18:00Z', total: 3, byPath: { 'GET /': 3 }, byUserAgent: { Other: 3 } },
    ]);
  });

  it('sums minutes into UTC days', () => {
    const days = rollup(minutes, 'day');
    expect(days.map((d) => [d.customerId, d.windowStart, d.total])).toEqual([
      ['cus-axon', '2025-12-28T00:00Z', 11],
      ['cus-axon', '2025-12-29T00:00Z', 7],
      ['cus-beta', '2025-12-28T00:00Z', 3],
    ]);
    expect(rollup(rollup(minutes, 'hour'), 'day')).toEqual(days);
  });

  it('reproduces the reference scenario totals', () => {
    const paths = ['/', '/about', '/careers', '/contact'];
    const uas = ['Chrome', 'Firefox', 'Googlebot', 'curl'];
    const mins = ['18:03', '18:04', '18:05', '18:06'];
    const parts: Partial[] = [];
    for (const m of mins) for (let b = 0; b < 100; b++) parts.push(partial(`batch-${b}`, `2025-12-28T${m}Z`, Object.fromEntries(paths.map((p) => [`GET ${p}`, 40])), Object.fromEntries(uas.map((u) => [u, 40]))));
    const [hour] = rollup(aggregatePartials([...parts, ...parts]), 'hour');
    expect(hour.total).toBe(64_000);
    expect(Object.values(hour.byPath)).toEqual([16_000, 16_000, 16_000, 16_000]);
  });

  it('reads query-surface rows back into the same shape', () => {
    expect(
      fromAggregateRows([
        { customer_id: 'cus-axon', window_start: '2025-12-28 19:00:00', total_requests: '5', path_keys: ['GET /'], path_counts: ['5'], ua_keys: ['Chrome'], ua_counts: ['5'] },
        { customer_id: 'cus-axon', window_start: '2025-12-28 18:00:00', total_requests: '6', path_keys: ['GET /', 'POST /x'], path_counts: ['5', '1'], ua_keys: ['Chrome', 'curl'], ua_counts: ['4', '2'] },
      ]),
    ).toEqual(rollup(minutes, 'hour').slice(0, 2));
  });

  it('refuses a window start that is not a minute', () => {
    expect(() => rollup([{ customerId: 'c', windowStart: '2025-12-28', total: 1, byPath: {}, byUserAgent: {} }], 'hour')).toThrow(/not a minute/);
  });
});
