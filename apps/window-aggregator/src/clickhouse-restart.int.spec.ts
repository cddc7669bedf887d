import { readFileSync } from 'node:fs';
import {
  AggregatorHarness,
  appEnv,
  expectedOf,
  generatePartials,
  itNames,
  metric,
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
let clickhouse: PrivateServer;
const harness = new AggregatorHarness(names);
let app: AppProcess;

beforeAll(async () => {
  clickhouse = await privateClickHouse();
  await harness.open({ clickhouseUrl: clickhouse.endpoint });
  app = await startApp('window-aggregator', appEnv(names, { CLICKHOUSE_URL: clickhouse.endpoint }));
});

afterAll(async () => {
  await app?.stop();
  // The private server's data goes with it.
  await harness.close({ dropDatabase: false });
  await clickhouse?.dispose();
});

const stopLines = (file: string) => readFileSync(file, 'utf8').split('\n').filter((l) => l.includes('"consumer stopped"')).length;

const ready = async (url: string) => (await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(5_000) })).status;

describe('window-aggregator while ClickHouse restarts', () => {
  it('holds its offsets while ClickHouse is down, stops cleanly meanwhile, and ends with exact counts after it is back', async () => {
    const customers = ['cus-chr-1', 'cus-chr-2'];
    const partials = generatePartials({ customers, minutes: ['2025-12-28T18:03Z', '2025-12-28T18:04Z', '2025-12-28T18:05Z', '2025-12-28T18:06Z'], batches: 250 });
    const stream = shuffled([...partials, ...partials.filter((_, i) => i % 5 === 0)], 5);
    const half = Math.ceil(stream.length / 2);

    await harness.producer.sendSlowly(names.topic, stream.slice(0, half));
    await waitFor('some windows to be visible', async () => (await readView(harness.ch, 'minute_aggregates', customers)).length > 0, 60_000, 100);

    await clickhouse.kill();
    const whileDown = harness.producer.sendSlowly(names.topic, stream.slice(half));
    await waitFor('the aggregator to notice', async () => (await metric(app.url, 'consumer_retries_total')) > 0, 60_000, 200);
    expect(await ready(app.url)).toBe(503);
    await whileDown;
    await sleep(4_000);
    // Nothing written while down means nothing committed: the partials wait in Kafka.
    const lagWhileDown = await harness.admin.fetchOffsets({ groupId: names.group, topics: [names.topic] });
    const ends = await harness.admin.fetchTopicOffsets(names.topic);
    const committed = lagWhileDown[0].partitions.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
    expect(committed).toBeLessThan(ends.reduce((n, e) => n + Number(e.high), 0));

    // SIGTERM while the writes are blocked: the batch gives up uncommitted and the process stops cleanly.
    const stoppedBefore = stopLines(app.logFile);
    await app.stop();
    expect(stopLines(app.logFile)).toBe(stoppedBefore + 1);

    await clickhouse.start();
    await app.restart();
    await waitCaughtUp(harness.admin, names, 180_000);
    expect(await ready(app.url)).toBe(200);

    const expected = expectedOf(partials);
    expect(await readView(harness.ch, 'minute_aggregates', customers)).toEqual(expected.minute);
    expect(await readView(harness.ch, 'hourly_aggregates', customers)).toEqual(expected.hour);
    expect(await readView(harness.ch, 'daily_aggregates', customers)).toEqual(expected.day);
  });
});
