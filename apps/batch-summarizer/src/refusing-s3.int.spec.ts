// MinIO answers but refuses the services' writes, as when an operator takes their accounts' policies
// away by mistake. The whole pipeline runs on a MinIO of this test's own, with the services'
// least-privilege accounts, while a gateway keeps posting: the ingestion answers 503 with
// Retry-After, the summarizer holds its partitions (not ready, with the reason), nothing is
// dead-lettered, and once the policy is back every accepted batch is counted exactly.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { adminS3, consumerState, Fault, Pipeline, PrivateServer, privateMinio, REPO_ROOT, runDrill, sleep, stackInstall, startPipeline } from '@pipeline/testing';

jest.setTimeout(600_000);

const run = promisify(execFile);
const ACCOUNTS = {
  ingestion: { id: 'drill-ingestion', secret: 'drill-ingestion-secret-0123456789' },
  summarizer: { id: 'drill-summarizer', secret: 'drill-summarizer-secret-012345678' },
};

let minio: PrivateServer;
let pipeline: Pipeline;
const mcConfig = mkdtempSync(join(tmpdir(), 'mc-'));
let minioRoot = '';
const mc = (...args: string[]) => run(stackInstall().mcBin, ['--config-dir', mcConfig, '--quiet', ...args], { timeout: 30_000, env: { ...process.env, MC_HOST_drill: minioRoot } });
let bucket = '';

beforeAll(async () => {
  minio = await privateMinio();
  bucket = `refuse-s3-${Date.now().toString(36)}`;
  minioRoot = minio.endpoint.replace('://', `://${encodeURIComponent(adminS3().accessKeyId)}:${encodeURIComponent(adminS3().secretAccessKey)}@`);
  // The bucket and the services' accounts exactly as the stack's provisioning step makes them.
  await run('sh', [join(REPO_ROOT, 'infra/minio/provision-account.sh')], {
    env: {
      ...process.env,
      MINIO_URL: minio.endpoint,
      MINIO_ROOT_USER: adminS3().accessKeyId,
      MINIO_ROOT_PASSWORD: adminS3().secretAccessKey,
      INGESTION_S3_ACCESS_KEY_ID: ACCOUNTS.ingestion.id,
      INGESTION_S3_SECRET_ACCESS_KEY: ACCOUNTS.ingestion.secret,
      SUMMARIZER_S3_ACCESS_KEY_ID: ACCOUNTS.summarizer.id,
      SUMMARIZER_S3_SECRET_ACCESS_KEY: ACCOUNTS.summarizer.secret,
      S3_BUCKET: bucket,
      MC: stackInstall().mcBin,
      MC_CONFIG_DIR: mcConfig,
    },
    timeout: 60_000,
  });
  const account = (a: { id: string; secret: string }) => ({ S3_ACCESS_KEY_ID: a.id, S3_SECRET_ACCESS_KEY: a.secret });
  pipeline = await startPipeline('refuse-s3', {
    env: { S3_ENDPOINT: minio.endpoint, S3_BUCKET: bucket, SUMMARIZER_STALL_UNREADY_MS: '5000', SUMMARIZER_RETRY_MAX_MS: '2000' },
    appEnv: { 'batch-ingestion': account(ACCOUNTS.ingestion), 'batch-summarizer': account(ACCOUNTS.summarizer) },
  });
});

afterAll(async () => {
  await pipeline?.stop();
  await minio?.dispose();
  rmSync(mcConfig, { recursive: true, force: true });
});

describe('the pipeline while MinIO refuses the services\' writes', () => {
  it('answers 503, holds the summarizer unready with the reason for 45 s, then counts everything without a dead letter', async () => {
    const summarizer = pipeline.apps['batch-summarizer'];
    const policies = (verb: 'attach' | 'detach') =>
      Promise.all(Object.entries(ACCOUNTS).map(([name, a]) => mc('admin', 'policy', verb, 'drill', `${name}-${bucket}`, '--user', a.id)));
    const policyRemoved: Fault = {
      name: 'the services\' policies detached',
      begin: async () => {
        // Batches accepted just before the fault wait for the summarizer when it strikes, as under
        // load: the summarizer is frozen for a moment while the door accepts them.
        summarizer.suspend();
        await sleep(3_000);
        await policies('detach');
        summarizer.resume();
      },
      end: () => policies('attach').then(() => undefined),
    };
    const report = await runDrill(pipeline, policyRemoved, {
      customerId: 'cus-s3-refused',
      faultMs: 45_000,
      checkAfterMs: 20_000,
      duringFault: async () => {
        const held = await consumerState(summarizer.url);
        const ingestion = await fetch(`${pipeline.apps['batch-ingestion'].url}/logs`, {
          method: 'POST',
          headers: { authorization: `Bearer ${pipeline.env.GATEWAY_TOKEN}`, 'content-type': 'application/json', 'x-customer-id': 'cus-s3-probe', 'idempotency-key': 'probe-during-fault' },
          body: JSON.stringify([{ receivedAt: '2025-11-03T11:00:00Z', method: 'GET', path: '/probe', userAgent: '' }]),
        });
        return { summarizer: held, ingestion: { status: ingestion.status, retryAfter: ingestion.headers.get('retry-after'), body: await ingestion.text() } };
      },
    });
    const during = report.observed as { summarizer: Awaited<ReturnType<typeof consumerState>>; ingestion: { status: number; retryAfter: string | null; body: string } };
    expect(during.ingestion.status).toBe(503);
    expect(during.ingestion.retryAfter).toBe('10');
    expect(JSON.parse(during.ingestion.body)).toEqual({ error: { code: 'unavailable', message: 'Storage refuses writes for now; retrying is safe.' } });
    // Batches accepted just before the fault are still in the summarizer's hands: it holds them.
    expect(during.summarizer.ready).toBe(503);
    expect(during.summarizer.reason).toMatch(/s3 refuses writes \(403_AccessDenied\)/);
    expect(during.summarizer.held.refusing).toBeGreaterThan(0);
    expect(report.retried).toBeGreaterThan(0);
    expect(report.deadLetters).toBe(0);
    const after = await consumerState(summarizer.url);
    expect(after).toMatchObject({ ready: 200, held: { unavailable: 0, refusing: 0, unknown: 0 }, deadLettered: 0 });
    // The probe sent during the fault was refused, never half-accepted: it is not in the counts.
    expect(await pipeline.minutes('cus-s3-probe')).toEqual({});
  });
});
