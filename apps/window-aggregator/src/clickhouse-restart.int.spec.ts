import { readFileSync } from 'node:fs';
import { ClickHouseGateway } from '@pipeline/clickhouse';
import { Partial } from '@pipeline/partial';
import { Admin, Kafka } from 'kafkajs';
import {
  appEnv,
  createTopics,
  deleteTopics,
  expectedOf,
  generatePartials,
  itClickHouse,
  itKafka,
  itNames,
  metric,
  PartialProducer,
  readView,
  shuffled,
  waitCaughtUp,
  AppProcess,
  PrivateServer,
  privateClickHouse,
  sleep,
  startApp,
  waitFor,
} from './it-support';

jest.setTimeout(300_000);

const names = itNames('wa-chr');
let kafka: Kafka;
let admin: Admin;
let clickhouse: PrivateServer;
let ch: ClickHouseGateway;
let producer: PartialProducer;
let app: AppProcess;

beforeAll(async () => {
  kafka = itKafka();
  admin = kafka.admin();
  await admin.connect();
  await createTopics(admin, names);
  clickhouse = await privateClickHouse();
  ch = itClickHouse(names.database, clickhouse.endpoint);
  producer = await PartialProducer.connect(kafka);
  app = await startApp('window-aggregator', appEnv(names, { CLICKHOUSE_URL: clickhouse.endpoint }));
});

afterAll(async () => {
  await app?.stop();
  await producer?.disconnect();
  await deleteTopics(admin, names);
  await admin?.disconnect();
  await ch?.close();
  await clickhouse?.dispose();
});

async function produceSlowly(partials: Partial[]): Promise<void> {
  for (let i = 0; i < partials.length; i += 20) {
    await producer.send(names.topic, partials.slice(i, i + 20));
    await sleep(20);
  }
}

const stopLines = (file: string) => readFileSync(file, 'utf8').split('\n').filter((l) => l.includes('"consumer stopped"')).length;

const ready = async (url: string) => (await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(5_000) })).status;

describe('window-aggregator while ClickHouse restarts', () => {
  it('holds its offsets while ClickHouse is down, stops cleanly meanwhile, and ends with exact counts after it is back', async () => {
    const customers = ['cus-chr-1', 'cus-chr-2'];
    const partials = generatePartials({ customers, minutes: ['2025-12-28T18:03Z', '2025-12-28T18:04Z', '2025-12-28T18:05Z', '2025-12-28T18:06Z'], batches: 250 });
    const stream = shuffled([...partials, ...partials.filter((_, i) => i % 5 === 0)], 5);
    const half = Math.ceil(stream.length / 2);

    await produceSlowly(stream.slice(0, half));
    await waitFor('some windows to be visible', async () => (await readView(ch, 'minute_aggregates', customers)).length > 0, 60_000, 100);

    await clickhouse.kill();
    const whileDown = produceSlowly(stream.slice(half));
    await waitFor('the aggregator to notice', async () => (await metric(app.url, 'aggregator_clickhouse_errors_total')) > 0, 60_000, 200);
    expect(await ready(app.url)).toBe(503);
    await whileDown;
    await sleep(4_000);
    // Nothing written while down means nothing committed: the partials wait in Kafka.
    const lagWhileDown = await admin.fetchOffsets({ groupId: names.group, topics: [names.topic] });
    const ends = await admin.fetchTopicOffsets(names.topic);
    const committed = lagWhileDown[0].partitions.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
    expect(committed).toBeLessThan(ends.reduce((n, e) => n + Number(e.high), 0));

    // SIGTERM while the writes are blocked: the batch gives up uncommitted and the process stops cleanly.
    const stoppedBefore = stopLines(app.logFile);
    await app.stop();
    expect(stopLines(app.logFile)).toBe(stoppedBefore + 1);

    await clickhouse.start();
    await app.restart();
    await waitCaughtUp(admin, names, 180_000);
    expect(await ready(app.url)).toBe(200);

    const expected = expectedOf(partials);
    expect(await readView(ch, 'minute_aggregates', customers)).toEqual(expected.minute);
    expect(await readView(ch, 'hourly_aggregates', customers)).toEqual(expected.hour);
    expect(await readView(ch, 'daily_aggregates', customers)).toEqual(expected.day);
  });
});
