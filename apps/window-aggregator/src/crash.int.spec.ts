import { Partial } from '@pipeline/contract';
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
  sleep,
  startApp,
  waitFor,
} from './it-support';

jest.setTimeout(300_000);

const names = itNames('wa-crash');
const harness = new AggregatorHarness(names);
let app: AppProcess;

beforeAll(async () => {
  await harness.open();
  app = await startApp('window-aggregator', appEnv(names));
});

afterAll(async () => {
  await app?.stop();
  await harness.close();
});

/** Waits until the killed member has left the group (its session expired), so offsets may be reset. */
async function waitGroupEmpty(): Promise<void> {
  await waitFor(`group ${names.group} to be empty`, async () => {
    const { groups } = await harness.admin.describeGroups([names.group]);
    return groups[0].state === 'Empty';
  }, 60_000, 500);
}

describe('window-aggregator killed with SIGKILL', () => {
  it('counts nothing twice when killed after the ClickHouse write but before the offset commit', async () => {
    const customers = ['cus-kill-a', 'cus-kill-b'];
    const first = generatePartials({ customers, minutes: ['2025-12-28T18:03Z', '2025-12-28T18:04Z', '2025-12-28T18:05Z'], batches: 80 });
    await harness.producer.send(names.topic, first);
    await waitCaughtUp(harness.admin, names);
    expect(await readView(harness.ch, 'minute_aggregates', customers)).toEqual(expectedOf(first).minute);

    // Every write reached ClickHouse; now take the commits and the rollups away, as if the
    // process had died between each minute insert and its rollup refresh: the whole topic is
    // redelivered to the next process, which finds only duplicates and must still refresh.
    await app.kill('SIGKILL');
    await waitGroupEmpty();
    for (const table of ['hourly_rollup', 'daily_rollup']) await harness.ch.command(`TRUNCATE TABLE ${harness.ch.database}.${table}`);
    expect(await readView(harness.ch, 'hourly_aggregates', customers)).toEqual([]);
    await harness.admin.resetOffsets({ groupId: names.group, topic: names.topic, earliest: true });
    await app.restart();
    await waitCaughtUp(harness.admin, names);

    expect(await readView(harness.ch, 'minute_aggregates', customers)).toEqual(expectedOf(first).minute);
    expect(await readView(harness.ch, 'hourly_aggregates', customers)).toEqual(expectedOf(first).hour);
    expect(await readView(harness.ch, 'daily_aggregates', customers)).toEqual(expectedOf(first).day);
    expect(await metric(app.url, 'aggregator_partials_duplicate_total')).toBe(first.length);
    expect(await metric(app.url, 'aggregator_partials_merged_total')).toBe(0);
    expect(await metric(app.url, 'aggregator_rows_written_total')).toBe(0);

    // The same, live: kill the moment a new window becomes visible (the commit follows the write
    // by microseconds, so it usually has not happened yet), then restart.
    const second = generatePartials({ customers: ['cus-kill-c'], minutes: ['2025-12-28T18:03Z', '2025-12-28T18:04Z'], batches: 40 });
    await harness.producer.send(names.topic, second);
    await waitFor('a window of the new customer to be visible', async () => (await readView(harness.ch, 'minute_aggregates', ['cus-kill-c'])).length > 0, 60_000, 5);
    await app.kill('SIGKILL');
    await app.restart();
    await waitCaughtUp(harness.admin, names);
    const all = expectedOf([...first, ...second]);
    expect(await readView(harness.ch, 'minute_aggregates', [...customers, 'cus-kill-c'])).toEqual(all.minute);
    expect(await readView(harness.ch, 'hourly_aggregates', [...customers, 'cus-kill-c'])).toEqual(all.hour);
    expect(await readView(harness.ch, 'daily_aggregates', [...customers, 'cus-kill-c'])).toEqual(all.day);
  });

  it('keeps exact counts when killed at random moments under load and restarted each time', async () => {
    const seed = Date.now() % 100_000;
    const customers = ['cus-load-1', 'cus-load-2', 'cus-load-3'];
    const partials = generatePartials({ customers, minutes: ['2025-12-28T18:03Z', '2025-12-28T18:04Z', '2025-12-28T18:05Z', '2025-12-28T18:06Z', '2025-12-28T19:00Z'], batches: 300 });
    // Clients retry: a third of the partials arrive twice, shuffled into the stream.
    const stream: Partial[] = shuffled([...partials, ...partials.filter((_, i) => i % 3 === 0)], seed);

    let random = seed;
    const next = (max: number) => {
      random = (random * 1103515245 + 12345) % 2147483648;
      return random % max;
    };
    const KILLS = 4;
    const segment = Math.ceil(stream.length / (KILLS + 1));
    for (let k = 0; k <= KILLS; k++) {
      const part = stream.slice(k * segment, (k + 1) * segment);
      const sending = harness.producer.sendSlowly(names.topic, part);
      if (k < KILLS) {
        // Kill while it is working: once this process has taken partials, at a random moment.
        await waitFor('the aggregator to take partials', async () => (await metric(app.url, 'aggregator_partials_merged_total')) + (await metric(app.url, 'aggregator_partials_duplicate_total')) > 0, 60_000, 50);
        await sleep(next(800));
        await app.kill('SIGKILL');
        await sending;
        await app.restart();
      } else {
        await sending;
      }
    }
    await waitCaughtUp(harness.admin, names, 180_000);

    const expected = expectedOf(partials);
    expect(await readView(harness.ch, 'minute_aggregates', customers)).toEqual(expected.minute);
    expect(await readView(harness.ch, 'hourly_aggregates', customers)).toEqual(expected.hour);
    expect(await readView(harness.ch, 'daily_aggregates', customers)).toEqual(expected.day);
  });
});
