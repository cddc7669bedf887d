import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { batchIngestedMessage, DEAD_LETTER_HEADERS, deadLetterHeaders, insightEventMessage, rawBatchKey } from '@pipeline/contract';
import { Kafka, logLevel, Producer } from 'kafkajs';
import { connectProducer, kafkaSasl, MinuteRow, Pipeline, runTool, sleep, startPipeline, TopicReader, waitFor, withAdmin } from '@pipeline/testing';

// The dead-letters tool against the real services (processes) on the real Kafka, MinIO and
// ClickHouse: poison reaches the dead-letter topics the way it does in production, is listed with
// its reason, and once its cause is fixed, replayed into the pipeline exactly once, however often.

const CUSTOMER = 'cus-dlq';
const ENTRIES = [
  { receivedAt: '2025-12-28T21:00:01Z', method: 'GET', path: '/restored', userAgent: 'curl/8.5.0' },
  { receivedAt: '2025-12-28T21:00:02Z', method: 'GET', path: '/restored', userAgent: 'curl/8.5.0' },
  { receivedAt: '2025-12-28T21:00:03Z', method: 'POST', path: '/restored', userAgent: '' },
];
const RESTORED: Record<string, MinuteRow> = {
  '2025-12-28T21:00Z': { windowStart: '2025-12-28T21:00Z', total: 3, paths: { 'GET /restored': 2, 'POST /restored': 1 }, uas: { curl: 2, Other: 1 } },
};
const PARTIAL = { v: 1 as const, batchId: 'incident-7', customerId: CUSTOMER, windowStart: '2025-12-28T22:00Z', windowSize: 'minute' as const, total: 2, requestsByPath: { 'GET /late': 2 }, requestsByUserAgent: { Firefox: 2 } };

interface Listed {
  topic: string;
  partition: number;
  offset: string;
  reasonCode: string;
  reason: string;
  customerId: string | null;
  batchId?: string;
  key: string | null;
}

describe('dead-letters (the operator tool) through the real pipeline', () => {
  let pipeline: Pipeline;
  let kafka: Kafka;
  let producer: Producer;
  let toolEnv: Record<string, string>;

  beforeAll(async () => {
    pipeline = await startPipeline('dlq');
    kafka = new Kafka({ clientId: 'it-dead-letters', brokers: pipeline.env.KAFKA_BROKERS.split(','), sasl: kafkaSasl(pipeline.env), logLevel: logLevel.NOTHING });
    producer = await connectProducer(kafka);
    toolEnv = Object.fromEntries(['KAFKA_BROKERS', 'TOPIC_BATCH_INGESTED', 'TOPIC_INSIGHT_EVENTS', 'TOPIC_BATCH_INGESTED_DLQ', 'TOPIC_INSIGHT_EVENTS_DLQ'].map((k) => [k, pipeline.env[k]]));
  }, 240_000);

  afterAll(async () => {
    await producer?.disconnect();
    await pipeline?.stop();
  }, 120_000);

  const tool = (...args: string[]) => runTool('dead-letters', args, { env: toolEnv });
  const listed = async (...args: string[]): Promise<Listed[]> => {
    const run = await tool('list', '--json', ...args);
    if (run.code !== 0) throw new Error(`list failed (${run.code}): ${run.stderr}`);
    return run.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Listed);
  };
  const minutes = () => pipeline.minutes(CUSTOMER);
  const untilMinutes = (what: string, expected: Record<string, MinuteRow>) =>
    waitFor(what, async () => isDeepStrictEqual(await minutes(), expected), 60_000, 500);

  it('lists poison with its reasons, replays a fixed batch exactly once however often, and leaves no consumer group behind', async () => {
    // A batch announced whose object is not in the bucket (lost, restored later from a backup).
    const body = Buffer.from(JSON.stringify(ENTRIES));
    const event = { v: 1 as const, batchId: 'restored-1', customerId: CUSTOMER, objectKey: rawBatchKey(CUSTOMER, 'restored-1'), entries: 3, sha256: createHash('sha256').update(body).digest('hex'), ingestedAt: '2026-01-01T00:00:00.000Z' };
    const announcement = batchIngestedMessage(event);
    await producer.send({ topic: pipeline.env.TOPIC_BATCH_INGESTED, messages: [{ ...announcement, headers: { 'trace-id': 't-42' } }] });
    // Partials no summarizer would send: one for another window than its key's, one not JSON.
    await producer.send({
      topic: pipeline.env.TOPIC_INSIGHT_EVENTS,
      messages: [
        { key: `${CUSTOMER}|2025-12-28T21:05Z`, value: JSON.stringify({ ...PARTIAL, batchId: 'misrouted', windowStart: '2025-12-28T21:04Z' }) },
        { key: `${CUSTOMER}|2025-12-28T21:06Z`, value: '{"v":1,' },
      ],
    });

    const letters = await waitFor('three dead letters', async () => {
      const found = await listed();
      return found.length >= 3 ? found : undefined;
    });
    expect(letters.map((l) => [l.topic, l.reasonCode, l.customerId]).sort()).toEqual(
      [
        [pipeline.env.TOPIC_BATCH_INGESTED_DLQ, 'object_missing', CUSTOMER],
        [pipeline.env.TOPIC_INSIGHT_EVENTS_DLQ, 'key_mismatch', CUSTOMER],
        [pipeline.env.TOPIC_INSIGHT_EVENTS_DLQ, 'not_json', CUSTOMER],
      ].sort(),
    );
    const missing = letters.find((l) => l.reasonCode === 'object_missing')!;
    expect(missing).toMatchObject({ batchId: 'restored-1', key: `${CUSTOMER}|restored-1`, reason: expect.stringMatching(/raw batch raw\/cus-dlq\/restored-1\.json not found/) });

    // The listing for people: counts by reason, and each letter's place, reason and source.
    const human = await tool('list', '--topic', pipeline.env.TOPIC_INSIGHT_EVENTS_DLQ);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`^${pipeline.env.TOPIC_INSIGHT_EVENTS_DLQ}: 2 dead letter\\(s\\) \\(key_mismatch 1, not_json 1\\)$`, 'm'));
    expect(human.stdout).toMatch(new RegExp(`^ {2}\\d+:\\d+ {2}key_mismatch {2}customer=cus-dlq .* from=${pipeline.env.TOPIC_INSIGHT_EVENTS}/\\d+/\\d+`, 'm'));
    expect(human.stdout).not.toContain('object_missing');

    // Replaying without a fix is harmless: the letter comes back, nothing is counted.
    const unfixed = await tool('replay', '--reason', 'not_json');
    expect(unfixed.code).toBe(0);
    expect(unfixed.stdout).toMatch(new RegExp(`${pipeline.env.TOPIC_INSIGHT_EVENTS_DLQ} -> ${pipeline.env.TOPIC_INSIGHT_EVENTS}: replayed 1 of 2 dead letter\\(s\\)`));
    await waitFor('the unfixed letter dead-lettered again', async () => (await listed('--reason', 'not_json')).length === 2);
    expect(await minutes()).toEqual({});

    // The fix: the object is back. Replay the batch: it is counted, exactly once.
    const s3 = new S3Client({ endpoint: pipeline.env.S3_ENDPOINT, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: pipeline.env.S3_ACCESS_KEY_ID, secretAccessKey: pipeline.env.S3_SECRET_ACCESS_KEY } });
    await s3.send(new PutObjectCommand({ Bucket: pipeline.env.S3_BUCKET, Key: event.objectKey, Body: body }));
    s3.destroy();
    const source = await TopicReader.start(kafka, pipeline.env.TOPIC_BATCH_INGESTED);
    try {
      const dry = await tool('replay', '--reason', 'object_missing', '--dry-run');
      expect(dry.stdout).toContain('would replay 1 of 1 dead letter(s)');
      const replayed = await tool('replay', '--reason', 'object_missing');
      expect(replayed.code).toBe(0);
      expect(replayed.stdout).toMatch(new RegExp(`${pipeline.env.TOPIC_BATCH_INGESTED_DLQ} -> ${pipeline.env.TOPIC_BATCH_INGESTED}: replayed 1 of 1 dead letter\\(s\\)`));
      await untilMinutes('the restored batch counted', RESTORED);

      // Its original key, value and headers, without the dead-letter headers.
      const copies = await source.waitUntil('the replayed announcement', () => source.withKey(`${CUSTOMER}|restored-1`).length === 2);
      const copy = copies.filter((m) => m.key === `${CUSTOMER}|restored-1`)[1];
      expect(copy.value).toBe(announcement.value);
      expect(copy.headers).toEqual({ 'trace-id': 't-42' });
    } finally {
      await source.stop();
    }

    // Twice, and by customer: still exactly once.
    const twice = await tool('replay', '--customer', CUSTOMER, '--topic', pipeline.env.TOPIC_BATCH_INGESTED_DLQ);
    expect(twice.code).toBe(0);
    expect(twice.stdout).toContain('replayed 1 of 1 dead letter(s)');
    await sleep(5_000);
    expect(await minutes()).toEqual(RESTORED);
    expect(await listed('--reason', 'object_missing')).toHaveLength(1); // it did not fail again

    // Reading committed nothing and left no group of its own; the services' groups are as they were.
    const groups = await withAdmin(kafka, async (admin) => (await admin.listGroups()).groups.map((g) => g.groupId));
    expect(groups.filter((g) => g.startsWith('dead-letters-tool'))).toEqual([]);
    expect(groups).toEqual(expect.arrayContaining([pipeline.env.SUMMARIZER_GROUP_ID, pipeline.env.AGGREGATOR_GROUP_ID]));
  }, 300_000);

  it('replays a partial chosen by its place once, whatever the repeats', async () => {
    // A partial dead-lettered during an incident (ClickHouse refused it then; it takes it now),
    // and a second letter of the same source message (a crash between dead-lettering and commit).
    const { key, value } = insightEventMessage(PARTIAL);
    const headers = deadLetterHeaders({ reasonCode: 'clickhouse_timeout', reason: 'Timeout exceeded', sourceTopic: pipeline.env.TOPIC_INSIGHT_EVENTS, sourcePartition: 1, sourceOffset: '900', group: pipeline.env.AGGREGATOR_GROUP_ID, failedAt: '2026-01-01T00:00:00.000Z', batchId: PARTIAL.batchId, customerId: CUSTOMER });
    await producer.send({ topic: pipeline.env.TOPIC_INSIGHT_EVENTS_DLQ, messages: [{ key, value, headers, partition: 0 }, { key, value, headers, partition: 0 }] });
    const incident = (await listed('--reason', 'clickhouse_timeout')).map((l) => `${l.partition}:${l.offset}`);
    expect(incident).toHaveLength(2);

    const before = await minutes();
    const replayed = await tool('replay', '--reason', 'clickhouse_timeout');
    expect(replayed.code).toBe(0);
    expect(replayed.stdout).toContain('(1 repeated letter(s) of the same source message skipped)');
    const expected = { ...before, '2025-12-28T22:00Z': { windowStart: '2025-12-28T22:00Z', total: 2, paths: { 'GET /late': 2 }, uas: { Firefox: 2 } } };
    await untilMinutes('the replayed partial counted', expected);

    // The other letter, chosen by its place: a duplicate downstream, nothing changes.
    const again = await tool('replay', '--offset', incident[1]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(new RegExp(`replayed ${incident[1]} clickhouse_timeout customer=cus-dlq batch=incident-7`));
    await sleep(5_000);
    expect(await minutes()).toEqual(expected);
    const replayedHeaders = await TopicReader.start(kafka, pipeline.env.TOPIC_INSIGHT_EVENTS);
    try {
      const copies = await replayedHeaders.waitUntil('both replays on the source topic', (m) => m.filter((x) => x.value === value).length === 2);
      const dlqHeaders: string[] = Object.values(DEAD_LETTER_HEADERS);
      for (const c of copies.filter((x) => x.value === value)) expect(Object.keys(c.headers).filter((h) => dlqHeaders.includes(h))).toEqual([]);
    } finally {
      await replayedHeaders.stop();
    }
  }, 300_000);

  it('refuses to replay without a choice, and names an unknown topic', async () => {
    const none = await tool('replay');
    expect([none.code, none.stderr]).toEqual([2, expect.stringContaining('choose what to replay')]);
    const unknown = await tool('list', '--topic', 'no-such-dlq');
    expect([unknown.code, unknown.stderr]).toEqual([2, expect.stringContaining('not a dead-letter topic of this configuration: no-such-dlq')]);
  }, 60_000);
});
