import { BatchIngestedEvent } from '@pipeline/contract';
import { LogEntry, userAgentFamily } from '@pipeline/entry';
import { serializePartial } from '@pipeline/contract';
import { summarizeEntries } from '@pipeline/partial';
import { AppProcess, committedOffset, startApp, withAdmin } from '@pipeline/testing';
import { SummarizerHarness, appEnv, itNames, putEntries } from './it-support';

jest.setTimeout(300_000);

const names = itNames('sumkill');
const CUSTOMER = 'cus-axon';
const BATCHES = 600;
const BATCH_SIZE = 20;
const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0',
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  'curl/7.88.1',
];

/** Entry k of the reference scenario (64,000 entries over four minutes). */
function scenarioEntry(k: number): LogEntry {
  const bucket = k % 64;
  const round = Math.floor(k / 64);
  const minute = ['18:03', '18:04', '18:05', '18:06'][Math.floor(bucket / 16)];
  const path = ['/', '/about', '/careers', '/contact'][Math.floor((bucket % 16) / 4)];
  const ss = String(round % 60).padStart(2, '0');
  const mmm = String((bucket * 17 + round) % 1000).padStart(3, '0');
  return { receivedAt: `2025-12-28T${minute}:${ss}.${mmm}Z`, method: 'GET', path, userAgent: USER_AGENTS[bucket % 4] };
}

const batchId = (b: number) => `batch-${String(b).padStart(6, '0')}`;
const batchEntries = (b: number) => Array.from({ length: BATCH_SIZE }, (_, i) => scenarioEntry(((b - 1) * BATCH_SIZE + i * 3201) % 64000));

const harness = new SummarizerHarness(names);
let app: AppProcess | undefined;

beforeAll(() => harness.open());

afterAll(async () => {
  await app?.stop();
  await harness.close();
});

async function putAll(from: number, to: number): Promise<BatchIngestedEvent[]> {
  const events: BatchIngestedEvent[] = [];
  for (let b = from; b <= to; b += 25) {
    const chunk = await Promise.all(Array.from({ length: Math.min(25, to - b + 1) }, (_, i) => putEntries(harness.store, CUSTOMER, batchId(b + i), batchEntries(b + i))));
    events.push(...chunk);
  }
  return events;
}

describe('batch-summarizer killed with SIGKILL mid-stream', () => {
  it('leaves no partial missing after a restart, and every copy is byte-identical', async () => {
    const expected = new Map<string, string>();
    for (let b = 1; b <= BATCHES; b++) {
      for (const p of summarizeEntries({ customerId: CUSTOMER, batchId: batchId(b) }, batchEntries(b), { familyOf: userAgentFamily, maxPartialBytes: 512 * 1024 }).partials) {
        expected.set(`${p.batchId}|${p.windowStart}`, serializePartial(p));
      }
    }
    const seen = () => new Set(harness.insights.messages.map((m) => JSON.parse(m.value)).map((p) => `${p.batchId}|${p.windowStart}`));

    const firstHalf = await putAll(1, BATCHES / 2);
    app = await startApp('batch-summarizer', appEnv(names));
    await harness.producer.sendEvents(names.input, firstHalf);
    // Kill it while it works through the first half.
    await harness.insights.waitUntil('the first partials', (m) => m.length >= 40);
    await app.kill('SIGKILL');
    const atKill = seen().size;

    // More arrives while it is down.
    const secondHalf = await putAll(BATCHES / 2 + 1, BATCHES);
    await harness.producer.sendEvents(names.input, secondHalf);
    await app.restart();

    await harness.insights.waitUntil(`all ${expected.size} partials`, () => seen().size >= expected.size, 180_000);
    expect(atKill).toBeLessThan(expected.size);
    expect(seen()).toEqual(new Set(expected.keys()));
    for (const m of harness.insights.messages) {
      const p = JSON.parse(m.value);
      const key = `${p.batchId}|${p.windowStart}`;
      expect(m.value).toBe(expected.get(key));
      expect(m.key).toBe(`${CUSTOMER}|${p.windowStart}`);
    }
    expect(harness.dlq.messages).toHaveLength(0);

    const summaries = await Promise.all(Array.from({ length: BATCHES }, (_, i) => harness.store.head(`summaries/${CUSTOMER}/${batchId(i + 1)}.json`)));
    expect(summaries.filter((s) => s === null)).toHaveLength(0);
  });

  it('on SIGTERM finishes and commits what is in flight, so a restart redoes none of it', async () => {
    const from = BATCHES + 1;
    const to = BATCHES + 300;
    const events = await putAll(from, to);
    const offsets = new Map<string, { partition: number; offset: number }>();
    app = app ?? (await startApp('batch-summarizer', appEnv(names)));
    // One send per event, so each event's partition and offset are known.
    for (const event of events) {
      const [r] = await harness.producer.sendEvents(names.input, [event]);
      offsets.set(event.batchId, { partition: r.partition, offset: Number(r.baseOffset) });
    }
    await harness.insights.waitUntil('some partials of the new batches', () => events.some((e) => harness.partialsOf(e.batchId).length > 0));
    await app.stop();

    const done = events.filter((e) => harness.partialsOf(e.batchId).length > 0);
    await withAdmin(harness.kafka, async (admin) => {
      for (const e of done) {
        const { partition, offset } = offsets.get(e.batchId)!;
        expect(await committedOffset(admin, names.group, names.input, partition)).toBeGreaterThan(offset);
      }
    });

    await app.restart();
    const expectedCount = (id: string) => new Set(batchEntries(Number(id.slice(6))).map((x) => x.receivedAt.slice(0, 16))).size;
    await harness.insights.waitUntil('all partials of the new batches', () => events.every((e) => harness.partialsOf(e.batchId).length >= expectedCount(e.batchId)), 180_000);
    // Batches finished before the SIGTERM were committed: none of them is sent a second time.
    for (const e of done) expect(harness.partialsOf(e.batchId)).toHaveLength(expectedCount(e.batchId));
    expect(harness.dlq.messages).toHaveLength(0);
  });
});
