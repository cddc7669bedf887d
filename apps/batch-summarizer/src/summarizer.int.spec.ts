import { BatchIngestedEvent } from '@pipeline/contract';
import { LogEntry } from '@pipeline/entry';
import { AppProcess, metricValue, scrape, startApp, waitFor } from '@pipeline/testing';
import { DEAD_LETTER_HEADERS as DLQ_HEADERS } from '@pipeline/contract';
import { SummarizerHarness, appEnv, itNames, putEntries, putRawBatch } from './it-support';

jest.setTimeout(180_000);

const names = itNames('sum');
const CUSTOMER = 'cus-it';
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0';
const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';

const e = (receivedAt: string, path: string, userAgent: string, method = 'GET'): LogEntry => ({ receivedAt, method, path, userAgent });

const harness = new SummarizerHarness(names);
let app: AppProcess;

beforeAll(async () => {
  await harness.open();
  app = await startApp('batch-summarizer', appEnv(names));
});

afterAll(async () => {
  await app?.stop();
  await harness.close();
});

describe('batch-summarizer against Kafka and MinIO', () => {
  it('turns a batch-ingested event into one partial per minute and stores the summary', async () => {
    const event = await putEntries(harness.store, CUSTOMER, 'batch-a', [
      e('2025-12-28T18:03:00.000Z', '/', CHROME),
      e('2025-12-28T18:03:59.999Z', '/about?utm=x', FIREFOX),
      e('2025-12-28T20:04:00.000+02:00', '/', GOOGLEBOT, 'get'),
      e('2025-12-28T18:04:30.000Z', '/#top', 'curl/7.88.1'),
      e('2025-12-28T18:06:01.000Z', '/contact', ''),
    ]);
    await harness.producer.sendEvents(names.input, [event]);

    await harness.insights.waitUntil('3 partials of batch-a', () => harness.partialsOf('batch-a').length >= 3);
    const got = harness.partialsOf('batch-a');
    expect(got.map((m) => m.key).sort()).toEqual(['cus-it|2025-12-28T18:03Z', 'cus-it|2025-12-28T18:04Z', 'cus-it|2025-12-28T18:06Z']);
    const byMinute = Object.fromEntries(got.map((m) => [JSON.parse(m.value).windowStart, m.value]));
    expect(byMinute['2025-12-28T18:03Z']).toBe(
      '{"v":1,"batchId":"batch-a","customerId":"cus-it","windowStart":"2025-12-28T18:03Z","windowSize":"minute","total":2,"requestsByPath":{"GET /":1,"GET /about":1},"requestsByUserAgent":{"Chrome":1,"Firefox":1}}',
    );
    expect(JSON.parse(byMinute['2025-12-28T18:04Z'])).toMatchObject({ total: 2, requestsByPath: { 'GET /': 2 }, requestsByUserAgent: { Googlebot: 1, curl: 1 } });
    expect(JSON.parse(byMinute['2025-12-28T18:06Z'])).toMatchObject({ total: 1, requestsByPath: { 'GET /contact': 1 }, requestsByUserAgent: { Other: 1 } });

    const summary = await harness.store.get(`summaries/${CUSTOMER}/batch-a.json`);
    expect(summary).not.toBeNull();
    expect(JSON.parse(summary!.body.toString()).partials.map((p: { windowStart: string }) => p.windowStart)).toEqual([
      '2025-12-28T18:03Z',
      '2025-12-28T18:04Z',
      '2025-12-28T18:06Z',
    ]);

    const metrics = await scrape(app.opsUrl);
    expect(metricValue(metrics, 'summarizer_batches_total', { outcome: 'summarized' })).toBeGreaterThanOrEqual(1);
    expect(metricValue(metrics, 'summarizer_entries_total')).toBeGreaterThanOrEqual(5);
    expect(metricValue(metrics, 'summarizer_partials_emitted_total')).toBeGreaterThanOrEqual(3);
    expect(metricValue(metrics, 'summarizer_ua_cache_misses_total')).toBeGreaterThanOrEqual(5);
  });

  it('sends every partial of one window to the same partition, whichever batch it comes from', async () => {
    const events: BatchIngestedEvent[] = [];
    for (let b = 0; b < 6; b++) {
      events.push(await putEntries(harness.store, CUSTOMER, `batch-p${b}`, [e('2025-12-28T18:10:00Z', '/', CHROME), e(`2025-12-28T18:${11 + b}:00Z`, '/', CHROME)]));
    }
    await harness.producer.sendEvents(names.input, events);
    await harness.insights.waitUntil('partials of 6 batches', () => events.every((ev) => harness.partialsOf(ev.batchId).length >= 2));
    const minute10 = harness.insights.messages.filter((m) => m.key === 'cus-it|2025-12-28T18:10Z');
    expect(minute10.length).toBeGreaterThanOrEqual(6);
    expect(new Set(minute10.map((m) => m.partition)).size).toBe(1);
  });

  it('re-sends byte-identical partials when an event is delivered again', async () => {
    const event = await putEntries(harness.store, CUSTOMER, 'batch-r', [
      e('2025-12-28T18:20:00.000Z', '/x?y', CHROME),
      e('2025-12-28T18:21:00.000Z', '/x', FIREFOX),
      e('2025-12-28T18:21:30.000Z', '/z', CHROME),
    ]);
    await harness.producer.sendEvents(names.input, [event]);
    const first = (await harness.insights.waitUntil('2 partials of batch-r', () => harness.partialsOf('batch-r').length >= 2)).filter((m) => JSON.parse(m.value).batchId === 'batch-r');
    const before = metricValue(await scrape(app.opsUrl), 'summarizer_batches_total', { outcome: 'replayed' });

    await harness.producer.sendEvents(names.input, [event, event]);
    await harness.insights.waitUntil('3 copies of batch-r', () => harness.partialsOf('batch-r').length >= 6);
    const all = harness.partialsOf('batch-r');
    expect(all).toHaveLength(6);
    const byKey = new Map<string, Set<string>>();
    for (const m of all) byKey.set(m.key, (byKey.get(m.key) ?? new Set()).add(m.value));
    expect([...byKey.keys()].sort()).toEqual(['cus-it|2025-12-28T18:20Z', 'cus-it|2025-12-28T18:21Z']);
    for (const [key, values] of byKey) {
      expect(values.size).toBe(1);
      expect([...values][0]).toBe(first.find((m) => m.key === key)!.value);
    }
    await waitFor('replayed outcome counted', async () => metricValue(await scrape(app.opsUrl), 'summarizer_batches_total', { outcome: 'replayed' }) >= before + 2);
  });

  it('dead-letters poison events with a reason and goes on with the next good one', async () => {
    const stored = await putEntries(harness.store, CUSTOMER, 'batch-stored', [e('2025-12-28T18:30:00Z', '/', CHROME)]);
    // An event naming a raw key nothing was ever written to.
    const missing = { ...stored, batchId: 'batch-never-stored', objectKey: `raw/${CUSTOMER}/batch-never-stored.json` };
    const notJson = await putRawBatch(harness.store, CUSTOMER, 'batch-not-json', '[{"receivedAt":"2025-12-28T18:30:00Z",', 1);
    const good = await putEntries(harness.store, CUSTOMER, 'batch-good', [e('2025-12-28T18:31:00Z', '/ok', CHROME)]);
    const poison = [
      { key: 'garbage', value: 'this is not an event' },
      { key: `${CUSTOMER}|batch-never-stored`, value: JSON.stringify(missing) },
      { key: `${CUSTOMER}|batch-not-json`, value: JSON.stringify(notJson) },
    ];
    // One partition, poison first: the good event behind them must still be summarized.
    await harness.producer.sendRaw(names.input, 0, [...poison, { key: `${CUSTOMER}|batch-good`, value: JSON.stringify(good) }]);

    await harness.insights.waitUntil('partial of batch-good', () => harness.partialsOf('batch-good').length >= 1);
    const dead = await harness.dlq.waitUntil('3 dead letters', (m) => m.length >= 3);
    expect(dead).toHaveLength(3);
    // Dead letters keep the original key, so they spread over the DLQ's partitions: compare by key.
    const byKey = new Map(dead.map((m) => [m.key, m]));
    expect([...byKey.keys()].sort()).toEqual(poison.map((p) => p.key).sort());
    for (const p of poison) expect(byKey.get(p.key)!.value).toBe(p.value);
    expect(byKey.get('garbage')!.headers[DLQ_HEADERS.reasonCode]).toBe('event_invalid');
    expect(byKey.get(`${CUSTOMER}|batch-never-stored`)!.headers[DLQ_HEADERS.reasonCode]).toBe('object_missing');
    expect(byKey.get(`${CUSTOMER}|batch-not-json`)!.headers[DLQ_HEADERS.reasonCode]).toBe('object_invalid');
    expect(byKey.get(`${CUSTOMER}|batch-not-json`)!.headers[DLQ_HEADERS.reason]).toMatch(/not valid JSON/);
    for (const m of dead) {
      expect(m.headers[DLQ_HEADERS.reason].length).toBeGreaterThan(0);
      expect(m.headers[DLQ_HEADERS.sourceTopic]).toBe(names.input);
      expect(m.headers[DLQ_HEADERS.sourcePartition]).toBe('0');
    }
    expect(harness.partialsOf('batch-never-stored')).toHaveLength(0);
    expect(harness.partialsOf('batch-not-json')).toHaveLength(0);

    const metrics = await scrape(app.opsUrl);
    expect(metricValue(metrics, 'consumer_dead_letters_total')).toBe(3);
    expect(metricValue(metrics, 'summarizer_batches_total', { outcome: 'dlq' })).toBe(3);
    const ready = await fetch(`${app.opsUrl}/health/ready`);
    expect(ready.status).toBe(200);
  });

  it('reports consumer lag per partition, down to zero once everything is processed', async () => {
    await waitFor('lag gauge at zero on every partition', async () => {
      const text = await scrape(app.opsUrl);
      const lines = text.split('\n').filter((l) => l.startsWith('consumer_lag{'));
      return lines.length === 3 && lines.every((l) => l.endsWith(' 0'));
    });
  });
});
