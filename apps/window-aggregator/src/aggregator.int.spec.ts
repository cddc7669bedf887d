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
  startApp,
} from './it-support';

jest.setTimeout(180_000);

const names = itNames('wa');
const harness = new AggregatorHarness(names);
let app: AppProcess;

beforeAll(async () => {
  await harness.open();
  app = await startApp('window-aggregator', appEnv(names, { AGGREGATOR_ALLOWED_LATENESS_SECONDS: '60' }));
});

afterAll(async () => {
  await app?.stop();
  await harness.close();
});

// Two customers over two hours and two days (with 2025 data: nothing depends on the wall clock).
const customers = ['cus-axon', 'cus-beta'];
const partials = generatePartials({
  customers,
  minutes: ['2025-12-28T18:03Z', '2025-12-28T18:04Z', '2025-12-28T18:59Z', '2025-12-28T19:00Z', '2025-12-29T00:01Z'],
  batches: 120,
});

describe('window-aggregator against Kafka and ClickHouse', () => {
  it('turns partials into the expected rows of the minute, hourly and daily views', async () => {
    await harness.producer.send(names.topic, partials);
    await waitCaughtUp(harness.admin, names);
    const expected = expectedOf(partials);
    expect(expected.minute).toHaveLength(10);
    expect(await readView(harness.ch, 'minute_aggregates', customers)).toEqual(expected.minute);
    expect(await readView(harness.ch, 'hourly_aggregates', customers)).toEqual(expected.hour);
    expect(await readView(harness.ch, 'daily_aggregates', customers)).toEqual(expected.day);
    expect(await metric(app.url, 'aggregator_partials_merged_total')).toBe(partials.length);
    expect(await metric(app.url, 'aggregator_partials_duplicate_total')).toBe(0);
  });

  it('changes nothing when every partial is delivered a second time', async () => {
    const rowsBefore = await metric(app.url, 'aggregator_rows_written_total');
    const revisionsBefore = await harness.ch.query<{ n: string }>(`SELECT count() AS n FROM ${names.database}.window_revisions`);
    await harness.producer.send(names.topic, shuffled(partials, 7));
    await waitCaughtUp(harness.admin, names);
    const expected = expectedOf(partials);
    expect(await readView(harness.ch, 'minute_aggregates', customers)).toEqual(expected.minute);
    expect(await readView(harness.ch, 'hourly_aggregates', customers)).toEqual(expected.hour);
    expect(await readView(harness.ch, 'daily_aggregates', customers)).toEqual(expected.day);
    expect(await metric(app.url, 'aggregator_partials_duplicate_total')).toBe(partials.length);
    expect(await metric(app.url, 'aggregator_rows_written_total')).toBe(rowsBefore);
    expect(await harness.ch.query<{ n: string }>(`SELECT count() AS n FROM ${names.database}.window_revisions`)).toEqual(revisionsBefore);
  });

  it('merges a late partial into a visible window as a new revision and counts it in late_events_total', async () => {
    const customer = ['cus-late'];
    const early: Partial[] = generatePartials({ customers: customer, minutes: ['2025-06-01T10:00Z'], batches: 3 });
    const [partition] = await harness.producer.send(names.topic, early.slice(0, 1));
    await harness.producer.send(names.topic, early.slice(1), { partition });
    await waitCaughtUp(harness.admin, names);
    expect(await readView(harness.ch, 'minute_aggregates', customer)).toEqual(expectedOf(early).minute);
    const lateBefore = await metric(app.url, 'late_events_total');

    // Event time moves on by ten minutes on the window's partition (allowed lateness: 60 s) ...
    const later = generatePartials({ customers: customer, minutes: ['2025-06-01T10:10Z'], batches: 1, prefix: 'later' });
    await harness.producer.send(names.topic, later, { partition });
    // ... then a batch for the 10:00 window arrives.
    const late = generatePartials({ customers: customer, minutes: ['2025-06-01T10:00Z'], batches: 1, prefix: 'late' });
    await harness.producer.send(names.topic, late, { partition });
    await waitCaughtUp(harness.admin, names);

    expect(await readView(harness.ch, 'minute_aggregates', customer)).toEqual(expectedOf([...early, ...later, ...late]).minute);
    expect(await metric(app.url, 'late_events_total')).toBe(lateBefore + 1);
    const revisions = await harness.ch.query<{ n: string }>(`SELECT count() AS n FROM ${names.database}.window_revisions WHERE customer_id = 'cus-late' AND window_start = toDateTime('2025-06-01 10:00:00', 'UTC')`);
    expect(Number(revisions[0].n)).toBeGreaterThanOrEqual(2);
  });

  it('after a restart, reloads a written window from ClickHouse and counts a new partial for it as late', async () => {
    const customer = ['cus-reload'];
    const first = generatePartials({ customers: customer, minutes: ['2024-02-29T23:59Z'], batches: 2 });
    await harness.producer.send(names.topic, first);
    await waitCaughtUp(harness.admin, names);
    await app.stop();
    await app.restart();
    const backfill = generatePartials({ customers: customer, minutes: ['2024-02-29T23:59Z'], batches: 1, prefix: 'backfill' });
    await harness.producer.send(names.topic, [...first, ...backfill]);
    await waitCaughtUp(harness.admin, names);
    expect(await readView(harness.ch, 'minute_aggregates', customer)).toEqual(expectedOf([...first, ...backfill]).minute);
    expect(await metric(app.url, 'late_events_total')).toBe(1);
    expect(await metric(app.url, 'aggregator_partials_duplicate_total')).toBe(first.length);
    expect(await metric(app.url, 'aggregator_windows_loaded_total')).toBeGreaterThanOrEqual(1);
  });

  it('sends a message that is not a valid partial to the dead-letter topic and keeps going', async () => {
    const p = generatePartials({ customers: ['cus-dlq'], minutes: ['2025-12-28T18:03Z'], batches: 1 })[0];
    const raw = harness.kafka.producer();
    await raw.connect();
    await raw.send({ topic: names.topic, messages: [{ key: 'cus-dlq|2025-12-28T18:03Z', value: '{"v":1,"broken":' }, { key: 'wrong-key', value: JSON.stringify(p) }] });
    await raw.disconnect();
    await harness.producer.send(names.topic, [p]);
    await waitCaughtUp(harness.admin, names);
    expect(await metric(app.url, 'consumer_dead_letters_total')).toBe(2);
    expect(await readView(harness.ch, 'minute_aggregates', ['cus-dlq'])).toEqual(expectedOf([p]).minute);
    const offsets = await harness.admin.fetchTopicOffsets(names.dlq);
    expect(offsets.reduce((n, o) => n + Number(o.high), 0)).toBe(2);
  });
});
