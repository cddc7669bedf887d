import { readdirSync, readFileSync } from 'node:fs';
import { AppProcess, deleteTopics, metricValue, startApp } from '@pipeline/testing';
import { appEnv, dropBucket, entry, itKafka, itNames, itStore, postLogs } from './it-support';

jest.setTimeout(120_000);

/** A body of `n` entries with distinct paths: about 110 bytes an entry. */
const bodyOf = (n: number, over: (i: number) => Record<string, unknown> = () => ({})) =>
  Buffer.from(JSON.stringify(Array.from({ length: n }, (_, i) => entry({ path: `/thread/${i}`, ...over(i) }))));

/** The niceness of each thread of a process (field 19 of /proc/<pid>/task/<tid>/stat). */
function threadNiceness(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

/**
 * The built service checks large bodies on its check thread (bundled next to main.js), small ones
 * on the event loop, with the same answers; the thread runs below the event loop's priority.
 */
describe('batch-ingestion check thread', () => {
  const names = itNames('ingest-thread');
  let app: AppProcess;
  const checks = async (place: string) => metricValue(await (await fetch(`${app.opsUrl}/metrics`)).text(), 'ingestion_body_check_duration_seconds_count', { place });

  beforeAll(async () => {
    app = await startApp('batch-ingestion', appEnv(names, { INGESTION_CHECK_THREADS: '1', INGESTION_CHECK_THREAD_MIN_BYTES: String(128 * 1024), INGESTION_CHECK_THREAD_NICE: '4' }));
  });

  afterAll(async () => {
    await app?.stop();
    await deleteTopics(itKafka(), [names.topic]);
    await dropBucket(names.bucket);
  });

  it('accepts a large valid body checked on the thread, stores it byte for byte, and checks a small one on the event loop', async () => {
    const large = bodyOf(4_000);
    expect(large.length).toBeGreaterThan(128 * 1024);
    const [threadBefore, inlineBefore] = [await checks('thread'), await checks('inline')];
    expect(await postLogs(app.url, large, { 'idempotency-key': 'thread-large' })).toMatchObject({ status: 202, body: { batchId: 'thread-large', entries: 4_000 } });
    expect(await postLogs(app.url, bodyOf(3), { 'idempotency-key': 'thread-small' })).toMatchObject({ status: 202, body: { entries: 3 } });
    // The same large body again: the same digest, so a duplicate; another body under its key is refused.
    expect(await postLogs(app.url, large, { 'idempotency-key': 'thread-large' })).toMatchObject({ status: 409 });
    expect(await postLogs(app.url, bodyOf(4_001), { 'idempotency-key': 'thread-large' })).toMatchObject({ status: 422 });
    expect([(await checks('thread')) - threadBefore, (await checks('inline')) - inlineBefore]).toEqual([3, 1]);
    const stored = await itStore(names.bucket).get('raw/cus-it/thread-large.json');
    expect(stored && Buffer.compare(stored.body, large)).toBe(0);
  });

  it('refuses a large invalid body with the answer the event loop gives a small one, naming each bad entry', async () => {
    const bad = (i: number) => (i === 7 || i === 3_999 ? { receivedAt: 'yesterday' } : {});
    const large = await postLogs(app.url, bodyOf(4_000, bad), { 'idempotency-key': 'thread-bad-large' });
    const small = await postLogs(app.url, bodyOf(8, bad), { 'idempotency-key': 'thread-bad-small' });
    expect(large.status).toBe(400);
    expect(large.body.error).toMatchObject({ code: 'invalid_entries', details: { errorCount: 2, errors: [{ index: 7, field: 'receivedAt' }, { index: 3_999, field: 'receivedAt' }] } });
    expect(small.body.error).toMatchObject({ code: 'invalid_entries', details: { errorCount: 1, errors: [{ index: 7, field: 'receivedAt' }] } });
  });

  it('runs the check thread below the event loop: one thread at niceness 4, the event loop at 0', () => {
    const niceness = threadNiceness(app.pid!);
    expect(niceness[0]).toBe(0);
    expect(niceness.filter((n) => n === 4)).toHaveLength(1);
  });
});
