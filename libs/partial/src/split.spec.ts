import { Partial, parsePartial, serializePartial } from '@pipeline/contract';
import { splitPartial, utf8Length } from './split';

const wide = (paths: number, pathChars: number, uas: Record<string, number> = { curl: 1 }): Partial => {
  const requestsByPath: Record<string, number> = {};
  for (let i = 0; i < paths; i++) requestsByPath[`GET /${i}/${'é'.repeat(pathChars)}`] = 1 + (i % 3);
  const total = Object.values(requestsByPath).reduce((a, b) => a + b, 0);
  // Spread the total over the user agents in the given proportions, exactly.
  const keys = Object.keys(uas);
  const weight = Object.values(uas).reduce((a, b) => a + b, 0);
  const requestsByUserAgent: Record<string, number> = {};
  let left = total;
  keys.forEach((k, i) => {
    const n = i === keys.length - 1 ? left : Math.floor((total * uas[k]) / weight);
    requestsByUserAgent[k] = n;
    left -= n;
  });
  return { v: 1, batchId: 'b-1', customerId: 'cus-a', windowStart: '2025-12-28T18:03Z', windowSize: 'minute', total, requestsByPath, requestsByUserAgent };
};

const sumInto = (parts: Partial[], pick: (p: Partial) => Record<string, number>) => {
  const out: Record<string, number> = {};
  for (const p of parts) for (const [k, n] of Object.entries(pick(p))) out[k] = (out[k] ?? 0) + n;
  return out;
};

describe('splitPartial', () => {
  it('leaves a partial that fits alone, without part numbers', () => {
    const p = wide(10, 10);
    expect(splitPartial(p, 64 * 1024)).toEqual([p]);
  });

  it.each([
    ['1,010 paths of ~1,900 characters', 1_010, 950, 512 * 1024],
    ['50,000 short paths', 50_000, 8, 256 * 1024],
    ['a tight limit', 300, 40, 16 * 1024],
  ])('splits %s into valid parts under the limit that add up to the original', (_label, paths, chars, limit) => {
    const p = wide(paths, chars, { Chrome: 5, curl: 3, Googlebot: 2, Other: 1 });
    const parts = splitPartial(p, limit);
    expect(parts.length).toBeGreaterThan(1);
    for (const part of parts) {
      expect(utf8Length(serializePartial(part))).toBeLessThanOrEqual(limit);
      expect(parsePartial(JSON.parse(serializePartial(part)))).toEqual({ ok: true, value: part });
    }
    expect(parts.map((x) => [x.part, x.parts])).toEqual(parts.map((_, i) => [i + 1, parts.length]));
    expect(sumInto(parts, (x) => x.requestsByPath)).toEqual(p.requestsByPath);
    expect(sumInto(parts, (x) => x.requestsByUserAgent)).toEqual(p.requestsByUserAgent);
    expect(parts.reduce((n, x) => n + x.total, 0)).toBe(p.total);
  });

  it('splits the same partial the same way every time', () => {
    const p = wide(2_000, 30, { Chrome: 1, Firefox: 1 });
    expect(splitPartial(p, 32 * 1024)).toEqual(splitPartial({ ...p, requestsByPath: Object.fromEntries(Object.entries(p.requestsByPath).reverse()) }, 32 * 1024));
  });

  it('refuses a limit that cannot hold even one path key', () => {
    expect(() => splitPartial(wide(3, 2_000), 2_000)).toThrow(/cannot split/);
  });
});

describe('utf8Length', () => {
  it.each(['', 'abc', 'é', '日本', '😀', 'a😀é'])('equals the encoded length of %p', (s) => {
    expect(utf8Length(s)).toBe(Buffer.byteLength(s, 'utf8'));
  });
});
