import { BatchEventPublisher } from '@pipeline/batch';
import { parseBatchIngestedEvent, RAW_METADATA, rawBatchKey, summaryKey } from '@pipeline/contract';
import { ListedObject, ObjectStore } from '@pipeline/s3';
import pino from 'pino';
import { Registry } from 'prom-client';
import { Reconciler } from './reconciler';

const NOW = Date.parse('2026-01-01T12:00:00Z');

/** Listing and HEAD over an in-memory bucket, paged like S3 (key order, StartAfter, MaxKeys). */
class Bucket implements Pick<ObjectStore, 'list' | 'head'> {
  readonly objects = new Map<string, { modified: number; metadata: Record<string, string> }>();
  lists = 0;
  readonly listed: string[] = [];

  put(key: string, ageMs: number, metadata: Record<string, string> = {}) {
    this.objects.set(key, { modified: NOW - ageMs, metadata });
  }

  async list(prefix: string, options: { startAfter?: string; maxKeys?: number } = {}) {
    this.lists++;
    const keys = [...this.objects.keys()].filter((k) => k.startsWith(prefix) && (options.startAfter === undefined || k > options.startAfter)).sort();
    const max = options.maxKeys ?? 1000;
    this.listed.push(...keys.slice(0, max));
    const objects: ListedObject[] = keys.slice(0, max).map((key) => ({ key, lastModified: new Date(this.objects.get(key)!.modified), size: 1 }));
    return { objects, truncated: keys.length > max };
  }

  async head(key: string) {
    return this.objects.get(key)?.metadata ?? null;
  }
}

const meta = (entries: number) => ({ [RAW_METADATA.sha256]: 'a'.repeat(64), [RAW_METADATA.entries]: String(entries), [RAW_METADATA.ingestedAt]: '2026-01-01T11:00:00.000Z' });

function setup(bucket: Bucket, now = () => NOW) {
  const sent: { key: string; value: string }[] = [];
  const publisher: BatchEventPublisher = { publish: async (_topic, messages) => void sent.push(...messages) };
  const reconciler = new Reconciler({
    store: bucket,
    publisher,
    topic: 'batch-ingested',
    logger: pino({ level: 'silent' }),
    registry: new Registry(),
    minAgeMs: 60_000,
    intervalMs: 1_000,
    pagesPerScan: 2,
    reannounceAfterMs: 3_600_000,
    pageSize: 10,
    now,
  });
  return { reconciler, sent };
}

describe('Reconciler', () => {
  it('announces exactly the raw batches old enough and without a summary, across page boundaries, and wraps around', async () => {
    const bucket = new Bucket();
    const orphans: string[] = [];
    for (let i = 0; i < 45; i++) {
      const batchId = `b-${String(i).padStart(3, '0')}`;
      const young = i % 9 === 0;
      bucket.put(rawBatchKey('cus-a', batchId), young ? 1_000 : 600_000, meta(i + 1));
      if (i % 4 === 0) bucket.put(summaryKey('cus-a', batchId), 0);
      else if (!young) orphans.push(batchId);
    }
    bucket.put(rawBatchKey('cus-b', 'lonely'), 600_000, meta(3));
    orphans.push('cus-b:lonely');
    const { reconciler, sent } = setup(bucket);

    const scans = [];
    for (let i = 0; i < 3; i++) scans.push(await reconciler.scan());
    expect(scans.map((s) => [s.scanned, s.wrapped])).toEqual([
      [20, false],
      [20, false],
      [6, true],
    ]);
    const announced = sent.map((m) => parseBatchIngestedEvent(JSON.parse(m.value))).map((e) => (e.ok ? (e.value.customerId === 'cus-b' ? `cus-b:${e.value.batchId}` : e.value.batchId) : e.reason));
    expect(announced.sort()).toEqual(orphans.sort());
    expect(sent.find((m) => m.key === 'cus-a|b-001')).toBeDefined();
    expect(JSON.parse(sent.find((m) => m.key === 'cus-a|b-001')!.value)).toMatchObject({ entries: 2, ingestedAt: '2026-01-01T11:00:00.000Z', objectKey: 'raw/cus-a/b-001.json' });
  });

  it('does not announce the same orphan again before the re-announce interval', async () => {
    const bucket = new Bucket();
    bucket.put(rawBatchKey('cus-a', 'x'), 600_000, meta(1));
    let now = NOW;
    const { reconciler, sent } = setup(bucket, () => now);
    await reconciler.scan();
    await reconciler.scan();
    expect(sent).toHaveLength(1);
    now += 3_600_001;
    await reconciler.scan();
    expect(sent).toHaveLength(2);
  });

  it('leaves alone a raw object without the metadata an announcement needs', async () => {
    const bucket = new Bucket();
    bucket.put(rawBatchKey('cus-a', 'nometa'), 600_000, {});
    const { reconciler, sent } = setup(bucket);
    expect(await reconciler.scan()).toMatchObject({ orphans: 1, announced: 0 });
    expect(sent).toEqual([]);
  });

  it('lists summaries only over the span of raw batches old enough to judge', async () => {
    const bucket = new Bucket();
    for (let i = 0; i < 10; i++) {
      const batchId = `b-${i}`;
      bucket.put(rawBatchKey('cus-a', batchId), i >= 3 && i <= 5 ? 600_000 : 1_000, meta(1));
      bucket.put(summaryKey('cus-a', batchId), 0);
    }
    const { reconciler, sent } = setup(bucket);
    expect(await reconciler.scan()).toMatchObject({ scanned: 10, orphans: 0 });
    expect(bucket.listed.filter((k) => k.startsWith('summaries/'))).toEqual(['summaries/cus-a/b-3.json', 'summaries/cus-a/b-4.json', 'summaries/cus-a/b-5.json', 'summaries/cus-a/b-6.json']);
    expect(sent).toEqual([]);

    // Summaries outlive their raw batches (a longer retention): more of them than raw batches in
    // the span takes more than one listing request, and an orphan after them is still found.
    for (const id of ['b-3a', 'b-3b', 'b-4a', 'b-4b']) bucket.put(summaryKey('cus-a', id), 0);
    bucket.objects.delete(summaryKey('cus-a', 'b-5'));
    const third = setup(bucket);
    expect(await third.reconciler.scan()).toMatchObject({ scanned: 10, orphans: 1, announced: 1 });
    expect(third.sent.map((m) => m.key)).toEqual(['cus-a|b-5']);

    const young = new Bucket();
    for (let i = 0; i < 25; i++) young.put(rawBatchKey('cus-a', `y-${String(i).padStart(2, '0')}`), 1_000, meta(1));
    const second = setup(young);
    expect(await second.reconciler.scan()).toMatchObject({ scanned: 20, orphans: 0 });
    expect(young.listed.filter((k) => !k.startsWith('raw/'))).toEqual([]);
  });
});
