// The only Kafka broker is gone for a minute while a gateway keeps posting: the ingestion answers
// 503 with Retry-After, the consumers wait for the broker to come back, and afterwards every
// batch ever accepted is counted exactly, with nothing dead-lettered and no operator action.
import { consumerState, Fault, Pipeline, PrivateServer, privateKafka, runDrill, startPipeline } from '@pipeline/testing';

jest.setTimeout(600_000);

let broker: PrivateServer;
let pipeline: Pipeline;

beforeAll(async () => {
  broker = await privateKafka();
  pipeline = await startPipeline('kafka-gone', { env: { KAFKA_BROKERS: broker.endpoint, KAFKA_REQUEST_TIMEOUT_MS: '3000' } });
});

afterAll(async () => {
  await pipeline?.stop();
  await broker?.dispose();
});

describe('the pipeline while its Kafka broker is gone', () => {
  it('answers 503 during 60 s without a broker, then counts every accepted batch exactly without a dead letter', async () => {
    const gone: Fault = { name: 'the broker stopped', begin: () => broker.stop(), end: () => broker.start() };
    const report = await runDrill(pipeline, gone, {
      customerId: 'cus-kafka-gone',
      faultMs: 60_000,
      checkAfterMs: 30_000,
      duringFault: async () => {
        const res = await fetch(`${pipeline.apps['batch-ingestion'].url}/logs`, {
          method: 'POST',
          headers: { authorization: `Bearer ${pipeline.env.GATEWAY_TOKEN}`, 'content-type': 'application/json', 'x-customer-id': 'cus-kafka-probe', 'idempotency-key': 'probe-during-fault' },
          body: JSON.stringify([{ receivedAt: '2025-11-03T11:00:00Z', method: 'GET', path: '/probe', userAgent: '' }]),
        });
        return { status: res.status, retryAfter: res.headers.get('retry-after') };
      },
    });
    expect(report.observed).toEqual({ status: 503, retryAfter: '2' });
    expect(report.retried).toBeGreaterThan(0);
    expect(report.deadLetters).toBe(0);
    for (const app of ['batch-summarizer', 'window-aggregator'] as const) {
      expect([app, await consumerState(pipeline.apps[app].opsUrl)]).toMatchObject([app, { ready: 200, held: { unavailable: 0, refusing: 0, unknown: 0 }, deadLettered: 0 }]);
    }
    // Batches were accepted before the broker went and after it came back, none while it was gone.
    expect(report.accepted).toBeGreaterThan(40);
  });
});
