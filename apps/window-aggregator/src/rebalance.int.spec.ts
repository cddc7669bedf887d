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

const names = itNames('wa-rebal');
const harness = new AggregatorHarness(names);
const apps: AppProcess[] = [];

beforeAll(() => harness.open());

afterAll(async () => {
  await Promise.all(apps.map((a) => a.stop()));
  await harness.close();
});

const taken = async (app: AppProcess) => (await metric(app.url, 'aggregator_partials_merged_total')) + (await metric(app.url, 'aggregator_partials_duplicate_total'));

describe('two window-aggregator instances in one group', () => {
  it('keep exact counts through a member joining and a member dying mid-stream', async () => {
    const customers = ['cus-reb-1', 'cus-reb-2', 'cus-reb-3', 'cus-reb-4'];
    const partials = generatePartials({ customers, minutes: ['2025-12-28T18:03Z', '2025-12-28T18:04Z', '2025-12-28T18:05Z', '2025-12-28T18:06Z'], batches: 200 });
    const stream = shuffled([...partials, ...partials.filter((_, i) => i % 4 === 0)], 11);
    const third = Math.ceil(stream.length / 3);

    const a = await startApp('window-aggregator', appEnv(names));
    apps.push(a);
    await harness.producer.sendSlowly(names.topic, stream.slice(0, third));

    // B joins while partials flow: the group rebalances and the partitions are split.
    const secondThird = harness.producer.sendSlowly(names.topic, stream.slice(third, Math.floor(1.5 * third)));
    const b = await startApp('window-aggregator', appEnv(names));
    apps.push(b);
    await secondThird;
    await waitFor('both instances to hold partitions', async () => {
      const { groups } = await harness.admin.describeGroups([names.group]);
      return groups[0].state === 'Stable' && groups[0].members.length === 2;
    }, 60_000, 200);
    await harness.producer.sendSlowly(names.topic, stream.slice(Math.floor(1.5 * third), 2 * third));
    await waitFor('both instances to take partials', async () => (await taken(a)) > 0 && (await taken(b)) > 0, 60_000, 200);
    const takenByB = await taken(b);

    // A dies mid-stream: after its session expires B takes A's partitions and resumes from A's commits.
    const lastThird = harness.producer.sendSlowly(names.topic, stream.slice(2 * third));
    await sleep(300);
    await a.kill('SIGKILL');
    await lastThird;
    await waitCaughtUp(harness.admin, names, 180_000);

    const expected = expectedOf(partials);
    expect(takenByB).toBeGreaterThan(0);
    expect(await readView(harness.ch, 'minute_aggregates', customers)).toEqual(expected.minute);
    expect(await readView(harness.ch, 'hourly_aggregates', customers)).toEqual(expected.hour);
    expect(await readView(harness.ch, 'daily_aggregates', customers)).toEqual(expected.day);
  });

  it('keep exact counts when a member hangs past its session (a stalled, not killed, old owner) and then goes on', async () => {
    const customers = ['cus-stall-1', 'cus-stall-2', 'cus-stall-3', 'cus-stall-4'];
    const partials = generatePartials({ customers, minutes: ['2025-12-28T19:03Z', '2025-12-28T19:04Z', '2025-12-28T19:05Z'], batches: 150, prefix: 'stall' });
    const stream = shuffled([...partials, ...partials.filter((_, i) => i % 3 === 0)], 7);
    const quarter = Math.ceil(stream.length / 4);
    await Promise.all(apps.splice(0).map((app) => app.stop()));

    const a = await startApp('window-aggregator', appEnv(names));
    const b = await startApp('window-aggregator', appEnv(names));
    apps.push(a, b);
    await waitFor('both instances in the group', async () => {
      const { groups } = await harness.admin.describeGroups([names.group]);
      return groups[0].state === 'Stable' && groups[0].members.length === 2;
    }, 60_000, 200);
    await harness.producer.sendSlowly(names.topic, stream.slice(0, quarter));
    await waitFor('both instances to take partials', async () => (await taken(a)) > 0 && (await taken(b)) > 0, 60_000, 200);

    // A freezes mid-stream, holding its partitions (and maybe a batch it has merged but not written),
    // for longer than its session: the group gives its partitions to B, which reloads their windows.
    const during = harness.producer.sendSlowly(names.topic, stream.slice(quarter, 3 * quarter));
    await sleep(200);
    a.suspend();
    await during;
    await sleep(9_000);
    const { groups } = await harness.admin.describeGroups([names.group]);
    expect(groups[0].members.length).toBe(1);

    // A wakes up: whatever it was doing lands late, it finds itself out of the group and rejoins.
    a.resume();
    await harness.producer.sendSlowly(names.topic, stream.slice(3 * quarter));
    await waitCaughtUp(harness.admin, names, 180_000);

    const expected = expectedOf(partials);
    expect(await readView(harness.ch, 'minute_aggregates', customers)).toEqual(expected.minute);
    expect(await readView(harness.ch, 'hourly_aggregates', customers)).toEqual(expected.hour);
    // Exact now, and still exact once A has settled (a late write of A must not undo anything).
    await sleep(5_000);
    await waitCaughtUp(harness.admin, names, 60_000);
    expect(await readView(harness.ch, 'minute_aggregates', customers)).toEqual(expected.minute);
  });
});
