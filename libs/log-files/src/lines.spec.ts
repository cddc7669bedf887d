import { decodeLatin1, decodeUtf8, LineSplitter } from './lines';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe('LineSplitter', () => {
  it('numbers lines across chunk boundaries, with \\n or \\r\\n, and keeps a last line without a break', () => {
    const s = new LineSplitter();
    const lines = [...s.push(bytes('one\r\ntw')), ...s.push(bytes('o\n\nthr')), ...s.push(bytes('ee')), ...s.end()];
    expect(lines.map((l) => [l.number, text(l.bytes)])).toEqual([
      [1, 'one'],
      [2, 'two'],
      [3, ''],
      [4, 'three'],
    ]);
  });

  it('does not split a UTF-8 character cut by a chunk boundary', () => {
    const all = bytes('é\n');
    const s = new LineSplitter();
    const lines = [...s.push(all.subarray(0, 1)), ...s.push(all.subarray(1))];
    expect(decodeUtf8(lines[0].bytes)).toBe('é');
  });

  it('truncates a line beyond its bound and says so, then goes on', () => {
    const s = new LineSplitter(4);
    const lines = [...s.push(bytes('abcdefgh\nok\n'))];
    expect(lines.map((l) => [text(l.bytes), l.truncated ?? false])).toEqual([
      ['abcd', true],
      ['ok', false],
    ]);
  });

  it('copies what it keeps: a reused chunk buffer does not change a pending line', () => {
    const s = new LineSplitter();
    const chunk = bytes('ab');
    s.push(chunk);
    chunk.set(bytes('XY'));
    expect(text(s.push(bytes('\n'))[0].bytes)).toBe('ab');
  });
});

describe('decoding', () => {
  it('refuses invalid UTF-8 and reads any byte as ISO-8859-1', () => {
    expect(decodeUtf8(Uint8Array.from([0x66, 0xff]))).toBeNull();
    expect(decodeLatin1(Uint8Array.from([0x66, 0xe9]))).toBe('fé');
  });
});
