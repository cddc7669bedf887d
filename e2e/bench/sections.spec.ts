import { MAX_BODY_BYTES } from '../scenarios';
import { LargeRun } from './results';
import { bucketMeans, insertedRowBytes, rowWithAllIdsBytes } from './section-hot';
import { parseCustomerLimits } from '@pipeline/batch';
import { largeCustomerLimits } from './bench';
import { analyzeLargeRun, largeCustomer, largePool } from './section-large';
import { callTail, describeNoisy, floodBody, gcBetween } from './section-noisy';
import { evaluateTargets } from './targets';
import { summarize } from './stats';

describe('large batches', () => {
  it('uses 11,000 entries when they fit in 2 MiB, and fewer when they would not', () => {
    const fits = largePool(11_000, 1);
    expect(fits.entriesPerBatch).toBe(11_000);
    expect(fits.items[0].body.length).toBeLessThanOrEqual(MAX_BODY_BYTES);
    // Minute windows of the body add up to its entries.
    expect([...fits.items[0].minutes.values()].reduce((a, w) => a + w.total, 0)).toBe(11_000);
    const tooMany = largePool(20_000, 1);
    expect(tooMany.entriesPerBatch).toBeLessThan(20_000);
    expect(tooMany.items[0].body.length).toBeLessThanOrEqual(MAX_BODY_BYTES);
  });

  const run = (lag: LargeRun['lag'], busy: number): LargeRun => ({
    clients: 4,
    entriesPerBatch: 11_000,
    partialsPerBatch: 10,
    bodyBytes: 1_800_000,
    sendSeconds: 10,
    batches: 100,
    entries: 1_100_000,
    statuses: { '202': 100 },
    acceptedEntriesPerSecond: 110_000,
    exactSeconds: 20,
    endToEndEntriesPerSecond: 55_000,
    latencyMs: summarize([100]),
    freshnessMs: summarize([5_000, 9_000]),
    cpuSeconds: {},
    cpuTotalSeconds: null,
    cpuWallSeconds: 20,
    loadGeneratorCpuSeconds: 1,
    otherMachineCpuSeconds: 0,
    machineBusyPercent: busy,
    idleCpuSeconds: null,
    cpuPercent: { 'batch-summarizer': 95, 'batch-ingestion': 40 },
    lag,
    lagPeak: { summarizer: Math.max(...lag.map((l) => l.summarizer ?? 0)), aggregator: Math.max(...lag.map((l) => l.aggregator ?? 0)) },
  });

  it('names the consumer whose backlog grows while sending', () => {
    const lag = Array.from({ length: 10 }, (_, t) => ({ t: t + 1, summarizer: 5 * t, aggregator: 3, cores: {} }));
    const text = analyzeLargeRun(run(lag, 98)).join('\n');
    expect(text).toContain("Freshness goes into the summarizer's backlog");
    expect(text).toContain('saturated');
    expect(text).toContain('summarizer 95');
    expect(text).not.toContain('Other work on the machine took');
    expect(analyzeLargeRun({ ...run(lag, 98), otherMachineCpuSeconds: 10 }).join('\n')).toContain('Other work on the machine took 50 % of a core');
  });

  it('says so when neither consumer falls behind', () => {
    const lag = Array.from({ length: 10 }, (_, t) => ({ t: t + 1, summarizer: t % 2, aggregator: 20 + (t % 3), cores: {} }));
    expect(analyzeLargeRun(run(lag, 60)).join('\n')).toContain('Neither consumer builds a backlog');
  });
});

describe('hot window', () => {
  const row = {
    customer_id: 'c',
    window_start: '2024-06-01 12:00:00',
    revision: '3',
    total_requests: '15',
    path_keys: ['GET /'],
    path_counts: ['15'],
    ua_keys: ['Chrome'],
    ua_counts: ['15'],
    batch_ids: ['a', 'b'],
    written_at: '2024-06-01 12:01:00',
  };

  it('measures a row as the aggregator inserts it: numbers as numbers, one line', () => {
    const expected = JSON.stringify({ ...row, revision: 3, total_requests: 15, path_counts: [15], ua_counts: [15] });
    expect(insertedRowBytes(row)).toBe(Buffer.byteLength(expected) + 1);
  });

  it('tells what a row carrying every id would take', () => {
    const rows = [row, { ...row, revision: '4', batch_ids: ['c'] }];
    expect(rowWithAllIdsBytes(rows)).toBe(insertedRowBytes({ ...row, revision: '4', batch_ids: ['a', 'b', 'c'] }));
  });

  it('averages consecutive revisions into at most n points, each at the last revision of its group', () => {
    const revisions = Array.from({ length: 500 }, (_, i) => ({
      merged: (i + 1) * 200,
      revision: i + 1,
      ids: 200,
      bytes: 4_000 + (i % 5),
      writeMs: i % 5 === 0 ? null : 10,
      endToEndMs: 200,
      aggregatorCpuMs: i % 2 === 0 ? 10 : 20,
      clickhouseCpuMs: null,
    }));
    const points = bucketMeans(revisions, 100);
    expect(points).toHaveLength(100);
    expect(points[0]).toMatchObject({ merged: 1_000, revision: 5, bytes: 4_002, writeMs: 10, clickhouseCpuMs: null });
    expect(points[99].merged).toBe(100_000);
    expect(points.reduce((a, p) => a + (p.aggregatorCpuMs ?? 0), 0) / 100).toBeCloseTo(15);
    expect(bucketMeans(revisions.slice(0, 3), 100)).toHaveLength(3);
  });
});

describe('noisy neighbour', () => {
  it('builds flood bodies of the given distinct paths in one minute, near the given size, each set its own', () => {
    const one = floodBody(0, 4_000, 1_600_000, '2024-02-01T12:00');
    const two = floodBody(1, 4_000, 1_600_000, '2024-02-01T12:00');
    const entries = JSON.parse(one.body.toString()) as Array<{ receivedAt: string; path: string }>;
    expect(entries).toHaveLength(one.entries);
    expect(new Set(entries.map((e) => e.path)).size).toBe(4_000);
    expect(new Set(entries.map((e) => e.receivedAt.slice(0, 16)))).toEqual(new Set(['2024-02-01T12:00']));
    expect(one.body.length).toBeGreaterThan(1_500_000);
    expect(one.body.length).toBeLessThanOrEqual(1_600_000);
    const second = new Set((JSON.parse(two.body.toString()) as Array<{ path: string }>).map((e) => e.path));
    expect(entries.some((e) => second.has(e.path))).toBe(false);
  });

  it('judges the quiet customer under the flood against its targets, and says how the flood was held back', () => {
    const quiet = (throttled: number, p99: number, fresh: number[]) => ({ sent: 100, statuses: { '202': 100 - throttled, '429': throttled }, throttled, latencyMs: summarize([5, p99]), freshnessMs: summarize(fresh) });
    const section = {
      seconds: 60,
      baselineSeconds: 10,
      flood: { customer: 'a', clients: 2, bodyBytes: 1_600_000, entriesPerBatch: 10_000, pathsPerBatch: 4_000, sendSeconds: 60, statuses: { '202': 600, '429': 90 }, refusedBy: { 'customer bytes': 90 }, acceptedBatches: 600, acceptedEntriesPerSecond: 100_000, acceptedBytesPerSecond: 16 * 2 ** 20, latencyMs: summarize([50]), exactAfterSeconds: 1.5, window: { total: 6_000_000, keys: 10_001, other: 5_000_000 } },
      quiet: { customer: 'b', perSecond: 20, entries: 20, baseline: quiet(0, 20, [300]), flood: quiet(0, 150, [500, 2_500]), unseen: 0 },
      cpuSeconds: {},
      cpuTotalSeconds: null,
      cpuWallSeconds: 60,
      loadGeneratorCpuSeconds: 1,
      otherMachineCpuSeconds: 0,
      machineBusyPercent: 90,
      idleCpuSeconds: null,
      cpuPercent: { 'batch-summarizer': 80 },
      lagPeak: { summarizer: 300, aggregator: 40 },
      timeline: Array.from({ length: 60 }, (_, t) => ({ t: t + 1, summarizer: 5 * t, aggregator: 40, cores: {} })),
      ingestion: null,
    };
    const byId = Object.fromEntries(evaluateTargets({ version: 1, sections: { noisy: { ...section, meta: { rssPeakMiB: {} } as never } } }).map((t) => [t.id, t]));
    expect([byId['noisy-throttled'].status, byId['noisy-p99'].status, byId['noisy-fresh'].status]).toEqual(['met', 'missed', 'missed']);
    const text = describeNoisy(section).join('\n');
    expect(text).toContain('refused 90 by customer bytes');
    expect(text).toContain('16.0 MiB/s');
    expect(text).toContain('10,001 path keys');
    expect(text).toContain("The summarizer fell behind: B's batches wait behind A's in the same partitions of batch-ingested");
  });
});

describe('callTail', () => {
  it('counts the calls between two scrapes and the shares above 100 and 250 ms', () => {
    const scrape = (count: number, le01: number, le025: number) =>
      [
        `x_seconds_bucket{operation="PutObject",result="ok",le="0.1"} ${le01}`,
        `x_seconds_bucket{operation="PutObject",result="ok",le="0.25"} ${le025}`,
        `x_seconds_count{operation="PutObject",result="ok"} ${count}`,
        `x_seconds_count{operation="HeadObject",result="ok"} 999`,
      ].join('\n');
    expect(callTail(scrape(10, 10, 10), scrape(110, 90, 105), 'x_seconds', { operation: 'PutObject' })).toEqual({ calls: 100, over100ms: 0.2, over250ms: 0.05 });
    expect(callTail('', '', 'x_seconds')).toEqual({ calls: 0, over100ms: null, over250ms: null });
  });
});

describe('gcBetween', () => {
  it('counts the collections between two scrapes, of every kind and major alone, and those over 100 ms', () => {
    const scrape = (minor: [number, number, number], major: [number, number, number]) =>
      [
        `nodejs_gc_duration_seconds_bucket{le="0.1",kind="minor"} ${minor[1]}`,
        `nodejs_gc_duration_seconds_sum{kind="minor"} ${minor[2]}`,
        `nodejs_gc_duration_seconds_count{kind="minor"} ${minor[0]}`,
        `nodejs_gc_duration_seconds_bucket{le="0.1",kind="major"} ${major[1]}`,
        `nodejs_gc_duration_seconds_sum{kind="major"} ${major[2]}`,
        `nodejs_gc_duration_seconds_count{kind="major"} ${major[0]}`,
      ].join('\n');
    const gc = gcBetween(scrape([100, 100, 0.5], [2, 2, 0.05]), scrape([300, 299, 1.5], [12, 9, 0.85]));
    expect(gc.collections).toBe(210);
    expect(gc.over100ms).toBe(4);
    expect(gc.majorCollections).toBe(10);
    expect(gc.majorSeconds).toBeCloseTo(0.8);
    expect(gc.seconds).toBeCloseTo(1.8);
  });
});

describe('the large section\'s customers', () => {
  it('get limits the ingestion accepts, far above the defaults', () => {
    const defaults = { requests: { perSecond: 2_000, burst: 4_000 }, bytes: { perSecond: 8 * 2 ** 20, burst: 16 * 2 ** 20 }, bytesInFlight: 16 * 2 ** 20 };
    const parsed = parseCustomerLimits(largeCustomerLimits('mxbf1234', [1, 4]), defaults);
    expect([...parsed.keys()]).toEqual([largeCustomer(1, 'mxbf1234'), largeCustomer(4, 'mxbf1234')]);
    expect(parsed.get(largeCustomer(4, 'mxbf1234'))).toEqual({ requests: { perSecond: 100_000, burst: 200_000 }, bytes: { perSecond: 2 ** 30, burst: 2 ** 31 }, bytesInFlight: 64 * 2 ** 20 });
  });
});
