import { AppProcess, deleteTopics, metricValue, startApp, uniqueName, waitFor, withAdmin } from '@pipeline/testing';
import { appEnv, dropBucket, entry, itKafka, itNames, postLogs } from './it-support';

jest.setTimeout(120_000);

const bodyOf = (n: number, tag: string) => Buffer.from(JSON.stringify(Array.from({ length: n }, (_, i) => entry({ path: `/${tag}/${i}` }))));

/**
 * The door reads the summarizer group's lag from Kafka: while it is above the line, each customer is
 * held to the byte rate while behind (429, limit "backlog"), a customer sending little passes as
 * before, and once the group has caught up the flood is let in again.
 */
describe('batch-ingestion while the summarizer is behind', () => {
  const names = itNames('ingest-backlog');
  const group = uniqueName('it-backlog-summarizer');
  let app: AppProcess;
  const metric = async (name: string, labels: Record<string, string> = {}) => metricValue(await (await fetch(`${app.opsUrl}/metrics`)).text(), name, labels);

  beforeAll(async () => {
    app = await startApp(
      'batch-ingestion',
      appEnv(names, {
        SUMMARIZER_GROUP_ID: group,
        INGESTION_BACKLOG_MAX_BATCHES: '3',
        INGESTION_BACKLOG_POLL_MS: '200',
        INGESTION_BACKLOG_BYTES_PER_CUSTOMER: String(64 * 1024),
      }),
    );
  });

  afterAll(async () => {
    await app?.stop();
    await withAdmin(itKafka(), (admin) => admin.deleteGroups([group]).catch(() => undefined));
    await deleteTopics(itKafka(), [names.topic]);
    await dropBucket(names.bucket);
  });

  it('holds the flooding customer to the rate while behind, lets the quiet one through, and lets the flood in once caught up', async () => {
    await waitFor('the backlog to be read', async () => (await metric('ingestion_summarizer_backlog_batches')) === 0, 20_000, 100);
    // Four batches nobody summarizes: the group (which never committed) is four behind.
    for (let i = 0; i < 4; i++) expect((await postLogs(app.url, bodyOf(3, `q${i}`), { 'x-customer-id': 'cus-quiet', 'idempotency-key': `quiet-${i}` })).status).toBe(202);
    await waitFor('the door to count the summarizer as behind', async () => (await metric('ingestion_summarizer_behind')) === 1, 20_000, 100);
    expect(await metric('ingestion_summarizer_backlog_batches')).toBe(4);

    const large = (i: number) => bodyOf(2_000, `f${i}`);
    expect(large(0).length).toBeGreaterThan(128 * 1024);
    // The byte rate while behind starts full (128 KiB): the first large body passes and leaves it in debt.
    expect((await postLogs(app.url, large(0), { 'x-customer-id': 'cus-flood', 'idempotency-key': 'flood-0' })).status).toBe(202);
    const held = await postLogs(app.url, large(1), { 'x-customer-id': 'cus-flood', 'idempotency-key': 'flood-1' });
    expect(held.status).toBe(429);
    expect(held.body.error).toMatchObject({ code: 'rate_limited', details: { scope: 'customer', limit: 'backlog' } });
    expect(Number(held.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await postLogs(app.url, bodyOf(3, 'q4'), { 'x-customer-id': 'cus-quiet', 'idempotency-key': 'quiet-4' })).status).toBe(202);
    expect(await metric('ingestion_admission_refused_total', { scope: 'customer', limit: 'backlog' })).toBe(1);

    // The summarizer catches up: its group commits the end of every partition.
    await withAdmin(itKafka(), async (admin) => {
      const ends = await admin.fetchTopicOffsets(names.topic);
      await admin.setOffsets({ groupId: group, topic: names.topic, partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })) });
    });
    await waitFor('the door to count the summarizer as caught up', async () => (await metric('ingestion_summarizer_behind')) === 0, 20_000, 100);
    expect(await metric('ingestion_summarizer_backlog_batches')).toBe(0);
    for (let i = 1; i < 4; i++) expect((await postLogs(app.url, large(i), { 'x-customer-id': 'cus-flood', 'idempotency-key': `flood-${i}` })).status).toBe(202);
  });
});
