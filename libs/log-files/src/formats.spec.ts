import { accessLogTime, detectFormat, parseCombinedLine, parseJsonArray, parseNdjsonLine, unescapeLogField } from './formats';

const line = (s: string, number = 1) => ({ number, bytes: new TextEncoder().encode(s) });
const COMBINED = '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif?x=1 HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"';

describe('detectFormat', () => {
  it.each([
    ['[{"a":1}]', 'json'],
    ['  {"a":1}', 'ndjson'],
    ['\uFEFF{"a":1}', 'ndjson'],
    [COMBINED, 'combined'],
  ])('%s is %s', (first, format) => {
    expect(detectFormat(new TextEncoder().encode(first))).toBe(format);
  });
});

describe('NDJSON lines', () => {
  it('parse to values, skip blank lines and report what is not JSON or not UTF-8 by line', () => {
    expect(parseNdjsonLine(line('{"path":"/"}', 3))).toEqual({ ordinal: 3, line: 3, entry: { path: '/' } });
    expect(parseNdjsonLine(line('  \r'))).toBeNull();
    expect(parseNdjsonLine(line('{"path":', 4))).toMatchObject({ line: 4, error: expect.stringMatching(/^not JSON/) });
    expect(parseNdjsonLine({ number: 5, bytes: Uint8Array.from([0x7b, 0xff, 0x7d]) })).toEqual({ ordinal: 5, line: 5, error: 'not valid UTF-8' });
    expect(parseNdjsonLine({ ...line('{}', 6), truncated: true })).toEqual({ ordinal: 6, line: 6, error: 'line too long' });
  });
});

describe('combined access logs', () => {
  it('map the time to RFC 3339 with its offset, the request line to method and path, and keep the user agent', () => {
    expect(parseCombinedLine(line(COMBINED, 9))).toEqual({
      ordinal: 9,
      line: 9,
      entry: { receivedAt: '2000-10-10T13:55:36-07:00', method: 'GET', path: '/apache_pb.gif?x=1', userAgent: 'Mozilla/4.08 [en] (Win98; I ;Nav)' },
    });
  });

  it('read the times of every month and offset, and nothing else', () => {
    expect(accessLogTime('28/Dec/2025:18:03:07 +0530')).toBe('2025-12-28T18:03:07+05:30');
    expect(accessLogTime('01/Feb/1999:00:00:00 -0000')).toBe('1999-02-01T00:00:00-00:00');
    expect(accessLogTime('28/Dez/2025:18:03:07 +0000')).toBeNull();
    expect(accessLogTime('2025-12-28T18:03:07Z')).toBeNull();
  });

  it('take an empty user agent for "-", and appended fields after the user agent', () => {
    const r = parseCombinedLine(line('::1 - - [28/Dec/2025:18:03:07 +0000] "HEAD / HTTP/1.1" 200 0 "-" "-" "10.1.1.1" rt=0.003'));
    expect(r).toMatchObject({ entry: { method: 'HEAD', path: '/', userAgent: '' } });
  });

  it('reduce an absolute request target (a proxy request) to its path', () => {
    const r = parseCombinedLine(line('h - - [28/Dec/2025:18:03:07 +0000] "GET http://example.com/a/b?c HTTP/1.1" 200 1 "-" "curl/8.5.0"'));
    expect(r).toMatchObject({ entry: { path: '/a/b?c' } });
    const bare = parseCombinedLine(line('h - - [28/Dec/2025:18:03:07 +0000] "GET http://example.com HTTP/1.1" 200 1 "-" "curl/8.5.0"'));
    expect(bare).toMatchObject({ entry: { path: '/' } });
  });

  it('unescape Apache and nginx escapes, reading the bytes as UTF-8 or else ISO-8859-1', () => {
    expect(unescapeLogField('a \\"quoted\\" \\\\ b')).toBe('a "quoted" \\ b');
    expect(unescapeLogField('caf\\xC3\\xA9 \\x22x\\x22')).toBe('café "x"');
    expect(unescapeLogField('caf\\xE9')).toBe('café');
    const r = parseCombinedLine(line('h - - [28/Dec/2025:18:03:07 +0000] "GET /x HTTP/1.1" 200 1 "-" "Bot \\"v2\\" \\xC3\\xA9"'));
    expect(r).toMatchObject({ entry: { userAgent: 'Bot "v2" é' } });
  });

  it('report lines that are not requests, or not combined lines at all, by line', () => {
    expect(parseCombinedLine(line('h - - [28/Dec/2025:18:03:07 +0000] "\\x16\\x03\\x01" 400 0 "-" "-"', 2))).toMatchObject({ line: 2, error: expect.stringMatching(/is not METHOD target/) });
    expect(parseCombinedLine(line('h - - [28/Dec/2025:18:03:07 +0000] "-" 400 0 "-" "-"', 3))).toMatchObject({ line: 3, error: expect.stringMatching(/is not METHOD target/) });
    expect(parseCombinedLine(line('h - - [28/Dec/2025:18:03:07] "GET / HTTP/1.1" 200 0 "-" "-"', 4))).toMatchObject({ line: 4, error: expect.stringMatching(/^time/) });
    expect(parseCombinedLine(line('just text', 5))).toMatchObject({ line: 5, error: expect.stringMatching(/not a combined access-log line/) });
    expect(parseCombinedLine(line('h - - [28/Dec/2025:18:03:07 +0000] "GET / HTTP/1.1" 200 0', 6))).toMatchObject({ line: 6, error: expect.stringMatching(/not a combined/) });
  });
});

describe('JSON arrays', () => {
  it('give every element with the line it starts on, strings with brackets and commas included', () => {
    const text = '[\n  {"path":"/a,]"},\n  {"path":"/b\\"}"}\n  ,{"path":"/c"}\n]\n';
    expect(parseJsonArray(text)).toEqual([
      { ordinal: 1, line: 2, entry: { path: '/a,]' } },
      { ordinal: 2, line: 3, entry: { path: '/b"}' } },
      { ordinal: 3, line: 4, entry: { path: '/c' } },
    ]);
  });

  it('number the elements of a one-line array apart', () => {
    expect(parseJsonArray('[{"a":1},{"a":[1,2]},3]').map((r) => [r.ordinal, r.line])).toEqual([
      [1, 1],
      [2, 1],
      [3, 1],
    ]);
    expect(parseJsonArray(' [ ] ')).toEqual([]);
  });

  it('report a bad element on its own and go on with the others', () => {
    const records = parseJsonArray('[\n{"a":1},\n{"a":tru},\n{"a":2}\n]');
    expect(records.map((r) => ('error' in r ? `${r.line}:error` : `${r.line}:ok`))).toEqual(['2:ok', '3:error', '4:ok']);
  });

  it('report a cut-short array, a missing array and text after it', () => {
    expect(parseJsonArray('[{"a":1},\n{"a":2')).toEqual([{ ordinal: 1, line: 1, entry: { a: 1 } }, { ordinal: 2, line: 2, error: expect.stringMatching(/not closed/) }]);
    expect(parseJsonArray('{"a":1}')).toEqual([{ ordinal: 1, line: 1, error: 'not a JSON array' }]);
    expect(parseJsonArray('[1]\nx')).toEqual([{ ordinal: 1, line: 1, entry: 1 }, { ordinal: 2, line: 2, error: expect.stringMatching(/after the closing/) }]);
  });
});
