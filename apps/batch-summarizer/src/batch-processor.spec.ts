import { createHash } from 'node:crypto';
import { rawBatchKey, summaryKey } from '@pipeline/batch';
import { UserAgentClassifier } from '@pipeline/entry';
import { parsePartial } from '@pipeline/partial';
import { createLogger } from '@pipeline/platform';
import { Registry } from 'prom-client';
import { BatchProcessor, DLQ_HEADERS, InboundMessage, ProcessControl, StoppedError } from './batch-processor';
import { SummarizerMetrics } from './metrics';
import { MemoryPublisher, MemoryStore } from './unit-fakes';

const CUSTOMER = 'cus-axon';
const entries = [
  { receivedAt: '2025-12-28T18:03:59.999Z', method: 'GET', path: '/?a=1', userAgent: 'curl/7.88.1' },
  { receivedAt: '2025-12-28T18:04:00.000Z', method: 'get', path: '/about#x', userAgent: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)' },
  { receivedAt: '2025-12-28T20:04:30.000+02:00', method: 'GET', path: '/about', userAgent: '' },
];

function setup() {
  const store = new MemoryStore();
  const publisher = new MemoryPublisher();
  const classifier = new UserAgentClassifier(100);
  const registry = new Registry();
  const metrics = new SummarizerMetrics(registry, classifier);
  const logger = createLogger('test', 'silent');
  const processor = new BatchProcessor({ store, publisher, classifier, metrics, logger, insightTopic: 'insights', dlqTopic: 'dlq', retryMaxMs: 1 });
  let offset = 0;
  const message = (value: string | null, key = 'k'): InboundMessage => ({
    topic: 'ingested',
    partition: 0,
    offset: String(offset++),
    key: Buffer.from(key),
    value: value === null ? null : Buffer.from(value),
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
  return { store, publisher, processor, message, putRaw, metric };
}

const running: ProcessControl = { shouldStop: () => false, heartbeat: async () => undefined };

describe('BatchProcessor', () => {
  it('stores the summary and publishes one partial per minute keyed by customer and minute', async () => {
    const { store, publisher, processor, message, putRaw, metric } = setup();
    const event = putRaw('b-1', JSON.stringify(entries));
    await expect(processor.process(message(event), running)).resolves.toBe('summarized');

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
    await processor.process(message(event), running);
    const first = publisher.on('insights').map((m) => String(m.value));
    await expect(processor.process(message(event), running)).resolves.toBe('replayed');
    const all = publisher.on('insights').map((m) => String(m.value));
    expect(all).toEqual([...first, ...first]);
    expect(store.puts).toBe(2);
    expect(await metric('summarizer_batches_total', { outcome: 'replayed' })).toBe(1);
  });

  it('prefers the stored summary over a fresh computation', async () => {
    const { store, publisher, processor, message, putRaw } = setup();
    const event = putRaw('b-1', JSON.stringify(entries));
    await processor.process(message(event), running);
    // Pretend an earlier build classified user agents differently.
    const key = summaryKey(CUSTOMER, 'b-1');
    const stored = store.objects.get(key)!;
    store.objects.set(key, { ...stored, body: Buffer.from(stored.body.toString().replaceAll('"Googlebot"', '"Gbot"')) });
    publisher.sent.length = 0;
    await processor.process(message(event), running);
    expect(publisher.on('insights').map((m) => String(m.value)).join()).toContain('"Gbot":1');
  });

  it('falls back to the fresh summary when the stored one is unreadable', async () => {
    const { store, publisher, processor, message, putRaw } = setup();
    const event = putRaw('b-1', JSON.stringify(entries));
    await processor.process(message(event), running);
    const first = publisher.on('insights').map((m) => String(m.value));
    store.objects.set(summaryKey(CUSTOMER, 'b-1'), { body: Buffer.from('{broken'), metadata: {} });
    publisher.sent.length = 0;
    await expect(processor.process(message(event), running)).resolves.toBe('replayed');
    expect(publisher.on('insights').map((m) => String(m.value))).toEqual(first);
  });

  it.each([
    ['an empty message', () => null, 'event_invalid'],
    ['a value that is not JSON', () => 'not json', 'event_invalid'],
    ['an event that does not validate', () => JSON.stringify({ v: 2 }), 'event_invalid'],
  ])('dead-letters %s with its reason and the original value', async (_label, value, code) => {
    const { publisher, processor, message, metric } = setup();
    const msg = message(value());
    await expect(processor.process(msg, running)).resolves.toBe('dlq');
    const [dead] = publisher.on('dlq');
    expect(dead.headers?.[DLQ_HEADERS.reasonCode]).toBe(code);
    expect(dead.headers?.[DLQ_HEADERS.reason]).toBeTruthy();
    expect(dead.headers?.[DLQ_HEADERS.sourceOffset]).toBe(msg.offset);
    expect(Buffer.from(dead.value).equals(msg.value ?? Buffer.alloc(0))).toBe(true);
    expect(publisher.on('insights')).toHaveLength(0);
    expect(await metric('summarizer_dlq_total', { reason: code })).toBe(1);
    expect(await metric('summarizer_batches_total', { outcome: 'dlq' })).toBe(1);
  });

  it('dead-letters an event whose raw batch is missing, not JSON, invalid, or not the announced one', async () => {
    const { store, publisher, processor, message, putRaw } = setup();
    const missing = putRaw('gone', JSON.stringify(entries));
    store.objects.delete(rawBatchKey(CUSTOMER, 'gone'));
    const notJson = putRaw('not-json', '[{"receivedAt":');
    const invalid = putRaw('invalid', JSON.stringify([{ ...entries[0], receivedAt: 'yesterday' }]));
    const swapped = putRaw('swapped', JSON.stringify(entries));
    store.objects.set(rawBatchKey(CUSTOMER, 'swapped'), { body: Buffer.from(JSON.stringify(entries.slice(1))), metadata: {} });
    for (const event of [missing, notJson, invalid, swapped]) await processor.process(message(event), running);
    expect(publisher.on('dlq').map((m) => [m.headers?.[DLQ_HEADERS.batchId], m.headers?.[DLQ_HEADERS.reasonCode]])).toEqual([
      ['gone', 'object_missing'],
      ['not-json', 'object_invalid'],
      ['invalid', 'object_invalid'],
      ['swapped', 'object_mismatch'],
    ]);
    expect(publisher.on('insights')).toHaveLength(0);
    expect([...store.objects.keys()].filter((k) => k.startsWith('summaries/'))).toEqual([]);
  });

  it('retries while S3 and Kafka are unavailable, then succeeds once', async () => {
    const { store, publisher, processor, message, putRaw, metric } = setup();
    const event = putRaw('b-1', JSON.stringify(entries));
    store.failures = 3;
    publisher.failures = 2;
    let heartbeats = 0;
    const ctl: ProcessControl = { shouldStop: () => false, heartbeat: async () => void heartbeats++ };
    await expect(processor.process(message(event), ctl)).resolves.toBe('summarized');
    expect(publisher.on('insights')).toHaveLength(2);
    expect(heartbeats).toBe(5);
    expect(await metric('summarizer_retries_total')).toBe(5);
  });

  it('gives up unacknowledged (StoppedError) when told to stop during an outage', async () => {
    const { store, publisher, processor, message, putRaw } = setup();
    const event = putRaw('b-1', JSON.stringify(entries));
    store.failures = 1_000;
    let polls = 0;
    const ctl: ProcessControl = { shouldStop: () => ++polls > 3, heartbeat: async () => undefined };
    await expect(processor.process(message(event), ctl)).rejects.toBeInstanceOf(StoppedError);
    expect(publisher.sent).toHaveLength(0);
  });

  it('dead-letters instead of retrying forever when something other than S3 or Kafka fails', async () => {
    const { store, publisher, processor, message, putRaw } = setup();
    const event = putRaw('b-1', JSON.stringify(entries));
    store.get = async () => {
      throw new TypeError('boom');
    };
    await expect(processor.process(message(event), running)).resolves.toBe('dlq');
    expect(publisher.on('dlq')[0].headers?.[DLQ_HEADERS.reasonCode]).toBe('internal_error');
  });
});
