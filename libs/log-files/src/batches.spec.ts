import { MAX_BATCH_BYTES, parseBatchBody } from '@pipeline/batch';
import { batchKey, BatchPacker, checkRecord, PreparedSend } from './batches';
import { SendReport } from './report';

const entry = (i: number) => ({ receivedAt: '2025-12-28T18:03:07Z', method: 'GET', path: `/p/${i}`, userAgent: 'curl/8.5.0' });

function pack(count: number, maxBytes?: number, make = entry): PreparedSend[] {
  const packer = new BatchPacker(maxBytes);
  const out: PreparedSend[] = [];
  for (let i = 1; i <= count; i++) {
    const closed = packer.add(make(i), { ordinal: i, line: i });
    if (closed) out.push(closed);
  }
  const last = packer.flush();
  if (last) out.push(last);
  return out;
}

describe('checkRecord', () => {
  it('keeps the four fields of a valid entry and drops the rest', () => {
    expect(checkRecord({ ordinal: 1, line: 1, entry: { ...entry(1), extra: 'x' } })).toEqual({ entry: entry(1) });
  });

  it('refuses what the ingestion refuses, with its reasons, by line', () => {
    const checked = checkRecord({ ordinal: 4, line: 7, entry: { receivedAt: '2025-12-28T18:03:07', method: 'G ET', path: 'x', userAgent: '\ud800' } });
    expect(checked).toEqual({ rejected: { ordinal: 4, line: 7, reason: expect.stringMatching(/^receivedAt .*; method .*; path .*; userAgent .*well-formed/) } });
    expect(checkRecord({ ordinal: 1, line: 1, entry: { ...entry(1), receivedAt: '1969-12-31T23:59:59Z' } })).toMatchObject({ rejected: { reason: expect.stringMatching(/must lie between/) } });
    expect(checkRecord({ ordinal: 2, line: 2, error: 'not JSON' })).toEqual({ rejected: { ordinal: 2, line: 2, reason: 'not JSON' } });
  });

  it('accepts old timestamps (backfills) down to 1970 and up to 2105', () => {
    expect(checkRecord({ ordinal: 1, line: 1, entry: { ...entry(1), receivedAt: '1970-01-01T00:00:00Z' } })).toHaveProperty('entry');
    expect(checkRecord({ ordinal: 1, line: 1, entry: { ...entry(1), receivedAt: '2105-12-31T23:59:59Z' } })).toHaveProperty('entry');
  });
});

describe('BatchPacker', () => {
  it('packs every entry in order into bodies the ingestion accepts, each within the limit', () => {
    const batches = pack(40_000);
    expect(batches.length).toBeGreaterThan(1);
    let next = 1;
    for (const b of batches) {
      expect(b.body.byteLength).toBeLessThanOrEqual(MAX_BATCH_BYTES);
      const parsed = parseBatchBody(b.body);
      expect(parsed.ok && parsed.value.entries).toBe(b.entries);
      const paths = (JSON.parse(new TextDecoder().decode(b.body)) as { path: string }[]).map((e) => e.path);
      expect(paths[0]).toBe(`/p/${next}`);
      next += paths.length;
    }
    expect(next - 1).toBe(40_000);
    // Full batches are full: the next entry would not have fitted.
    expect(batches[0].body.byteLength + 1 + JSON.stringify(entry(batches[0].entries + 1)).length).toBeGreaterThan(MAX_BATCH_BYTES);
  });

  it('cuts exactly at the byte limit', () => {
    const one = JSON.stringify(entry(1)).length; // all entries 1..9 have the same length
    const batches = pack(9, 2 + one * 3 + 2);
    expect(batches.map((b) => [b.entries, b.body.byteLength, b.firstLine, b.lastLine])).toEqual([
      [3, 2 + one * 3 + 2, 1, 3],
      [3, 2 + one * 3 + 2, 4, 6],
      [3, 2 + one * 3 + 2, 7, 9],
    ]);
  });

  it('gives the same input the same batches and keys, and equal batches at other places other keys', () => {
    const a = pack(20_000);
    const b = pack(20_000);
    expect(b.map((x) => x.key)).toEqual(a.map((x) => x.key));
    const same = pack(4, 2 + JSON.stringify(entry(1)).length * 2 + 1, () => entry(1));
    expect(same).toHaveLength(2);
    expect(Buffer.from(same[0].body).equals(Buffer.from(same[1].body))).toBe(true);
    expect(same[0].key).not.toBe(same[1].key);
  });

  it('makes keys the ingestion takes as idempotency keys', () => {
    const key = batchKey(1, 123456789, new Uint8Array([1]));
    expect(key).toMatch(/^send1-1-123456789-[0-9a-f]{32}$/);
    expect(key.length).toBeLessThanOrEqual(128);
  });
});

describe('SendReport', () => {
  it('tallies, lists rejected lines in order and fails only for a failed batch', () => {
    const r = new SendReport();
    r.reject({ line: 9, ordinal: 9, reason: 'b' });
    r.reject({ line: 2, ordinal: 2, reason: 'a' });
    r.record({ kind: 'accepted', entries: 10 });
    r.record({ kind: 'duplicate', entries: 5 });
    expect(r.exitCode()).toBe(0);
    expect(r.format()).toBe(
      ['batches: 1 sent, 1 duplicates (already sent), 0 failed', 'entries: 10 sent, 5 in duplicates, 0 in failed batches', 'rejected lines: 2 (not sent)', '  line 2: a', '  line 9: b'].join('\n'),
    );
    r.record({ kind: 'failed', entries: 3, firstLine: 1, lastLine: 3, key: 'k', reason: '422 idempotency_key_reused' });
    expect(r.exitCode()).toBe(1);
    expect(r.format()).toMatch(/failed batch k \(lines 1-3, 3 entries\): 422/);
  });
});
