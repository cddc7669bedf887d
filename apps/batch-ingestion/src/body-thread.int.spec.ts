import { AppProcess, deleteTopics, metricValue, startApp } from '@pipeline/testing';
import { appEnv, dropBucket, entry, itKafka, itNames, postLogs } from './it-support';

jest.setTimeout(120_000);

/** A body of `n` entries with distinct paths: about 110 bytes an entry. */
const bodyOf = (n: number, over: (i: number) => Record<string, unknown> = () => ({})) =>
  Buffer.from(JSON.stringify(Array.from({ length: n }, (_, i) => entry({ path: `/thread/${i}`, ...over(i) }))));

/**
 * Large bodies are checked on the service's body-check thread (the built app, bundled apart next to
 * main.js), small ones on the event loop, and both give the client the same answers.
 */
describe('batch-ingestion body-check thread', () => {
  const names = itNames('ingest-thread');
  let app: AppProcess;
  const checks = async (place: string) => metricValue(await (await fetch(`${app.opsUrl}/metrics`)).text(), 'ingestion_body_check_duration_seconds_count', { place });

  beforeAll(async () => {
    app = await startApp('batch-ingestion', appEnv(names, { INGESTION_BODY_THREAD_BYTES: String(256 * 1024) }));
  });

  afterAll(async () => {
    await app?.stop();
    await deleteTopics(itKafka(), [names.topic]);
    await dropBucket(names.bucket);
  });

  it('accepts a large valid body after checking it on the thread, and a small one on the event loop', async () => {
    const large = bodyOf(4_000);
    expect(large.length).toBeGreaterThan(256 * 1024);
    const [threadBefore, inlineBefore] = [await checks('thread'), await checks('inline')];
    expect(await postLogs(app.url, large, { 'idempotency-key': 'thread-large' })).toMatchObject({ status: 202, body: { batchId: 'thread-large', entries: 4_000 } });
    expect(await postLogs(app.url, bodyOf(3), { 'idempotency-key': 'thread-small' })).toMatchObject({ status: 202, body: { entries: 3 } });
    // The same large body again: the same digest, so a duplicate.
    expect(await postLogs(app.url, large, { 'idempotency-key': 'thread-large' })).toMatchObject({ status: 409 });
    expect([(await checks('thread')) - threadBefore, (await checks('inline')) - inlineBefore]).toEqual([2, 1]);
  });

  it('refuses a large invalid body with the answer the event loop would give, naming each bad entry', async () => {
    const bad = (i: number) => (i === 7 || i === 3_999 ? { receivedAt: 'yesterday' } : {});
    const large = await postLogs(app.url, bodyOf(4_000, bad), { 'idempotency-key': 'thread-bad-large' });
    const small = await postLogs(app.url, bodyOf(8, bad), { 'idempotency-key': 'thread-bad-small' });
    expect(large.status).toBe(400);
    expect(large.body.error).toMatchObject({ code: 'invalid_entries', details: { errorCount: 2, errors: [{ index: 7, field: 'receivedAt' }, { index: 3_999, field: 'receivedAt' }] } });
    expect(small.body.error).toMatchObject({ code: 'invalid_entries', details: { errorCount: 1, errors: [{ index: 7, field: 'receivedAt' }] } });
  });
});
