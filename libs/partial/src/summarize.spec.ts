import { LogEntry, UserAgentClassifier, userAgentFamily } from '@pipeline/entry';
import { parsePartial, serializePartial } from '@pipeline/contract';
import { parseSummary, serializeSummary, summarizeEntries, summarizeRawBatch } from './summarize';

const opts = (familyOf: (ua: string) => string) => ({ familyOf, maxPartialBytes: 512 * 1024 });

const ref = { customerId: 'cus-axon', batchId: 'batch-000001' };
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0';
const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
const CURL = 'curl/7.88.1';

const entry = (receivedAt: string, path = '/', userAgent = CHROME, method = 'GET'): LogEntry => ({ receivedAt, method, path, userAgent });

describe('summarizeEntries', () => {
  it('builds one partial per UTC minute, in window order, with sorted keys', () => {
    const entries = [
      entry('2025-12-28T18:05:00.000Z', '/about?x=1', FIREFOX),
      entry('2025-12-28T18:03:10.000Z', '/', CHROME),
      entry('2025-12-28T18:03:11.500Z', '/contact#top', CURL, 'post'),
      entry('2025-12-28T18:03:59.000Z', '/', GOOGLEBOT),
      entry('2025-12-28T18:05:30.250Z', '/about', ''),
    ];
    const s = summarizeEntries(ref, entries, opts(userAgentFamily));
    expect(s).toEqual({
      v: 1,
      customerId: 'cus-axon',
      batchId: 'batch-000001',
      entries: 5,
      partials: [
        {
          v: 1,
          batchId: 'batch-000001',
          customerId: 'cus-axon',
          windowStart: '2025-12-28T18:03Z',
          windowSize: 'minute',
          total: 3,
          requestsByPath: { 'GET /': 2, 'POST /contact': 1 },
          requestsByUserAgent: { Chrome: 1, Googlebot: 1, curl: 1 },
        },
        {
          v: 1,
          batchId: 'batch-000001',
          customerId: 'cus-axon',
          windowStart: '2025-12-28T18:05Z',
          windowSize: 'minute',
          total: 2,
          requestsByPath: { 'GET /about': 2 },
          requestsByUserAgent: { Firefox: 1, Other: 1 },
        },
      ],
    });
    for (const p of s.partials) {
      expect(parsePartial(p)).toEqual({ ok: true, value: p });
      expect(Object.keys(p.requestsByPath)).toEqual(Object.keys(p.requestsByPath).sort());
      expect(Object.keys(p.requestsByUserAgent)).toEqual(Object.keys(p.requestsByUserAgent).sort());
    }
  });

  it('keeps :59.999 in its minute and starts the next at :00.000', () => {
    const s = summarizeEntries(
      ref,
      [entry('2025-12-28T18:03:59.999Z'), entry('2025-12-28T18:03:59.9999999Z'), entry('2025-12-28T18:04:00.000Z'), entry('2025-12-28T18:03:00Z')],
      opts(userAgentFamily),
    );
    expect(s.partials.map((p) => [p.windowStart, p.total])).toEqual([
      ['2025-12-28T18:03Z', 3],
      ['2025-12-28T18:04Z', 1],
    ]);
  });

  it('puts timestamps with offsets into their UTC minute, across a day boundary', () => {
    const s = summarizeEntries(
      ref,
      [
        entry('2025-12-28T20:03:30+02:00'), // 18:03Z
        entry('2025-12-28T13:03:59.999-05:00'), // 18:03:59.999Z
        entry('2025-12-29T00:33:00.000+05:30'), // 19:03Z
        entry('2025-12-28T23:59:59.999-01:00'), // 2025-12-29T00:59:59.999Z
        entry('2025-12-29T00:00:00.000+00:01'), // 2025-12-28T23:59Z
        entry('2025-12-28t18:03:01z'),
      ],
      opts(userAgentFamily),
    );
    expect(s.partials.map((p) => [p.windowStart, p.total])).toEqual([
      ['2025-12-28T18:03Z', 3],
      ['2025-12-28T19:03Z', 1],
      ['2025-12-28T23:59Z', 1],
      ['2025-12-29T00:59Z', 1],
    ]);
  });

  it('handles event times far from now (last year, the first minute of 1970, the last of 2105)', () => {
    const s = summarizeEntries(ref, [entry('2105-12-31T23:59:59.999Z'), entry('1970-01-01T00:00:00Z'), entry('2024-02-29T12:00:00Z')], opts(userAgentFamily));
    expect(s.partials.map((p) => p.windowStart)).toEqual(['1970-01-01T00:00Z', '2024-02-29T12:00Z', '2105-12-31T23:59Z']);
  });

  it('is deterministic: the same entries in any order give byte-identical JSON', () => {
    const entries: LogEntry[] = [];
    const uas = [CHROME, FIREFOX, GOOGLEBOT, CURL, '', 'garbage'];
    for (let k = 0; k < 500; k++) {
      const minute = String(3 + (k % 4)).padStart(2, '0');
      const second = String(k % 60).padStart(2, '0');
      entries.push(entry(`2025-12-28T18:${minute}:${second}.${String(k % 1000).padStart(3, '0')}Z`, ['/', '/about?x', '/b#c'][k % 3], uas[k % 6], ['GET', 'post'][k % 2]));
    }
    const first = serializeSummary(summarizeEntries(ref, entries, opts(userAgentFamily)));
    const cached = new UserAgentClassifier(2); // tiny cache: evictions must not change anything
    const shuffled = [...entries].reverse().sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    expect(serializeSummary(summarizeEntries(ref, shuffled, opts(cached.familyOf)))).toBe(first);
    expect(serializeSummary(summarizeEntries(ref, entries, opts(cached.familyOf)))).toBe(first);
    expect(cached.stats().misses).toBeGreaterThan(0);
    const partials = summarizeEntries(ref, entries, opts(userAgentFamily)).partials;
    expect(partials.reduce((n, p) => n + p.total, 0)).toBe(500);
  });
});

describe('summarizeRawBatch reading a stored body', () => {
  it('ignores extra fields and upper-cases methods', () => {
    const text = JSON.stringify([{ receivedAt: '2025-12-28T18:03:00Z', method: 'get', path: '/', userAgent: '', extra: 1 }]);
    const r = summarizeRawBatch(ref, text, opts(userAgentFamily));
    expect(r.ok && r.value.partials[0].requestsByPath).toEqual({ 'GET /': 1 });
  });

  it('tolerates a byte-order mark', () => {
    const text = '\ufeff' + JSON.stringify([entry('2025-12-28T18:03:00Z')]);
    expect(summarizeRawBatch(ref, text, opts(userAgentFamily)).ok).toBe(true);
  });

  it('summarizes exactly as summarizeEntries does', () => {
    const methods = ['get', 'POST', 'Delete'];
    const zones = ['Z', '+02:00', '-05:30', 'z'];
    const entries = Array.from({ length: 400 }, (_, i) =>
      entry(`2025-12-28T${String(10 + (i % 5)).padStart(2, '0')}:${String((i * 7) % 60).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}.${i % 1000}${zones[i % 4]}`, `/p${i % 13}?q=${i}`, ['curl/8.5.0', 'Wget/1.21.4', ''][i % 3]),
    ).map((e, i) => ({ ...e, method: methods[i % 3] }));
    const r = summarizeRawBatch(ref, JSON.stringify(entries), opts(userAgentFamily));
    expect(r.ok && serializeSummary(r.value)).toBe(serializeSummary(summarizeEntries(ref, entries, opts(userAgentFamily))));
  });

  it.each([
    ['truncated JSON', '[{"receivedAt":', /not valid JSON/],
    ['not an array', '{"entries":[]}', /not a JSON array/],
    ['empty array', '[]', /empty/],
    ['an invalid timestamp', JSON.stringify([entry('2025-12-28T18:03:00Z'), entry('2025-02-30T18:03:00Z')]), /entry 1 receivedAt/],
    ['a timestamp without offset', JSON.stringify([entry('2025-12-28T18:03:00')]), /entry 0 receivedAt/],
    ['a path without slash', JSON.stringify([entry('2025-12-28T18:03:00Z', 'about')]), /entry 0 path/],
    ['a missing user agent', JSON.stringify([{ receivedAt: '2025-12-28T18:03:00Z', method: 'GET', path: '/' }]), /entry 0 userAgent/],
    ['a non-object entry', JSON.stringify([1]), /entry 0/],
  ])('refuses %s with a reason', (_label, text, reason) => {
    const r = summarizeRawBatch(ref, text, opts(userAgentFamily));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });
});

describe('summarizeRawBatch', () => {
  it('summarizes a stored body, or says why it cannot', () => {
    const body = JSON.stringify([entry('2025-12-28T18:03:00Z'), entry('2025-12-28T18:04:00Z', '/a?b')]);
    const r = summarizeRawBatch(ref, body, opts(userAgentFamily));
    expect(r.ok && r.value.partials.map((p) => p.requestsByPath)).toEqual([{ 'GET /': 1 }, { 'GET /a': 1 }]);
    expect(summarizeRawBatch(ref, 'nope', opts(userAgentFamily)).ok).toBe(false);
  });
});

describe('serializePartial / serializeSummary / parseSummary', () => {
  const summary = summarizeEntries(ref, [entry('2025-12-28T18:03:00Z', '/b', CURL), entry('2025-12-28T18:04:00Z', '/a', CHROME), entry('2025-12-28T18:03:01Z', '/a', CHROME)], opts(userAgentFamily));

  it('writes a fixed field order whatever order the object was built in', () => {
    const p = summary.partials[0];
    const scrambled = {
      requestsByUserAgent: { curl: 1, Chrome: 1 },
      requestsByPath: { 'GET /b': 1, 'GET /a': 1 },
      total: p.total,
      windowSize: p.windowSize,
      windowStart: p.windowStart,
      customerId: p.customerId,
      batchId: p.batchId,
      v: p.v,
    };
    expect(serializePartial(scrambled)).toBe(
      '{"v":1,"batchId":"batch-000001","customerId":"cus-axon","windowStart":"2025-12-28T18:03Z","windowSize":"minute","total":2,"requestsByPath":{"GET /a":1,"GET /b":1},"requestsByUserAgent":{"Chrome":1,"curl":1}}',
    );
    expect(serializePartial(scrambled)).toBe(serializePartial(p));
  });

  it('round-trips a summary byte for byte', () => {
    const text = serializeSummary(summary);
    const parsed = parseSummary(text, ref);
    expect(parsed).toEqual({ ok: true, value: summary });
    expect(parsed.ok && serializeSummary(parsed.value)).toBe(text);
  });

  it.each([
    ['not JSON', () => '{', /not valid JSON/],
    ['another batch', () => serializeSummary({ ...summary, batchId: 'batch-000002' }), /another batch/],
    ['a partial of another customer', () => serializeSummary({ ...summary, partials: [{ ...summary.partials[0], customerId: 'x' }, summary.partials[1]] }), /another batch/],
    ['totals that do not add up', () => serializeSummary({ ...summary, entries: 4 }), /add up/],
    ['partials out of order', () => serializeSummary({ ...summary, partials: [...summary.partials].reverse() }), /order/],
    ['no partials', () => serializeSummary({ ...summary, partials: [] }), /no partials/],
    ['an invalid partial', () => serializeSummary({ ...summary, partials: [{ ...summary.partials[0], total: 5 }, summary.partials[1]] }), /partial invalid/],
  ])('refuses a stored summary with %s', (_label, make, reason) => {
    const r = parseSummary(make(), ref);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });
});
