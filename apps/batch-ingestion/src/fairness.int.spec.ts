import { AppProcess, metricValue, sleep, startApp, deleteTopics } from '@pipeline/testing';
import { appEnv, dropBucket, entry, itKafka, itNames, listKeys, postLogs, PostResult } from './it-support';

jest.setTimeout(180_000);

/** About 40 KB: 400 entries. */
const floodBody = (i: number) => Buffer.from(JSON.stringify(Array.from({ length: 400 }, (_, j) => entry({ path: `/flood/${i}/${j}` }))));

/**
 * One customer's flood is throttled at the door by its own limits, and another customer sending
 * through the same gateway token is never refused: the real service, its real S3 and Kafka.
 */
describe('batch-ingestion fairness between customers', () => {
  const names = itNames('ingest-fair');
  let app: AppProcess;

  beforeAll(async () => {
    app = await startApp(
      'batch-ingestion',
      appEnv(names, {
        // The shared token's budget would not survive the flood if refused requests were charged to it.
        RATE_LIMIT_PER_TOKEN: '30',
        RATE_LIMIT_PER_TOKEN_BURST: '30',
        CUSTOMER_LIMITS: 'cus-flood:rps=5,burst=5,bps=64KiB,bytes-burst=128KiB',
      }),
    );
  });

  afterAll(async () => {
    await app?.stop();
    await deleteTopics(itKafka(), [names.topic]);
    await dropBucket(names.bucket);
  });

  it('answers the flooding customer 429 with Retry-After while the other customer on the same token gets every batch in', async () => {
    const flood: Array<PostResult & { bytes: number }> = [];
    const quiet: PostResult[] = [];
    const seconds = 4;
    const started = performance.now();
    const end = started + seconds * 1000;
    let seq = 0;
    const flooder = async () => {
      // A flood does not wait for Retry-After.
      while (performance.now() < end) {
        const i = seq++;
        const body = floodBody(i);
        flood.push({ ...(await postLogs(app.url, body, { 'x-customer-id': 'cus-flood', 'idempotency-key': `f-${i}` })), bytes: body.length });
      }
    };
    const calm = async () => {
      for (let i = 0; performance.now() < end; i++) {
        quiet.push(await postLogs(app.url, Buffer.from(JSON.stringify([entry({ path: `/calm/${i}` })])), { 'x-customer-id': 'cus-calm', 'idempotency-key': `c-${i}` }));
        await sleep(100);
      }
    };
    await Promise.all([flooder(), flooder(), flooder(), flooder(), calm()]);
    const elapsed = (performance.now() - started) / 1000;

    expect(quiet.length).toBeGreaterThanOrEqual(10);
    expect(quiet.map((a) => a.status).filter((s) => s !== 202)).toEqual([]);

    const refused = flood.filter((a) => a.status === 429);
    const accepted = flood.filter((a) => a.status === 202);
    // Far more requests than the token could carry had refused ones been charged to it.
    expect(flood.length).toBeGreaterThan(150);
    expect(accepted.length).toBeGreaterThan(0);
    expect(refused.length + accepted.length).toBe(flood.length);
    for (const a of refused) {
      expect(Number(a.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(a.body.error).toMatchObject({ code: 'rate_limited', details: { scope: 'customer' } });
    }
    expect(new Set(refused.map((a) => a.body.error.details.limit))).toContain('bytes');
    // The byte budget held: its burst, its rate over the time, and the one body that may pass on a full bucket.
    const acceptedBytes = accepted.reduce((n, a) => n + a.bytes, 0);
    expect(acceptedBytes).toBeLessThanOrEqual(128 * 1024 + 64 * 1024 * elapsed + 41_000);

    const metrics = await (await fetch(`${app.opsUrl}/metrics`)).text();
    expect(metricValue(metrics, 'ingestion_admission_refused_total', { scope: 'customer', limit: 'bytes' })).toBeGreaterThan(0);
    expect(metricValue(metrics, 'ingestion_admission_refused_total', { scope: 'token', limit: 'requests' })).toBe(0);
    // Nothing of a refused request was stored.
    const keys = await listKeys(names.bucket);
    expect(keys.filter((k) => k.includes('cus-flood')).length).toBe(accepted.length);
    expect(keys.filter((k) => k.includes('cus-calm')).length).toBe(quiet.length);
  });
});
