import { MAX_BODY_BYTES } from '../scenarios';
import { LargeRun } from './results';
import { bucketMeans, insertedRowBytes, rowWithAllIdsBytes } from './section-hot';
import { analyzeLargeRun, largePool } from './section-large';
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
