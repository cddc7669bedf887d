// Whatever the door accepts comes out counted: batches that are valid per the contract of POST /logs,
// generated at random, go through every pure step a batch meets on its way to ClickHouse (the
// door's validation, summarizing, splitting into parts, the aggregator's validation of a partial,
// merging, the revision row and reading it back), and every entry is found counted once, under
// its minute, its path key and its user-agent family. A field bound missing at the door (a method
// of 600,000 characters, say) shows up here as a later step that refuses or throws.
import { parseBatchBody } from '@pipeline/batch';
import { insightEventKey, parsePartial, Partial, serializePartial } from '@pipeline/contract';
import { keptTimes, MAX_METHOD_CHARS, MAX_PATH_CHARS, MAX_USER_AGENT_CHARS, parseTimestamp, pathKey, userAgentFamily } from '@pipeline/entry';
import { formatMinute, LATEST_EVENT_MS, windowKey } from '@pipeline/window';
import fc from 'fast-check';
import { emptyWindowState, fromRow, KnownWindow, mergeBatch, OffsetPartial, toRow } from './index';
import { MIN_PARTIAL_BYTES } from './split';
import { summarizeRawBatch } from './summarize';

const TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".split('');
const DAY_MS = 86_400_000;
const NOW = Date.parse('2026-12-06T12:00:00Z');
const RETENTION_DAYS = 400;
const SKEW_MS = DAY_MS;
const kept = keptTimes(NOW, RETENTION_DAYS, SKEW_MS);

/** Well-formed Unicode of any plane, control characters, quotes and backslashes included. */
const text = (maxLength: number) => fc.string({ unit: 'grapheme', maxLength }).map((s) => [...s].slice(0, maxLength).join(''));
const hostile = fc.constantFrom('"', '\\', '\u0000', '\u001f', '\u2028', '\ud83d\ude00', '?', '#', '%00', ' ');

/** An RFC 3339 text of the instant `ms`: any offset, 0 to 9 fraction digits, t/z in either case. */
const stampOf = (ms: number, offsetMinutes: number, fraction: number, lower: boolean) => {
  const local = new Date(ms + offsetMinutes * 60_000).toISOString(); // yyyy-mm-ddThh:mm:ss.sssZ
  const frac = fraction === 0 ? '' : `.${(local.slice(20, 23) + '000000').slice(0, fraction)}`;
  const abs = Math.abs(offsetMinutes);
  const zone = offsetMinutes === 0 && fraction % 2 === 0 ? 'Z' : `${offsetMinutes < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  const stamp = `${local.slice(0, 19)}${frac}${zone}`;
  return lower ? stamp.replace('T', 't').replace('Z', 'z') : stamp;
};
/** Within a batch, times fall in a few minutes after its start, as real traffic does, so windows get many keys. */
const receivedAt = (startMs: number) =>
  fc
    .record({
      within: fc.integer({ min: 0, max: 3 * 60_000 - 1 }),
      offsetMinutes: fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 }),
      fraction: fc.integer({ min: 0, max: 9 }),
      lower: fc.boolean(),
    })
    .map(({ within, offsetMinutes, fraction, lower }) => stampOf(startMs + within, offsetMinutes, fraction, lower));
const batchStart = fc.integer({ min: kept.earliestMs!, max: Math.min(kept.latestMs, LATEST_EVENT_MS) - 3 * 60_000 });

const method = fc.oneof(
  fc.constantFrom('GET', 'get', 'POST', 'Delete', 'PATCH', 'OPTIONS'),
  fc.array(fc.constantFrom(...TOKEN_CHARS), { minLength: 1, maxLength: MAX_METHOD_CHARS }).map((cs) => cs.join('')),
);
const path = fc.oneof(
  { arbitrary: fc.constantFrom('/', '/api/users', '/api/users?page=2', '/a#frag?x', '/?', '/#'), weight: 1 },
  { arbitrary: fc.tuple(text(200), hostile, text(40)).map(([a, h, b]) => `/${a}${h}${b}`), weight: 1 },
  // Paths at the limit, of the characters JSON escapes widest, often: they are what forces splits.
  { arbitrary: fc.tuple(fc.constantFrom('\u0001', '"', '\ud83d\ude00', 'a'), fc.nat(999)).map(([c, n]) => `/${String(n)}${c.repeat(MAX_PATH_CHARS - 4)}`), weight: 3 },
);
const userAgent = fc.oneof(
  fc.constantFrom('', 'curl/8.5.0', 'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0', 'Googlebot/2.1 (+http://www.google.com/bot.html)'),
  text(MAX_USER_AGENT_CHARS),
  fc.constant('\u0000'.repeat(MAX_USER_AGENT_CHARS)),
);
const batch = batchStart.chain((start) => fc.array(fc.record({ receivedAt: receivedAt(start), method, path, userAgent }), { minLength: 1, maxLength: 120, size: 'max' }));

function expectedCounts(entries: { receivedAt: string; method: string; path: string; userAgent: string }[]) {
  const byWindow = new Map<string, { total: number; paths: Map<string, number>; agents: Map<string, number> }>();
  for (const e of entries) {
    const minute = formatMinute(parseTimestamp(e.receivedAt)!);
    const w = byWindow.get(minute) ?? { total: 0, paths: new Map(), agents: new Map() };
    w.total++;
    const key = pathKey(e.method, e.path);
    w.paths.set(key, (w.paths.get(key) ?? 0) + 1);
    const family = userAgentFamily(e.userAgent);
    w.agents.set(family, (w.agents.get(family) ?? 0) + 1);
    byWindow.set(minute, w);
  }
  return byWindow;
}

describe('accepted means counted (property)', () => {
  it.each([MIN_PARTIAL_BYTES, 512 * 1024])('every entry of every batch the door accepts is counted once, with parts of at most %i bytes', (maxPartialBytes) => {
    let split = 0;
    fc.assert(
      fc.property(batch, fc.constantFrom('cus-a', 'c.1_x-Y'), (entries, customerId) => {
        const body = Buffer.from(JSON.stringify(entries));
        // The door.
        const accepted = parseBatchBody(body, kept);
        expect(accepted).toEqual({ ok: true, value: { entries: entries.length } });

        // The summarizer, from the stored bytes.
        const summary = summarizeRawBatch({ customerId, batchId: 'b-1' }, body.toString('utf8'), { familyOf: userAgentFamily, maxPartialBytes });
        if (!summary.ok) throw new Error(`the summarizer refused an accepted batch: ${summary.reason}`);
        expect(summary.value.entries).toBe(entries.length);

        // On the wire, then the aggregator's check of each message.
        split += summary.value.partials.filter((p) => p.parts !== undefined).length;
        const partials: Partial[] = summary.value.partials.map((p) => {
          const json = serializePartial(p);
          expect(Buffer.byteLength(json)).toBeLessThanOrEqual(maxPartialBytes);
          const parsed = parsePartial(JSON.parse(json));
          if (!parsed.ok) throw new Error(`the aggregator refused a partial: ${parsed.reason}`);
          expect(insightEventKey(parsed.value)).toBe(insightEventKey(p));
          return parsed.value;
        });

        // Merging, delivered twice (at least once), then the revision rows read back.
        const items: OffsetPartial[] = [...partials, ...partials].map((partial, offset) => ({ offset, partial }));
        const known = new Map<string, KnownWindow>();
        for (const p of partials) known.set(windowKey(p.customerId, p.windowStart), { state: emptyWindowState(p.customerId, p.windowStart), source: 'store' });
        const merged = mergeBatch({ items, known, allowedLatenessMs: 0 });
        expect(merged.duplicates).toBe(partials.length);

        const expected = expectedCounts(entries);
        expect(merged.changed.map((s) => s.windowStart).sort()).toEqual([...expected.keys()].sort());
        for (const state of merged.changed) {
          const row = toRow(state);
          const back = fromRow({ ...row, batch_ids: row.batch_ids });
          const want = expected.get(state.windowStart)!;
          expect(back.total).toBe(want.total);
          expect(back.byPath).toEqual(want.paths);
          expect(back.byUserAgent).toEqual(want.agents);
        }
      }),
      { numRuns: 100, seed: 20261206 },
    );
    // The small size must have exercised the splitting it is there to prove.
    if (maxPartialBytes === MIN_PARTIAL_BYTES) expect(split).toBeGreaterThan(0);
  });

  it('the door refuses, with the entry and field, what a later step could not keep', () => {
    const refused = (e: Record<string, unknown>) => parseBatchBody(Buffer.from(JSON.stringify([e])), kept);
    const good = { receivedAt: '2026-12-06T11:00:00Z', method: 'GET', path: '/', userAgent: '' };
    const fieldOf = (r: ReturnType<typeof refused>) => (r.ok ? 'accepted' : (r.rejection.details as { errors: { field: string }[] }).errors[0].field);
    expect(fieldOf(refused(good))).toBe('accepted');
    expect(fieldOf(refused({ ...good, method: 'G'.repeat(600_000) }))).toBe('method');
    expect(fieldOf(refused({ ...good, method: 'G'.repeat(MAX_METHOD_CHARS + 1) }))).toBe('method');
    expect(fieldOf(refused({ ...good, path: `/${'a'.repeat(MAX_PATH_CHARS)}` }))).toBe('path');
    expect(fieldOf(refused({ ...good, userAgent: 'a'.repeat(MAX_USER_AGENT_CHARS + 1) }))).toBe('userAgent');
    expect(fieldOf(refused({ ...good, receivedAt: new Date(kept.earliestMs! - 1).toISOString() }))).toBe('receivedAt');
    expect(fieldOf(refused({ ...good, receivedAt: new Date(NOW + SKEW_MS + 1_000).toISOString() }))).toBe('receivedAt');
    // Without a retention the past is kept, however far: the reference data is from 2025.
    expect(parseBatchBody(Buffer.from(JSON.stringify([{ ...good, receivedAt: '1999-01-01T00:00:00Z' }])), keptTimes(NOW, 0, SKEW_MS)).ok).toBe(true);
  });
});
