import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { batchIngestedMessage, DEAD_LETTER_HEADERS, rawBatchKey } from '@pipeline/contract';
import { createHash } from 'node:crypto';
import { Consumer, Kafka, logLevel, SASLOptions } from 'kafkajs';
import { expectedResults, JSON_CONTENT_TYPE, jsonBody, scenarioHostileInput } from '../scenarios';
import { AggregateReader } from '../support/aggregates';
import { IngestClient } from '../support/http';
import { runScenario } from '../support/run';
import { Stack, StackWire } from '../support/stack';
import { startStack } from '../support/start-stack';
import { printSummary } from '../support/summary';
import { EXACT, finalAnswers, SCENARIO_TIMEOUT_MS, STACK_TIMEOUT_MS, verdict } from './scenario-spec';

/** Everything a topic holds, read from the beginning by a group of its own until `done` says enough. */
async function readTopic(kafka: Kafka, topic: string, done: (messages: { key: string; headers: Record<string, string> }[]) => boolean, timeoutMs = 60_000) {
  const messages: { key: string; headers: Record<string, string> }[] = [];
  const consumer: Consumer = kafka.consumer({ groupId: `e2e-reader-${Date.now()}-${Math.random().toString(36).slice(2)}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        messages.push({
          key: message.key?.toString('utf8') ?? '',
          headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(Array.isArray(v) ? v[0] : v)])),
        });
      },
    });
    const deadline = Date.now() + timeoutMs;
    while (!done(messages) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    return messages;
  } finally {
    await consumer.disconnect();
  }
}

describe('scenario 008: hostile input', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ name: 's008' });
  }, STACK_TIMEOUT_MS);
  afterAll(async () => {
    await stack?.stop();
    printSummary();
  }, 120_000);

  it('refuses what cannot be counted exactly, splits and folds the rest, and counts everything accepted exactly', async () => {
    const scenario = scenarioHostileInput({ customerSuffix: stack.customerSuffix });
    const outcome = await runScenario(stack, scenario);
    expect(finalAnswers(outcome)).toEqual({ 202: scenario.sends.filter((s) => s.expect.kind === 'accepted').length, 400: 6 });
    expect(verdict(outcome)).toEqual(EXACT);
    // Every 400 names the entry and the field.
    const refused = outcome.report.records.filter((r) => r.status === 400);
    for (const r of refused) expect(JSON.parse(r.body ?? '{}')).toMatchObject({ error: { code: 'invalid_entries', details: { errors: [{ index: 1, field: expect.stringMatching(/^(path|userAgent|receivedAt)$/) }] } } });
  }, SCENARIO_TIMEOUT_MS);

  it('dead-letters what a foreign producer puts on the topics, with its reason, and keeps counting other traffic', async () => {
    const wire: StackWire | undefined = stack.wire;
    if (!wire) {
      // A stack given only by URLs: its topics are out of reach (set E2E_KAFKA_BROKERS to reach them).
      expect(stack.mode).toBe('external');
      return;
    }
    const kafka = new Kafka({ clientId: 'e2e-hostile', brokers: wire.kafkaBrokers, sasl: wire.kafkaSasl as SASLOptions | undefined, logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const s3 = new S3Client({ endpoint: wire.s3.endpoint, region: wire.s3.region, forcePathStyle: true, credentials: { accessKeyId: wire.s3.accessKeyId, secretAccessKey: wire.s3.secretAccessKey } });
    const foreign = `cus-foreign${stack.customerSuffix}`;
    try {
      // A raw batch that never went through the ingestion (a lone surrogate in a path), announced.
      const body = Buffer.from('[{"receivedAt":"2025-12-28T21:00:00Z","method":"GET","path":"/\\ud800","userAgent":"curl/8.5.0"}]');
      await s3.send(new PutObjectCommand({ Bucket: wire.s3.bucket, Key: rawBatchKey(foreign, 'smuggled'), Body: body }));
      const event = { v: 1 as const, batchId: 'smuggled', customerId: foreign, objectKey: rawBatchKey(foreign, 'smuggled'), entries: 1, sha256: createHash('sha256').update(body).digest('hex'), ingestedAt: new Date().toISOString() };
      await producer.send({ topic: wire.topics.batchIngested, messages: [batchIngestedMessage(event)] });
      // Partials no summarizer would send: a window of 1900, a lone surrogate key, not JSON, a key of another window.
      const partial = { v: 1, batchId: 'forged', customerId: foreign, windowStart: '2025-12-28T21:00Z', windowSize: 'minute', total: 1, requestsByPath: { 'GET /': 1 }, requestsByUserAgent: { curl: 1 } };
      await producer.send({
        topic: wire.topics.insightEvents,
        messages: [
          { key: `${foreign}|1900-01-01T00:00Z`, value: JSON.stringify({ ...partial, batchId: 'old', windowStart: '1900-01-01T00:00Z' }) },
          { key: `${foreign}|2025-12-28T21:00Z`, value: JSON.stringify({ ...partial, batchId: 'surrogate', requestsByPath: { ['GET /\ud800']: 1 } }) },
          { key: `${foreign}|2025-12-28T21:00Z`, value: '{"v":1,' },
          { key: `${foreign}|2025-12-28T21:01Z`, value: JSON.stringify({ ...partial, batchId: 'misrouted' }) },
        ],
      });

      // The pipeline goes on: an ordinary batch of another customer is counted within seconds.
      const steady = `cus-after${stack.customerSuffix}`;
      const entries = [{ receivedAt: '2025-12-28T21:05:00Z', method: 'GET', path: '/after', userAgent: 'curl/8.5.0' }];
      const send = { customerId: steady, idempotencyKey: 'after-poison', body: jsonBody(entries), contentType: JSON_CONTENT_TYPE, entries, expect: { kind: 'accepted' as const } };
      const sent = Date.now();
      const client = new IngestClient(1);
      const answer = await client.post(stack.url('batch-ingestion'), send);
      client.close();
      expect(answer.status).toBe(202);
      const reader = new AggregateReader(stack.clickhouse);
      const expected = expectedResults({ sends: [send], families: new Map([['curl/8.5.0', 'curl']]) });
      let visibleAfterMs: number | undefined;
      while (Date.now() - sent < 30_000) {
        const minute = await reader.read('minute', [steady]);
        if (JSON.stringify([...minute]) === JSON.stringify([...expected.minute])) {
          visibleAfterMs = Date.now() - sent;
          break;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      expect({ visibleWithin10s: visibleAfterMs !== undefined && visibleAfterMs < 10_000 }).toEqual({ visibleWithin10s: true });

      const summarizerDlq = await readTopic(kafka, wire.topics.batchIngestedDlq, (m) => m.some((x) => x.key === `${foreign}|smuggled`));
      expect(summarizerDlq.find((m) => m.key === `${foreign}|smuggled`)?.headers).toMatchObject({ [DEAD_LETTER_HEADERS.reasonCode]: 'object_invalid', [DEAD_LETTER_HEADERS.reason]: expect.stringMatching(/well-formed Unicode/) });
      const aggregatorDlq = await readTopic(kafka, wire.topics.insightEventsDlq, (m) => m.filter((x) => x.key.startsWith(foreign)).length >= 4);
      const reasons = aggregatorDlq.filter((m) => m.key.startsWith(foreign)).map((m) => [m.key.slice(foreign.length), m.headers[DEAD_LETTER_HEADERS.reasonCode]]);
      expect(reasons.sort()).toEqual(
        [
          ['|1900-01-01T00:00Z', 'invalid_partial'],
          ['|2025-12-28T21:00Z', 'invalid_partial'],
          ['|2025-12-28T21:00Z', 'not_json'],
          ['|2025-12-28T21:01Z', 'key_mismatch'],
        ].sort(),
      );
      // Nothing of the foreign customer was counted.
      expect([...(await reader.read('minute', [foreign]))]).toEqual([]);
      await reader.close();
    } finally {
      await producer.disconnect();
      s3.destroy();
    }
  }, SCENARIO_TIMEOUT_MS);
});
