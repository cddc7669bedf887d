import {
  batchIngestedMessage,
  deadLetterHeaders,
  insightEventMessage,
  isBatchId,
  isCustomerId,
  Partial as WindowPartial,
  partialId,
  parseBatchIngestedEvent,
  parsePartial,
  rawBatchKey,
  readDeadLetterHeaders,
  summaryKey,
  summaryKeyOfRaw,
  topicEnv,
} from './index';

const partial = (over: Partial<WindowPartial> = {}): WindowPartial => ({
  v: 1,
  batchId: 'b-1',
  customerId: 'cus-a',
  windowStart: '2025-12-28T18:03Z',
  windowSize: 'minute',
  total: 2,
  requestsByPath: { 'GET /': 2 },
  requestsByUserAgent: { curl: 2 },
  ...over,
});

describe('keys', () => {
  it('names objects and messages as the contract says', () => {
    expect(rawBatchKey('cus-a', 'b-1')).toBe('raw/cus-a/b-1.json');
    expect(summaryKey('cus-a', 'b-1')).toBe('summaries/cus-a/b-1.json');
    expect(summaryKeyOfRaw('raw/cus-a/b-1.json')).toBe('summaries/cus-a/b-1.json');
    expect(summaryKeyOfRaw('other/cus-a/b-1.json')).toBeNull();
    expect(insightEventMessage(partial()).key).toBe('cus-a|2025-12-28T18:03Z');
  });

  it('accepts the ids the gateway may send and nothing that could leave its prefix', () => {
    expect([isCustomerId('cus-a.b_c'), isCustomerId('..'), isCustomerId('a/b'), isCustomerId('x'.repeat(65))]).toEqual([true, false, false, false]);
    expect([isBatchId('2025:12:28-b.1'), isBatchId('.'), isBatchId('a#1'), isBatchId('x'.repeat(129))]).toEqual([true, false, false, false]);
  });

  it('defaults every topic to its contract name', () => {
    const defaults = Object.fromEntries(Object.entries(topicEnv).map(([k, schema]) => [k, schema.parse(undefined)]));
    expect(defaults).toEqual({
      TOPIC_BATCH_INGESTED: 'batch-ingested',
      TOPIC_INSIGHT_EVENTS: 'insight-events',
      TOPIC_BATCH_INGESTED_DLQ: 'batch-ingested-dlq',
      TOPIC_INSIGHT_EVENTS_DLQ: 'insight-events-dlq',
    });
  });
});

describe('insight-events partials', () => {
  it('recognises a split partial by its part, and an unsplit one by its batch', () => {
    expect(partialId(partial())).toBe('b-1');
    expect(partialId(partial({ part: 2, parts: 3 }))).toBe('b-1#2/3');
  });

  it.each([
    ['a part without parts', { part: 1 }],
    ['parts below 2', { part: 1, parts: 1 }],
    ['a part beyond parts', { part: 4, parts: 3 }],
    ['a window before 1970', { windowStart: '1969-12-31T23:59Z' }],
    ['a window after 2105', { windowStart: '2106-01-01T00:00Z' }],
    ['a key with a lone surrogate', { requestsByPath: { ['GET /\ud800']: 2 } }],
    ['a batch id with #', { batchId: 'b#1' }],
  ])('refuses %s', (_label, over) => {
    expect(parsePartial(partial(over as Partial<WindowPartial>)).ok).toBe(false);
  });

  it('serializes the same partial to the same bytes, parts last', () => {
    const a = insightEventMessage(partial({ part: 1, parts: 2, requestsByPath: { b: 1, a: 1 } }));
    expect(a.value).toBe('{"v":1,"batchId":"b-1","customerId":"cus-a","windowStart":"2025-12-28T18:03Z","windowSize":"minute","total":2,"requestsByPath":{"a":1,"b":1},"requestsByUserAgent":{"curl":2},"part":1,"parts":2}');
  });
});

describe('batch-ingested events', () => {
  it('round-trips through its message', () => {
    const event = { v: 1 as const, batchId: 'b-1', customerId: 'cus-a', objectKey: 'raw/cus-a/b-1.json', entries: 3, sha256: 'f'.repeat(64), ingestedAt: '2026-01-01T00:00:00.000Z' };
    const message = batchIngestedMessage(event);
    expect(message.key).toBe('cus-a|b-1');
    expect(parseBatchIngestedEvent(JSON.parse(message.value))).toEqual({ ok: true, value: event });
    expect(parseBatchIngestedEvent({ ...event, objectKey: 'raw/cus-b/b-1.json' }).ok).toBe(false);
  });
});

describe('dead-letter headers', () => {
  it('carry why and where from, and read back', () => {
    const info = { reasonCode: 'event_invalid', reason: 'x'.repeat(2_000), sourceTopic: 't', sourcePartition: 4, sourceOffset: '17', group: 'g', failedAt: '2026-01-01T00:00:00.000Z', batchId: 'b-1', customerId: 'cus-a' };
    const headers = deadLetterHeaders(info);
    expect(headers['dlq-reason']).toHaveLength(1_000);
    expect(readDeadLetterHeaders(headers)).toEqual({ ...info, reason: 'x'.repeat(1_000) });
  });
});
