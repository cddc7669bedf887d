import { minuteOf, normalizeEntry } from './normalize';
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
