import { gunzipSync } from 'node:zlib';
import { UAParser } from 'ua-parser-js';
import { Bots } from 'ua-parser-js/extensions';
import {
  Aggregates,
  WindowCounts,
  batchIdentity,
  batchIndices001,
  entry001,
  expectedPathKey,
  expectedResults,
  expectedStatuses,
  fillBody,
  apiEntryStream,
  MAX_BODY_BYTES,
  rollUp,
  scenario001,
  scenarioCustomerIsolation,
  scenarioDuplicateStorm,
  scenarioGzip,
  scenarioLargeBatches,
  scenarioLateData,
  USER_AGENTS,
  windowId,
  windowsOf,
  withOffset,
} from './index';

const FOUR = { 'GET /': 4000, 'GET /about': 4000, 'GET /careers': 4000, 'GET /contact': 4000 };
const FAMILIES = { Chrome: 4000, Firefox: 4000, Googlebot: 4000, curl: 4000 };
const times = (m: Record<string, number>, k: number) => Object.fromEntries(Object.entries(m).map(([key, n]) => [key, n * k]));

describe('scenario 001 generator', () => {
  const scenario = scenario001();

  it('makes entry k from the formulas of the scenario', () => {
    expect(entry001(0)).toEqual({ receivedAt: '2025-12-28T18:03:00.000Z', method: 'GET', path: '/', userAgent: USER_AGENTS[0][0] });
    // k = 64*61 + 63: bucket 63 -> 18:06, /contact, curl; round 61 -> second 1, ms (63*17+61) mod 1000 = 132
    expect(entry001(64 * 61 + 63)).toEqual({ receivedAt: '2025-12-28T18:06:01.132Z', method: 'GET', path: '/contact', userAgent: 'curl/7.88.1' });
  });

  it('puts every one of the 64,000 entries in exactly one of the 3,200 batches of 20, with the stride', () => {
    expect(batchIndices001(1)).toEqual(Array.from({ length: 20 }, (_, i) => (i * 3201) % 64000));
    expect(batchIndices001(3200)[1]).toBe((3199 * 20 + 3201) % 64000);
    const seen = new Uint8Array(64000);
    for (let b = 1; b <= 3200; b++) for (const k of batchIndices001(b)) seen[k]++;
    expect(seen.every((n) => n === 1)).toBe(true);
    expect(new Set(Array.from({ length: 64000 }, (_, k) => JSON.stringify(entry001(k)))).size).toBe(64000);
  });

  it('sends 5,200 requests in batch order, each of batches 1..2000 twice in a row with the same key and body', () => {
    expect(scenario.sends).toHaveLength(5200);
    expect(scenario.inFlight).toBe(2);
    expect(scenario.sends.slice(0, 4).map((s) => s.idempotencyKey)).toEqual(['batch-000001', 'batch-000001', 'batch-000002', 'batch-000002']);
    expect(scenario.sends[3999].idempotencyKey).toBe('batch-002000');
    expect(scenario.sends.slice(4000).map((s) => s.idempotencyKey)).toEqual(Array.from({ length: 1200 }, (_, i) => `batch-${String(2001 + i).padStart(6, '0')}`));
    expect(scenario.sends[0].body.equals(scenario.sends[1].body)).toBe(true);
    expect(JSON.parse(scenario.sends[0].body.toString())).toEqual(batchIndices001(1).map(entry001));
    expect(new Set(scenario.sends.map((s) => s.customerId))).toEqual(new Set(['cus-axon']));
  });

  it('expects 3,200 answers 202 and 2,000 answers 409', () => {
    expect(expectedStatuses(scenario.sends)).toEqual({ accepted: 3200, duplicates: 2000, refused: {} });
  });

  it('expects four minutes of 16,000 with every path and family at 4,000, and 64,000 for the hour and the day', () => {
    const expected = expectedResults(scenario);
    expect(expected.entries).toBe(64000);
    const minute = { total: 16000, paths: FOUR, uas: FAMILIES };
    expect(windowsOf(expected.minute, 'cus-axon')).toEqual({
      '2025-12-28T18:03Z': minute,
      '2025-12-28T18:04Z': minute,
      '2025-12-28T18:05Z': minute,
      '2025-12-28T18:06Z': minute,
    });
    const all = { total: 64000, paths: times(FOUR, 4), uas: times(FAMILIES, 4) };
    expect(windowsOf(expected.hour, 'cus-axon')).toEqual({ '2025-12-28T18:00Z': all });
    expect(windowsOf(expected.day, 'cus-axon')).toEqual({ '2025-12-28T00:00Z': all });
  });

  it('suffixes the customer when asked, for a shared stack', () => {
    expect(scenario001({ customerSuffix: '.r1' }).customers).toEqual(['cus-axon.r1']);
  });
});

describe('expected results', () => {
  it('cuts the query string and fragment from the path and upper-cases the method', () => {
    const e = { receivedAt: '2025-01-01T00:00:00Z', userAgent: '' };
    expect(expectedPathKey({ ...e, method: 'get', path: '/a?x=1#f' })).toBe('GET /a');
    expect(expectedPathKey({ ...e, method: 'Post', path: '/a#f?x' })).toBe('POST /a');
    expect(expectedPathKey({ ...e, method: 'GET', path: '/café' })).toBe('GET /café');
  });

  it('rolls minutes up into hours and days', () => {
    const minutes: Aggregates = new Map<string, WindowCounts>([
      [windowId('c', Date.parse('2025-01-01T10:59:00Z')), { total: 2, paths: { 'GET /': 2 }, uas: { curl: 2 } }],
      [windowId('c', Date.parse('2025-01-01T11:00:00Z')), { total: 1, paths: { 'GET /': 1 }, uas: { Chrome: 1 } }],
    ]);
    expect(windowsOf(rollUp(minutes, 'hour'), 'c')).toEqual({
      '2025-01-01T10:00Z': { total: 2, paths: { 'GET /': 2 }, uas: { curl: 2 } },
      '2025-01-01T11:00Z': { total: 1, paths: { 'GET /': 1 }, uas: { Chrome: 1 } },
    });
    expect(windowsOf(rollUp(minutes, 'day'), 'c')).toEqual({ '2025-01-01T00:00Z': { total: 3, paths: { 'GET /': 3 }, uas: { curl: 2, Chrome: 1 } } });
  });

  it('names the family each user agent of the table has in ua-parser-js with its extensions', () => {
    const parser = new UAParser(Bots);
    for (const [ua, family] of USER_AGENTS) expect([ua, parser.setUA(ua).getBrowser().name ?? 'Other']).toEqual([ua, family]);
  });

  it('writes a timestamp with an offset that denotes the same instant', () => {
    const at = Date.parse('2025-10-01T12:03:04.005Z');
    expect(withOffset(at, ['+05:30', 330])).toBe('2025-10-01T17:33:04.005+05:30');
    expect(withOffset(at, ['-08:00', -480])).toBe('2025-10-01T04:03:04.005-08:00');
    expect(Date.parse(withOffset(at, ['+14:00', 840]))).toBe(at);
  });
});

describe('large batches', () => {
  const scenario = scenarioLargeBatches({ batches: 4 });

  it('fills bodies close to 2 MiB, every other one exactly 2,097,152 bytes', () => {
    scenario.sends.forEach((send, i) => {
      expect(send.body.length).toBeLessThanOrEqual(MAX_BODY_BYTES);
      if (i % 2 === 0) expect(send.body.length).toBe(MAX_BODY_BYTES);
      else expect(send.body.length).toBeGreaterThan(MAX_BODY_BYTES - 400);
      expect(send.entries.length).toBeGreaterThan(8000);
      expect(JSON.parse(send.body.toString())).toEqual(send.entries);
    });
  });

  it('stops before the entry that would cross the limit', () => {
    const { body, entries } = fillBody(apiEntryStream(1, '2025-01-01T00:00', 1), 1000, false);
    expect(body.length).toBeLessThanOrEqual(1000);
    expect(body.length + JSON.stringify(entries[0]).length + 1).toBeGreaterThan(1000 - 300);
  });
});

describe('gzip bodies', () => {
  const scenario = scenarioGzip({ batches: 30 });

  it('compresses every body and keeps the entries it claims', () => {
    for (const send of scenario.sends.filter((s) => s.expect.kind === 'accepted')) {
      expect(send.contentEncoding).toBe('gzip');
      expect(JSON.parse(gunzipSync(send.body).toString())).toEqual(send.entries);
    }
  });

  it('sends one key-less batch twice and expects it once', () => {
    const keyless = scenario.sends.filter((s) => s.idempotencyKey === undefined);
    expect(keyless).toHaveLength(2);
    expect(batchIdentity(keyless[0])).toBe(batchIdentity(keyless[1]));
    expect(expectedStatuses(scenario.sends)).toEqual({ accepted: 31, duplicates: 1, refused: { 413: 1 } });
  });

  it('makes a bomb that is small on the wire, over 2 MiB inflated, and never counted', () => {
    const bomb = scenario.sends.find((s) => s.expect.kind === 'refused')!;
    expect(bomb.body.length).toBeLessThan(64 * 1024);
    expect(gunzipSync(bomb.body).length).toBeGreaterThan(MAX_BODY_BYTES);
    const minutes = Object.keys(windowsOf(expectedResults(scenario).minute, 'cus-gzip'));
    expect(minutes.every((m) => m.startsWith('2025-10-01T12:0'))).toBe(true);
  });
});

describe('customer isolation', () => {
  const scenario = scenarioCustomerIsolation({ customers: 3, batchesPerCustomer: 10 });

  it('gives every customer the same keys with different content, and expects each batch accepted once', () => {
    const keys = (c: string) => scenario.sends.filter((s) => s.customerId === c && s.expect.kind === 'accepted').map((s) => s.idempotencyKey);
    expect(keys('cus-iso-1')).toEqual(keys('cus-iso-2'));
    expect(expectedStatuses(scenario.sends)).toEqual({ accepted: 30, duplicates: 0, refused: { 422: 1 } });
  });

  it('expects each customer to see only its own paths', () => {
    const expected = expectedResults(scenario);
    for (const [i, c] of scenario.customers.entries()) {
      for (const w of Object.values(windowsOf(expected.minute, c))) {
        expect(Object.keys(w.paths).every((p) => p.startsWith(`GET /tenant-${i + 1}/`))).toBe(true);
      }
    }
  });
});

describe('duplicate storm and late data', () => {
  it('sends every batch three times in a row', () => {
    const storm = scenarioDuplicateStorm({ batches: 5 });
    expect(storm.sends.map((s) => s.idempotencyKey)).toEqual(['storm-000001', 'storm-000001', 'storm-000001', 'storm-000002', 'storm-000002', 'storm-000002', 'storm-000003', 'storm-000003', 'storm-000003', 'storm-000004', 'storm-000004', 'storm-000004', 'storm-000005', 'storm-000005', 'storm-000005']);
    expect(storm.inFlight).toBe(16);
    expect(expectedStatuses(storm.sends)).toEqual({ accepted: 5, duplicates: 10, refused: {} });
  });

  it('sends late batches only for minutes the first phase already filled, and grows 15:02', () => {
    const { initial, all } = scenarioLateData();
    const before = windowsOf(expectedResults(initial).minute, 'cus-late');
    const after = windowsOf(expectedResults(all).minute, 'cus-late');
    expect(Object.keys(after)).toEqual(Object.keys(before));
    expect(after['2025-07-04T15:02Z'].total).toBeGreaterThan(before['2025-07-04T15:02Z'].total + 200);
    expect(after['2025-07-04T15:00Z']).toEqual(before['2025-07-04T15:00Z']);
  });
});
