import { AppProcess, PrivateServer, committedOffset, metricValue, privateMinio, scrape, startApp, waitFor, withAdmin } from '@pipeline/testing';
import { SummarizerHarness, appEnv, entryAt, itNames, putEntries } from './it-support';

jest.setTimeout(300_000);

// S3 goes down under the running service: a private MinIO that this test may stop and start.
const names = itNames('sumout');
const CUSTOMER = 'cus-outage';

let minio: PrivateServer;
const harness = new SummarizerHarness(names);
let app: AppProcess;

beforeAll(async () => {
  minio = await privateMinio();
  await harness.open({ s3Endpoint: minio.endpoint });
  app = await startApp('batch-summarizer', appEnv(names, { S3_ENDPOINT: minio.endpoint, S3_REQUEST_TIMEOUT_MS: '1000', SUMMARIZER_RETRY_MAX_MS: '1000' }));
});

afterAll(async () => {
  await app?.stop();
  await harness.close();
  await minio?.dispose();
});

describe('batch-summarizer while S3 is down', () => {
  it('retries without committing or dead-lettering, and resumes by itself when S3 returns', async () => {
    const before = await putEntries(harness.store, CUSTOMER, 'batch-before', [entryAt('2025-12-28T18:03:00Z')]);
    const during = await putEntries(harness.store, CUSTOMER, 'batch-during', [entryAt('2025-12-28T18:04:00Z'), entryAt('2025-12-28T18:05:00Z')]);
    await harness.producer.sendEvents(names.input, [before]);
    await harness.insights.waitUntil('partial of batch-before', () => harness.partialsOf('batch-before').length === 1);

    await minio.stop();
    const [sent] = await harness.producer.sendEvents(names.input, [during]);
    await waitFor('retries while S3 is down', async () => metricValue(await scrape(app.opsUrl), 'consumer_retries_total') >= 2);
    // Nothing past the stuck event is committed while it waits.
    await withAdmin(harness.kafka, async (admin) => {
      expect(await committedOffset(admin, names.group, names.input, sent.partition)).toBeLessThanOrEqual(Number(sent.baseOffset));
    });
    const ready = await fetch(`${app.opsUrl}/health/ready`);
    expect(ready.status).toBe(503);
    expect(harness.partialsOf('batch-during')).toHaveLength(0);

    await minio.start();
    await harness.insights.waitUntil('partials of batch-during', () => harness.partialsOf('batch-during').length === 2);
    await app.waitReady();
    expect(harness.dlq.messages).toHaveLength(0);
    const metrics = await scrape(app.opsUrl);
    expect(metricValue(metrics, 'summarizer_batches_total', { outcome: 'summarized' })).toBe(2);
    expect(metricValue(metrics, 'consumer_dead_letters_total')).toBe(0);
    expect(await harness.store.head(`summaries/${CUSTOMER}/batch-during.json`)).not.toBeNull();
  });
});
