// ClickHouse answers but refuses writes, as an operator meets it: the writer's profile made
// read-only, the revisions table or a rollup table detached. The whole pipeline runs on a ClickHouse of this test's
// own while a gateway keeps posting; the aggregator must hold its partitions (not ready, with the
// reason; held partitions by kind in its metrics), dead-letter nothing, and count every accepted
// batch exactly once the store takes writes again, with no operator action.
import { consumerState, Fault, Pipeline, PrivateServer, privateChdb, privateClickHouse, runDrill, startPipeline } from '@pipeline/testing';
import { createClient } from '@clickhouse/client';

jest.setTimeout(600_000);

const FAULT_MS = 45_000;

/** The pipeline on `server` instead of the shared ClickHouse; the aggregator unready after 5 s held. */
const pipelineOn = (name: string, server: PrivateServer) =>
  startPipeline(name, {
    env: {
      CLICKHOUSE_URL: server.endpoint,
      CLICKHOUSE_USER: server.credentials!.username,
      CLICKHOUSE_PASSWORD: server.credentials!.password,
      AGGREGATOR_STALL_UNREADY_MS: '5000',
      AGGREGATOR_RETRY_MAX_MS: '2000',
    },
  });

function adminOf(server: PrivateServer) {
  return createClient({ url: server.endpoint, username: server.credentials!.username, password: server.credentials!.password, request_timeout: 60_000 });
}

const detached = (server: PrivateServer, database: string, table = 'window_revisions'): Fault => {
  const admin = adminOf(server);
  return {
    name: `${table} detached`,
    begin: () => admin.command({ query: `DETACH TABLE ${database}.${table}` }).then(() => undefined),
    end: async () => {
      await admin.command({ query: `ATTACH TABLE ${database}.${table}` });
      await admin.close();
    },
  };
};

async function expectHeldNotDeadLettered(pipeline: Pipeline, fault: Fault, customerId: string, reason: RegExp) {
  const report = await runDrill(pipeline, fault, {
    customerId,
    faultMs: FAULT_MS,
    checkAfterMs: 20_000,
    duringFault: () => consumerState(pipeline.apps['window-aggregator'].url),
  });
  const during = report.observed as Awaited<ReturnType<typeof consumerState>>;
  expect(during.ready).toBe(503);
  expect(during.reason).toMatch(reason);
  expect(during.held.refusing).toBeGreaterThan(0);
  expect(during.deadLettered).toBe(0);
  // Traffic went on during the fault and was accepted: the door does not depend on ClickHouse.
  expect(report.accepted).toBeGreaterThan(100);
  expect(report.deadLetters).toBe(0);
  const after = await consumerState(pipeline.apps['window-aggregator'].url);
  expect(after).toMatchObject({ ready: 200, held: { unavailable: 0, refusing: 0, unknown: 0 }, deadLettered: 0 });
  return report;
}

/** A ClickHouse of the test's own with the whole pipeline on it, for the tests of one describe block. */
function onPrivateClickHouse<S extends PrivateServer>(name: string, start: () => Promise<S>): { server: () => S; pipeline: () => Pipeline } {
  let server: S;
  let pipeline: Pipeline;
  beforeAll(async () => {
    server = await start();
    pipeline = await pipelineOn(name, server);
  });
  afterAll(async () => {
    await pipeline?.stop();
    await server?.dispose();
  });
  return { server: () => server, pipeline: () => pipeline };
}

describe('the pipeline while ClickHouse 18.16 refuses writes', () => {
  const { server, pipeline } = onPrivateClickHouse('refuse-ch', privateClickHouse);

  it('holds, unready with the reason, while the writer is read-only for 45 s, then counts everything without a dead letter', async () => {
    const readOnly: Fault = {
      name: 'a read-only profile',
      begin: async () => server().setUsersOverride('<yandex><profiles><default><readonly>1</readonly></default></profiles></yandex>'),
      end: async () => server().setUsersOverride(null),
    };
    await expectHeldNotDeadLettered(pipeline(), readOnly, 'cus-readonly', /clickhouse refuses writes \(readonly\)/);
  });

  it('holds while window_revisions is detached for 45 s, then counts everything without a dead letter', async () => {
    await expectHeldNotDeadLettered(pipeline(), detached(server(), pipeline().env.CLICKHOUSE_DATABASE), 'cus-detached', /clickhouse refuses writes \(unknown_table\)/);
  });

  it('holds while only the hour rollup table is detached for 45 s (the refresh behind the minutes fails), then counts everything without a dead letter', async () => {
    await expectHeldNotDeadLettered(pipeline(), detached(server(), pipeline().env.CLICKHOUSE_DATABASE, 'hourly_rollup'), 'cus-rollup-detached', /clickhouse refuses writes \(unknown_table\)/);
  });
});

describe('the pipeline while current ClickHouse refuses writes', () => {
  const { server, pipeline } = onPrivateClickHouse('refuse-chdb', privateChdb);

  it('holds while window_revisions is detached for 45 s, then counts everything without a dead letter', async () => {
    await expectHeldNotDeadLettered(pipeline(), detached(server(), pipeline().env.CLICKHOUSE_DATABASE), 'cus-detached', /clickhouse refuses writes \(unknown_table\)/);
  });
});
