import { MAX_PATH_CHARS, MAX_USER_AGENT_CHARS, normalizeMethod, parseTimestamp, RFC3339_TIMESTAMP, validateEntries, validateEntry } from './validate';

const valid = { receivedAt: '2025-12-28T18:03:07.123Z', method: 'GET', path: '/api/users', userAgent: 'curl/8.5.0' };
const problems = (entry: unknown) => validateEntry(entry, 7);
const fieldsOf = (entry: unknown) => problems(entry).map((e) => e.field);

describe('parseTimestamp', () => {
  it.each([
    ['2025-12-28T18:03:07Z', Date.UTC(2025, 11, 28, 18, 3, 7)],
    ['2025-12-28T18:03:07.123Z', Date.UTC(2025, 11, 28, 18, 3, 7, 123)],
    ['2025-12-28T18:03:07.1Z', Date.UTC(2025, 11, 28, 18, 3, 7, 100)],
    ['2025-12-28T18:03:07.123456789Z', Date.UTC(2025, 11, 28, 18, 3, 7, 123)],
    ['2025-12-28t18:03:07z', Date.UTC(2025, 11, 28, 18, 3, 7)],
    ['2025-12-28T19:03:07+01:00', Date.UTC(2025, 11, 28, 18, 3, 7)],
    ['2025-12-28T13:33:07-04:30', Date.UTC(2025, 11, 28, 18, 3, 7)],
    ['2025-12-29T00:03:07+05:45', Date.UTC(2025, 11, 28, 18, 18, 7)],
    ['2025-12-28T18:03:07-00:00', Date.UTC(2025, 11, 28, 18, 3, 7)],
    ['2025-12-28T18:03:07+00:00', Date.UTC(2025, 11, 28, 18, 3, 7)],
    ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
    ['2000-02-29T00:00:00Z', Date.UTC(2000, 1, 29)],
    ['2025-12-31T23:59:59.999+23:59', Date.UTC(2025, 11, 31, 0, 0, 59, 999)],
  ])('%s is %d', (text, ms) => {
    expect(parseTimestamp(text)).toBe(ms);
  });

  it('keeps years below 100 literal', () => {
    expect(new Date(parseTimestamp('0042-01-01T00:00:00Z')!).getUTCFullYear()).toBe(42);
  });

  it('crosses the date line with the offset (the instant, not the local date, decides the minute)', () => {
    expect(new Date(parseTimestamp('2026-01-01T00:30:00+01:00')!).toISOString()).toBe('2025-12-31T23:30:00.000Z');
  });

  it.each([
    ['no offset', '2025-12-28T18:03:07'],
    ['no offset with fraction', '2025-12-28T18:03:07.123'],
    ['date only', '2025-12-28'],
    ['space separator', '2025-12-28 18:03:07Z'],
    ['basic offset', '2025-12-28T18:03:07+0100'],
    ['hour-only offset', '2025-12-28T18:03:07+01'],
    ['offset hour 24', '2025-12-28T18:03:07+24:00'],
    ['offset minute 60', '2025-12-28T18:03:07+01:60'],
    ['no seconds', '2025-12-28T18:03Z'],
    ['empty fraction', '2025-12-28T18:03:07.Z'],
    ['month 13', '2025-13-28T18:03:07Z'],
    ['month 0', '2025-00-28T18:03:07Z'],
    ['day 0', '2025-12-00T18:03:07Z'],
    ['February 29 of a common year', '2025-02-29T00:00:00Z'],
    ['February 29 of 1900', '1900-02-29T00:00:00Z'],
    ['April 31', '2025-04-31T00:00:00Z'],
    ['hour 24', '2025-12-28T24:00:00Z'],
    ['minute 60', '2025-12-28T18:60:00Z'],
    ['leap second', '2016-12-31T23:59:60Z'],
    ['unix seconds', '1766944987'],
    ['English date', 'Sun, 28 Dec 2025 18:03:07 GMT'],
    ['trailing text', '2025-12-28T18:03:07Z extra'],
    ['leading space', ' 2025-12-28T18:03:07Z'],
    ['expanded year', '+002025-12-28T18:03:07Z'],
    ['empty', ''],
    ['non-ASCII digits', '２０２５-12-28T18:03:07Z'],
  ])('rejects %s', (_, text) => {
    expect(parseTimestamp(text)).toBeNull();
  });
});

describe('validateEntry', () => {
  it('accepts a valid entry', () => {
    expect(problems(valid)).toEqual([]);
  });

  it('ignores extra fields', () => {
    expect(problems({ ...valid, status: 200, bytes: 512, nested: { a: [1] } })).toEqual([]);
  });

  it.each([null, 1, 'GET /', [], true])('rejects an entry that is not an object: %p', (entry) => {
    expect(problems(entry)).toEqual([{ index: 7, field: '', reason: 'entry must be a JSON object' }]);
  });

  it('names every missing field with the entry index', () => {
    expect(problems({})).toEqual([
      { index: 7, field: 'receivedAt', reason: 'is required' },
      { index: 7, field: 'method', reason: 'is required' },
      { index: 7, field: 'path', reason: 'is required' },
      { index: 7, field: 'userAgent', reason: 'is required' },
    ]);
  });

  it.each(['receivedAt', 'method', 'path', 'userAgent'])('rejects a non-string %s', (field) => {
    for (const bad of [1, null, true, ['x'], { x: 1 }]) {
      expect(problems({ ...valid, [field]: bad })).toEqual([{ index: 7, field, reason: 'must be a string' }]);
    }
  });

  describe('receivedAt', () => {
    it.each(['2025-12-28T18:03:07Z', '2025-12-28T19:03:07+01:00', '2025-12-28T13:03:07.5-05:00', '2025-12-28t18:03:07z'])('accepts %s', (receivedAt) => {
      expect(problems({ ...valid, receivedAt })).toEqual([]);
    });
    it.each(['2025-12-28T18:03:07', '2025-02-30T18:03:07Z', 'yesterday', ''])('rejects %p', (receivedAt) => {
      expect(fieldsOf({ ...valid, receivedAt })).toEqual(['receivedAt']);
    });
    it.each(['1970-01-01T00:00:00Z', '1970-01-01T01:00:00+01:00', '2105-12-31T23:59:59.999Z', '2106-01-01T00:59:00+01:00'])('accepts %s, inside what the aggregates hold', (receivedAt) => {
      expect(problems({ ...valid, receivedAt })).toEqual([]);
    });
    it.each(['0001-01-01T00:00:00Z', '1900-01-01T00:00:00Z', '1950-06-01T12:00:00Z', '1969-12-31T23:59:59.999Z', '1970-01-01T00:59:59+01:00', '2106-01-01T00:00:00Z', '2200-01-01T00:00:00Z', '9999-12-31T23:59:59Z'])(
      'rejects %s, outside what the aggregates can hold exactly, naming the range',
      (receivedAt) => {
        expect(problems({ ...valid, receivedAt })).toEqual([
          { index: 7, field: 'receivedAt', reason: expect.stringMatching(/between 1970-01-01T00:00:00.000Z and 2105-12-31T23:59:59.999Z/) },
        ]);
      },
    );
  });

  describe('well-formed Unicode', () => {
    it.each([
      ['path', '/\ud800'],
      ['path', '/a\udc00b'],
      ['path', '/\udbff'],
      ['userAgent', 'curl \ud83d'],
      ['userAgent', '\ude00 bot'],
    ])('rejects a lone surrogate in %s (%s)', (field, escaped) => {
      const value = JSON.parse(`"${escaped}"`) as string;
      expect(problems({ ...valid, [field]: value })).toEqual([{ index: 7, field, reason: expect.stringMatching(/well-formed Unicode/) }]);
    });
    it('accepts surrogate pairs (astral characters)', () => {
      const path = JSON.parse('"/\\ud83d\\ude00"') as string;
      expect(path).toBe('/😀');
      expect(problems({ ...valid, path, userAgent: '😀 bot' })).toEqual([]);
    });
  });

  describe('method', () => {
    it.each(['GET', 'get', 'Post', 'PROPFIND', 'M-SEARCH', 'x', "A!#$%&'*+-.^_`|~9"])('accepts the token %p', (method) => {
      expect(problems({ ...valid, method })).toEqual([]);
    });
    it.each(['', 'GET ', ' GET', 'GE T', 'GET/', 'GÉT', 'GET\n', '(GET)', 'a:b', 'a"b', 'a,b'])('rejects %p', (method) => {
      expect(fieldsOf({ ...valid, method })).toEqual(['method']);
    });
  });

  describe('path', () => {
    it.each(['/', '/api/users?id=1#top', '/%E2%82%AC', '/über/straße', '/日本語/パス', '/emoji/😀', '//double', '/a b'])('accepts %p', (path) => {
      expect(problems({ ...valid, path })).toEqual([]);
    });
    it.each(['', 'api/users', ' /', 'http://host/', '?q=1', '\\windows'])('rejects %p', (path) => {
      expect(problems({ ...valid, path })).toEqual([{ index: 7, field: 'path', reason: "must start with '/'" }]);
    });
    it('accepts exactly 2048 characters and rejects 2049', () => {
      expect(problems({ ...valid, path: '/' + 'a'.repeat(MAX_PATH_CHARS - 1) })).toEqual([]);
      expect(fieldsOf({ ...valid, path: '/' + 'a'.repeat(MAX_PATH_CHARS) })).toEqual(['path']);
    });
    it('counts characters, not UTF-16 units: 2048 emoji-bearing characters pass, 2049 do not', () => {
      const ok = '/' + '😀'.repeat(MAX_PATH_CHARS - 1); // 4095 UTF-16 units, 2048 characters
      expect(ok.length).toBeGreaterThan(MAX_PATH_CHARS);
      expect(problems({ ...valid, path: ok })).toEqual([]);
      expect(fieldsOf({ ...valid, path: ok + '😀' })).toEqual(['path']);
    });
  });

  describe('userAgent', () => {
    it.each(['', 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0', 'Bot ünïcödé 🤖'])('accepts %p', (userAgent) => {
      expect(problems({ ...valid, userAgent })).toEqual([]);
    });
    it('accepts exactly 1024 characters and rejects 1025', () => {
      expect(problems({ ...valid, userAgent: 'u'.repeat(MAX_USER_AGENT_CHARS) })).toEqual([]);
      expect(problems({ ...valid, userAgent: 'u'.repeat(MAX_USER_AGENT_CHARS + 1) })).toEqual([
        { index: 7, field: 'userAgent', reason: 'must be at most 1024 characters' },
      ]);
      expect(problems({ ...valid, userAgent: 'é'.repeat(MAX_USER_AGENT_CHARS) })).toEqual([]);
    });
  });
});

describe('validateEntries', () => {
  it('reports nothing for valid entries', () => {
    expect(validateEntries([valid, valid])).toEqual({ errorCount: 0, errors: [] });
  });

  it('reports problems by entry index, in order', () => {
    const r = validateEntries([valid, { ...valid, method: 'G T' }, valid, { ...valid, path: 'x', userAgent: 5 }]);
    expect(r).toEqual({
      errorCount: 3,
      errors: [
        { index: 1, field: 'method', reason: 'must be an HTTP method token, e.g. GET' },
        { index: 3, field: 'path', reason: "must start with '/'" },
        { index: 3, field: 'userAgent', reason: 'must be a string' },
      ],
    });
  });

  it('lists at most 20 problems but counts all of them', () => {
    const entries = Array.from({ length: 30 }, () => ({ ...valid, method: '' }));
    const r = validateEntries(entries);
    expect(r.errors).toHaveLength(20);
    expect(r.errors[19].index).toBe(19);
    expect(r.errorCount).toBe(30);
  });
});

describe('normalization', () => {
  it('upper-cases methods', () => {
    expect(normalizeMethod('get')).toBe('GET');
    expect(normalizeMethod('m-search')).toBe('M-SEARCH');
  });
});

describe('parseTimestamp against the grammar it implements', () => {
  // The straightforward reading of RFC3339_TIMESTAMP, kept as the reference the fast reader must equal.
  const reference = (text: string): number | null => {
    const m = RFC3339_TIMESTAMP.exec(text);
    if (!m) return null;
    const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
    const last = new Date(Date.UTC(2000, month, 0)).getUTCDate();
    const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
    if (month < 1 || month > 12 || day < 1 || day > (month === 2 ? (leap ? 29 : 28) : last)) return null;
    if (hour > 23 || minute > 59 || second > 59) return null;
    let offset = 0;
    if (m[8] === undefined) {
      if (+m[10] > 23 || +m[11] > 59) return null;
      offset = (m[9] === '-' ? -1 : 1) * (+m[10] * 60 + +m[11]);
    }
    const millis = m[7] === undefined ? 0 : +m[7].slice(0, 3).padEnd(3, '0');
    const at = new Date(Date.UTC(2000, month - 1, day, hour, minute, second, millis));
    at.setUTCFullYear(year);
    return at.getTime() - offset * 60_000;
  };

  it('agrees on valid, near-valid and mangled timestamps', () => {
    let seed = 12345;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const pad = (n: number, w: number) => String(n).padStart(w, '0');
    const alphabet = '0123456789-:TtZz+.x ';
    let checked = 0;
    for (let k = 0; k < 20_000; k++) {
      const zone = ['Z', 'z', `+${pad(random(26), 2)}:${pad(random(62), 2)}`, `-${pad(random(26), 2)}:${pad(random(62), 2)}`, '', '+0100'][random(6)];
      const fraction = ['', '.', `.${random(10)}`, `.${pad(random(100), 2)}`, `.${pad(random(1000), 3)}`, `.${pad(random(1e6), 6)}`][random(6)];
      // Mostly in range, sometimes just outside it.
      const field = (valid: number, any: number, from = 0) => (random(4) === 0 ? random(any) : from + random(valid));
      const date = `${pad(random(10_000), 4)}-${pad(field(12, 14, 1), 2)}-${pad(field(31, 33, 1), 2)}`;
      const time = `${pad(field(24, 26), 2)}:${pad(field(60, 62), 2)}:${pad(field(60, 62), 2)}`;
      let text = `${date}${'TTt '[random(4)]}${time}${fraction}${zone}`;
      if (random(4) === 0) {
        const at = random(text.length + 1);
        text = text.slice(0, at) + alphabet[random(alphabet.length)] + text.slice(at + random(2));
      }
      expect([text, parseTimestamp(text)]).toEqual([text, reference(text)]);
      if (reference(text) !== null) checked++;
    }
    expect(checked).toBeGreaterThan(500);
  });
});
