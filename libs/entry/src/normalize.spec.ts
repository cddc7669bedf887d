import { minuteOf, normalizeEntries, normalizeEntry } from './normalize';
import { validateEntries } from './validate';
import { userAgentFamily } from './user-agent';

const minute = (iso: string) => Date.parse(iso);

describe('minuteOf', () => {
  it.each([
    ['2025-12-28T18:03:00.000Z', '2025-12-28T18:03:00Z'],
    ['2025-12-28T18:03:59.999Z', '2025-12-28T18:03:00Z'],
    ['2025-12-28T18:03:59.9999999Z', '2025-12-28T18:03:00Z'],
    ['2025-12-28T18:04:00Z', '2025-12-28T18:04:00Z'],
    ['2025-12-28T20:03:59.999+02:00', '2025-12-28T18:03:00Z'],
    ['2025-12-28T13:33:10-04:30', '2025-12-28T18:03:00Z'],
    ['2025-12-29T00:00:30+00:01', '2025-12-28T23:59:00Z'],
    ['2025-12-28t18:03:01z', '2025-12-28T18:03:00Z'],
    ['1969-12-31T23:59:59.999Z', '1969-12-31T23:59:00Z'],
  ])('%s is in the minute %s', (receivedAt, start) => {
    expect(minuteOf(receivedAt)).toBe(minute(start));
  });

  it('throws on text that is not an RFC 3339 timestamp', () => {
    expect(() => minuteOf('2025-12-28 18:03')).toThrow(RangeError);
  });
});

describe('normalizeEntry', () => {
  it('turns an entry into its minute and its two keys', () => {
    const n = normalizeEntry({ receivedAt: '2025-12-28T18:03:59.999Z', method: 'get', path: '/careers?ref=x#apply', userAgent: 'curl/7.88.1' }, userAgentFamily);
    expect(n).toEqual({ windowStartMs: minute('2025-12-28T18:03:00Z'), pathKey: 'GET /careers', userAgentFamily: 'curl' });
  });

  it('counts an empty user agent as Other and uses the family function it is given', () => {
    expect(normalizeEntry({ receivedAt: '2025-12-28T18:03:00Z', method: 'GET', path: '/', userAgent: '' }, userAgentFamily).userAgentFamily).toBe('Other');
    expect(normalizeEntry({ receivedAt: '2025-12-28T18:03:00Z', method: 'GET', path: '/', userAgent: 'x' }, () => 'Fixed').userAgentFamily).toBe('Fixed');
  });
});

describe('normalizeEntries', () => {
  const valid = { receivedAt: '2025-12-28T20:03:30+02:00', method: 'post', path: '/a?b#c', userAgent: 'Wget/1.21.4' };

  it('normalizes valid entries like normalizeEntry, in order', () => {
    const inputs = [valid, { ...valid, receivedAt: '2025-12-28T18:04:00.5Z', method: 'get', extra: 1 }];
    expect(normalizeEntries(inputs, userAgentFamily)).toEqual({ ok: true, entries: inputs.map((e) => normalizeEntry(e, userAgentFamily)) });
  });

  it('classifies each distinct user agent of a batch once', () => {
    const asked: string[] = [];
    const familyOf = (ua: string) => (asked.push(ua), userAgentFamily(ua));
    const inputs = [valid, { ...valid, userAgent: 'curl/8.5.0' }, valid, { ...valid, path: '/other' }, { ...valid, userAgent: 'curl/8.5.0' }];
    const r = normalizeEntries(inputs, familyOf);
    expect(asked).toEqual(['Wget/1.21.4', 'curl/8.5.0']);
    expect(r).toEqual({ ok: true, entries: inputs.map((e) => normalizeEntry(e, userAgentFamily)) });
  });

  it('reports the problems validateEntries reports, and no entries', () => {
    const inputs = [valid, { ...valid, receivedAt: '2025-02-30T18:03:00Z' }, 7, { ...valid, path: 'x', userAgent: 5 }];
    const r = normalizeEntries(inputs, userAgentFamily, 2);
    expect(r).toEqual({ ok: false, ...validateEntries(inputs, 2) });
    expect(r.ok === false && r.errorCount).toBe(4);
  });
});
