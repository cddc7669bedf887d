import { createHash } from 'node:crypto';
import { BATCH_INGESTED_HEADERS, parsePartial, rawBatchKey, summaryKey } from '@pipeline/contract';
import { UserAgentClassifier } from '@pipeline/entry';
import { ConsumedMessage } from '@pipeline/kafka';
import { createLogger, DependencyError } from '@pipeline/platform';
import { Registry } from 'prom-client';
import { SummarizerMetrics } from './metrics';
import { customerOfEventKey, SummarizeHandler } from './summarize-handler';
import { MemoryPublisher, MemoryStore } from './unit-fakes';

const CUSTOMER = 'cus-axon';
const entries = [
  { receivedAt: '2025-12-28T18:03:59.999Z', method: 'GET', path: '/?a=1', userAgent: 'curl/7.88.1' },
  { receivedAt: '2025-12-28T18:04:00.000Z', method: 'get', path: '/about#x', userAgent: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)' },
  { receivedAt: '2025-12-28T20:04:30.000+02:00', method: 'GET', path: '/about', userAgent: '' },
];

function setup(maxPartialBytes = 512 * 1024) {
  const store = new MemoryStore();
  const publisher = new MemoryPublisher();
  const classifier = new UserAgentClassifier(100);
  const registry = new Registry();
  const metrics = new SummarizerMetrics(registry, classifier);
  const logger = createLogger('test', 'silent');
  const handler = new SummarizeHandler({ store, publisher, classifier, metrics, logger, insightTopic: 'insights', maxPartialBytes });
  /** One event through the handler: `refused` with its code, or `done`. */
  const processor = {
    process: async (msg: ConsumedMessage) => {
      const [rejected] = await handler.handle([msg]);
      return rejected ? `refused:${rejected.code}` : 'done';
    },
    handler,
  };
  let offset = 0;
  const message = (value: string | null, key = 'k'): ConsumedMessage => ({
    topic: 'ingested',
    partition: 0,
    offset: String(offset++),
    key: Buffer.from(key),
    value: value === null ? null : Buffer.from(value),
    headers: {},
  });
  const putRaw = (batchId: string, body: string) => {
    store.objects.set(rawBatchKey(CUSTOMER, batchId), { body: Buffer.from(body), metadata: {} });
    return JSON.stringify({
      v: 1,
      batchId,
      customerId: CUSTOMER,
      objectKey: rawBatchKey(CUSTOMER, batchId),
      entries: (() => {
        try {
          const parsed = JSON.parse(body);
          return Array.isArray(parsed) ? parsed.length : 1;
        } catch {
          return 1;
        }
      })(),
      sha256: createHash('sha256').update(body).digest('hex'),
      ingestedAt: '2025-12-28T18:10:00.000Z',
    });
  };
  const metric = async (name: string, labels: Record<string, string> = {}) => {
    const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
    const matching = (m?.values ?? []).filter((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
    return matching.reduce((sum, x) => sum + x.value, 0);
  };
  return { store, publisher, processor, handler, message, putRaw, metric };
}

describe('SummarizeHandler', () => {
  it('refuses an object it cannot split into parts with a code of its own, never as a bare internal error', async () => {
    // Only below the floor the configuration allows, or with a foreign object: a key wider than a part.
    const { processor, message, putRaw, publisher } = setup(1_024);
    const event = putRaw('b-wide', JSON.stringify([{ receivedAt: '2025-12-28T18:03:00Z', method: 'GET', path: `/${'w'.repeat(2_000)}`, userAgent: '' }]));
    await expect(processor.process(message(event))).resolves.toBe('refused:partial_unsplittable');
    expect(publisher.on('insights')).toEqual([]);
  });

  it('stores the summary and publishes one partial per minute keyed by customer and minute', async () => {
    const { store, publisher, processor, message, putRaw, metric } = setup();
    const event = putRaw('b-1', JSON.stringify(entries));
    await expect(processor.process(message(event))).resolves.toBe('done');

    const sent = publisher.on('insights');
    expect(sent.map((m) => m.key)).toEqual(['cus-axon|2025-12-28T18:03Z', 'cus-axon|2025-12-28T18:04Z']);
    const partials = sent.map((m) => JSON.parse(String(m.value)));
    expect(partials.map((p) => parsePartial(p).ok)).toEqual([true, true]);
    expect(partials[1]).toEqual({
      v: 1,
      batchId: 'b-1',
      customerId: CUSTOMER,
      windowStart: '2025-12-28T18:04Z',
      windowSize: 'minute',
      total: 2,
      requestsByPath: { 'GET /about': 2 },
      requestsByUserAgent: { Googlebot: 1, Other: 1 },
    });
    const summary = JSON.parse(store.objects.get(summaryKey(CUSTOMER, 'b-1'))!.body.toString());
    expect(summary.partials).toEqual(partials);
    expect(await metric('summarizer_batches_total', { outcome: 'summarized' })).toBe(1);
    expect(await metric('summarizer_entries_total')).toBe(3);
    expect(await metric('summarizer_partials_emitted_total')).toBe(2);
  });

  it('re-sends the stored summary byte for byte when the event is delivered again', async () => {
    const { store, publisher, processor, message, putRaw, metric } = setup();
    const event = putRaw('b-1', JSON.stringify(entries));
    await processor.process(message(event));
    const first = publisher.on('insights').map((m) => String(m.value));
    await expect(processor.process(message(event))).resolves.toBe('done');
    const all = publisher.on('insights').map((m) => String(m.value));
    expect(all).toEqual([...first, ...first]);
    expect(store.puts).toBe(2);
    expect(await metric('summarizer_batches_total', { outcome: 'replayed' })).toBe(1);
  });

  it('prefers the stored summary over a fresh computation', async () => {
    const { store, publisher, processor, message, putRaw } = setup();
    const event = putRaw('b-1', JSON.stringify(entries));
    await processor.process(message(event));
    // Pretend an earlier build classified user agents differently.
    const key = summaryKey(CUSTOMER, 'b-1');
    const stored = store.objects.get(key)!;
    store.objects.set(key, { ...stored, body: Buffer.from(stored.body.toString().replaceAll('"Googlebot"', '"Gbot"')) });
    publisher.sent.length = 0;
    await processor.process(message(event));
    expect(publisher.on('insights').map((m) => String(m.value)).join()).toContain('"Gbot":1');
  });

  it('falls back to the fresh summary when the stored one is unreadable', async () => {
    const { store, publisher, processor, message, putRaw } = setup();
    const event = putRaw('b-1', JSON.stringify(entries));
    await processor.process(message(event));
    const first = publisher.on('insights').map((m) => String(m.value));
    store.objects.set(summaryKey(CUSTOMER, 'b-1'), { body: Buffer.from('{broken'), metadata: {} });
    publisher.sent.length = 0;
    await expect(processor.process(message(event))).resolves.toBe('done');
    expect(publisher.on('insights').map((m) => String(m.value))).toEqual(first);
  });

  it.each([
    ['an empty message', () => null, 'event_invalid'],
    ['a value that is not JSON', () => 'not json', 'event_invalid'],
    ['an event that does not validate', () => JSON.stringify({ v: 2 }), 'event_invalid'],
  ])('refuses %s with its reason', async (_label, value, code) => {
    const { publisher, handler, message, metric } = setup();
    const msg = message(value());
    const [rejected] = await handler.handle([msg]);
    expect(rejected.code).toBe(code);
    expect(rejected.reason).toBeTruthy();
    expect(rejected.message).toBe(msg);
    expect(publisher.on('insights')).toHaveLength(0);
    expect(await metric('summarizer_batches_total', { outcome: 'dlq' })).toBe(1);
  });

  it('refuses an event whose raw batch is missing, not JSON, invalid, or not the announced one', async () => {
    const { store, publisher, handler, message, putRaw } = setup();
    const missing = putRaw('gone', JSON.stringify(entries));
    store.objects.delete(rawBatchKey(CUSTOMER, 'gone'));
    const notJson = putRaw('not-json', '[{"receivedAt":');
    const invalid = putRaw('invalid', JSON.stringify([{ ...entries[0], receivedAt: 'yesterday' }]));
    const swapped = putRaw('swapped', JSON.stringify(entries));
    store.objects.set(rawBatchKey(CUSTOMER, 'swapped'), { body: Buffer.from(JSON.stringify(entries.slice(1))), metadata: {} });
    const rejected = await handler.handle([missing, notJson, invalid, swapped].map((e) => message(e)));
    expect(rejected.map((r) => [r.batchId, r.code])).toEqual([
      ['gone', 'object_missing'],
      ['not-json', 'object_invalid'],
      ['invalid', 'object_invalid'],
      ['swapped', 'object_mismatch'],
    ]);
    expect(publisher.on('insights')).toHaveLength(0);
    expect([...store.objects.keys()].filter((k) => k.startsWith('summaries/'))).toEqual([]);
  });

  it('takes a small batch from its event instead of S3, and reads S3 when the bytes do not match the digest', async () => {
    const { store, publisher, handler, message, putRaw } = setup();
    const body = JSON.stringify(entries);
    const withBody = (event: string, bytes: string) => ({ ...message(event), headers: { [BATCH_INGESTED_HEADERS.rawBody]: Buffer.from(bytes) } });
    await expect(handler.handle([withBody(putRaw('inline', body), body)])).resolves.toEqual([]);
    expect(store.gets).toBe(0);
    expect(publisher.on('insights')).toHaveLength(2);
    await expect(handler.handle([withBody(putRaw('forged', body), '[]')])).resolves.toEqual([]);
    expect(store.gets).toBe(1);
    expect(publisher.on('insights').filter((m) => String(m.value).includes('"forged"'))).toHaveLength(2);
  });

  it('lets S3 and Kafka failures through, typed, for the runtime to retry', async () => {
    const { store, publisher, handler, message, putRaw } = setup();
    const event = putRaw('b-1', JSON.stringify(entries));
    store.failures = 1;
    const s3Down = (await handler.handle([message(event)]).catch((e: unknown) => e)) as DependencyError;
    expect(s3Down).toBeInstanceOf(DependencyError);
    expect([s3Down.dependency, s3Down.retryable]).toEqual(['s3', true]);
    publisher.failures = 1;
    const kafkaDown = (await handler.handle([message(event)]).catch((e: unknown) => e)) as DependencyError;
    expect([kafkaDown.dependency, kafkaDown.retryable]).toEqual(['kafka', true]);
    await expect(handler.handle([message(event)])).resolves.toEqual([]);
    expect(publisher.on('insights')).toHaveLength(2);
  });

  it('splits a minute with more distinct paths than one message holds into numbered parts that add up', async () => {
    const { publisher, handler, message, putRaw, store } = setup();
    const wide = Array.from({ length: 1_010 }, (_, i) => ({ ...entries[0], path: `/p/${i}/${'x'.repeat(1_900)}` }));
    await expect(handler.handle([message(putRaw('wide', JSON.stringify(wide)))])).resolves.toEqual([]);
    const sent = publisher.on('insights');
    const parts = sent.map((m) => JSON.parse(String(m.value)));
    expect(parts.length).toBeGreaterThan(2);
    for (const m of sent) expect(Buffer.byteLength(String(m.value))).toBeLessThanOrEqual(512 * 1024);
    expect(new Set(sent.map((m) => m.key))).toEqual(new Set(['cus-axon|2025-12-28T18:03Z']));
    expect(parts.map((p) => [p.part, p.parts])).toEqual(parts.map((_, i) => [i + 1, parts.length]));
    expect(parts.every((p) => parsePartial(p).ok)).toBe(true);
    const paths = new Map<string, number>();
    for (const p of parts) for (const [k, n] of Object.entries(p.requestsByPath as Record<string, number>)) paths.set(k, (paths.get(k) ?? 0) + n);
    expect(paths.size).toBe(1_010);
    expect([...paths.values()].every((n) => n === 1)).toBe(true);
    expect(parts.reduce((n, p) => n + p.total, 0)).toBe(1_010);
    // The stored summary holds the parts, so a redelivery sends the very same messages.
    expect(JSON.parse(store.objects.get(summaryKey(CUSTOMER, 'wide'))!.body.toString()).partials).toEqual(parts);
  });
});

describe('customerOfEventKey', () => {
  it('reads the customer from a batch-ingested key, and takes a foreign key as a customer of its own', () => {
    expect(customerOfEventKey(Buffer.from('cus-a|batch-1'))).toBe('cus-a');
    expect(customerOfEventKey(Buffer.from('cus-a|b|c'))).toBe('cus-a');
    expect(customerOfEventKey(Buffer.from('no-bar'))).toBe('no-bar');
    expect(customerOfEventKey(null)).toBe('');
  });
});
