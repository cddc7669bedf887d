import { PreparedBatch, prepareBatch } from './body';
import { parseBatchIngestedEvent } from '@pipeline/contract';
import { BatchEventPublisher, RawBatchStore, StoredBatchVanishedError, UnannouncedBatches, ingestBatch } from './ingest';
import { RecentAnnouncements } from './announced';

class MemoryStore implements RawBatchStore {
  readonly objects = new Map<string, { body: Buffer; metadata: Record<string, string> }>();
  headReturnsNull = false;
  /** The next write fails: before (`lost`) or after (`answer_lost`) the object is stored. */
  failNext?: 'lost' | 'answer_lost';
  async putIfAbsent(key: string, body: Buffer, metadata: Record<string, string>) {
    const failure = this.failNext;
    this.failNext = undefined;
    if (failure === 'lost') throw new Error('connect ECONNREFUSED');
    if (this.objects.has(key)) return { status: 'exists' as const };
    this.objects.set(key, { body: Buffer.from(body), metadata: { ...metadata } });
    if (failure === 'answer_lost') throw new Error('read ECONNRESET');
    return { status: 'created' as const };
  }
  async head(key: string) {
    return this.headReturnsNull ? null : (this.objects.get(key)?.metadata ?? null);
  }
}

class MemoryPublisher implements BatchEventPublisher {
  readonly sent: { topic: string; key: string; value: string }[] = [];
  readonly sentHeaders: (Record<string, string | Buffer> | undefined)[] = [];
  failNext = false;
  async publish(topic: string, messages: { key: string; value: string; headers?: Record<string, string | Buffer> }[]) {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('broker down');
    }
    for (const m of messages) {
      this.sent.push({ topic, key: m.key, value: m.value });
      this.sentHeaders.push(m.headers);
    }
  }
}

const entry = { receivedAt: '2025-12-28T18:03:07Z', method: 'GET', path: '/', userAgent: '' };
function batch(body: unknown, idempotencyKey?: string, customerId = 'cus-a'): PreparedBatch {
  const r = prepareBatch({ customerId, idempotencyKey, contentEncoding: 'identity' }, Buffer.from(JSON.stringify(body)));
  if (!r.ok) throw new Error(r.rejection.message);
  return r.value;
}

describe('ingestBatch', () => {
  let store: MemoryStore;
  let publisher: MemoryPublisher;
  let clock: number;
  const deps = () => ({ store, publisher, topic: 'batch-ingested', now: () => new Date(clock).toISOString() });

  beforeEach(() => {
    store = new MemoryStore();
    publisher = new MemoryPublisher();
    clock = Date.UTC(2026, 0, 1);
  });

  it('stores the body as sent with its digest, then publishes a valid event keyed customer|batch', async () => {
    const b = batch([entry, entry], 'k1');
    const out = await ingestBatch(b, deps());
    expect(out.kind).toBe('accepted');
    const stored = store.objects.get('raw/cus-a/k1.json')!;
    expect(stored.body.equals(Buffer.from(JSON.stringify([entry, entry])))).toBe(true);
    expect(stored.metadata).toEqual({ sha256: b.sha256, entries: '2', 'ingested-at': '2026-01-01T00:00:00.000Z' });
    expect(publisher.sent).toHaveLength(1);
    expect(publisher.sent[0].key).toBe('cus-a|k1');
    expect(parseBatchIngestedEvent(JSON.parse(publisher.sent[0].value))).toEqual({
      ok: true,
      value: { v: 1, batchId: 'k1', customerId: 'cus-a', objectKey: 'raw/cus-a/k1.json', entries: 2, sha256: b.sha256, ingestedAt: '2026-01-01T00:00:00.000Z' },
    });
  });

  it('tells its caller as each step ends: the write, then the announcement, also for a repeat', async () => {
    const steps: string[] = [];
    const onStep = (step: string) => steps.push(`${step} ${store.objects.size} ${publisher.sent.length}`);
    await ingestBatch(batch([entry], 'k1'), { ...deps(), onStep });
    expect(steps).toEqual(['stored 1 0', 'announced 1 1']);
    steps.length = 0;
    await ingestBatch(batch([entry], 'k1'), { ...deps(), onStep });
    // A repeat: the conditional write finds the batch there, and it is announced again.
    expect(steps).toEqual(['stored 1 1', 'announced 1 2']);
  });

  it('answers duplicate for the same content and publishes the same event again', async () => {
    await ingestBatch(batch([entry], 'k1'), deps());
    clock += 60_000;
    const out = await ingestBatch(batch([entry], 'k1'), deps());
    expect(out.kind).toBe('duplicate');
    expect(publisher.sent).toHaveLength(2);
    expect(publisher.sent[1]).toEqual(publisher.sent[0]);
  });

  it('recovers a batch whose first publish failed: the retry publishes it (crash safety)', async () => {
    publisher.failNext = true;
    await expect(ingestBatch(batch([entry], 'k1'), deps())).rejects.toThrow('broker down');
    expect(store.objects.size).toBe(1);
    expect(publisher.sent).toHaveLength(0);
    const out = await ingestBatch(batch([entry], 'k1'), deps());
    expect(out.kind).toBe('duplicate');
    expect(publisher.sent).toHaveLength(1);
  });

  it('answers the retry of a stored but unannounced batch as accepted, once', async () => {
    const unannounced = new UnannouncedBatches();
    publisher.failNext = true;
    await expect(ingestBatch(batch([entry], 'k1'), { ...deps(), unannounced })).rejects.toThrow('broker down');
    expect(unannounced.has('raw/cus-a/k1.json')).toBe(true);
    const [a, b] = await Promise.all([ingestBatch(batch([entry], 'k1'), { ...deps(), unannounced }), ingestBatch(batch([entry], 'k1'), { ...deps(), unannounced })]);
    expect([a.kind, b.kind].sort()).toEqual(['accepted', 'duplicate']);
    expect(unannounced.size).toBe(0);
    expect(publisher.sent).toHaveLength(2);
  });

  it('keeps a batch unannounced while its retries still fail to publish', async () => {
    const unannounced = new UnannouncedBatches();
    publisher.failNext = true;
    await expect(ingestBatch(batch([entry], 'k1'), { ...deps(), unannounced })).rejects.toThrow();
    publisher.failNext = true;
    await expect(ingestBatch(batch([entry], 'k1'), { ...deps(), unannounced })).rejects.toThrow();
    expect((await ingestBatch(batch([entry], 'k1'), { ...deps(), unannounced })).kind).toBe('accepted');
  });

  it('answers the retry of a batch whose write was stored though its answer was lost as accepted, and later repeats as duplicates', async () => {
    const unannounced = new UnannouncedBatches();
    store.failNext = 'answer_lost';
    await expect(ingestBatch(batch([entry], 'k1'), { ...deps(), unannounced })).rejects.toThrow('ECONNRESET');
    expect(publisher.sent).toHaveLength(0);
    expect((await ingestBatch(batch([entry], 'k1'), { ...deps(), unannounced })).kind).toBe('accepted');
    expect(publisher.sent).toHaveLength(1);
    expect((await ingestBatch(batch([entry], 'k1'), { ...deps(), unannounced })).kind).toBe('duplicate');
  });

  it('answers the retry of a batch whose write failed before storing as accepted, and forgets it then', async () => {
    const unannounced = new UnannouncedBatches();
    store.failNext = 'lost';
    await expect(ingestBatch(batch([entry], 'k1'), { ...deps(), unannounced })).rejects.toThrow('ECONNREFUSED');
    expect((await ingestBatch(batch([entry], 'k1'), { ...deps(), unannounced })).kind).toBe('accepted');
    expect(unannounced.size).toBe(0);
    expect((await ingestBatch(batch([entry], 'k1'), { ...deps(), unannounced })).kind).toBe('duplicate');
  });

  it('refuses a reused key with other content: nothing overwritten, nothing published', async () => {
    await ingestBatch(batch([entry], 'k1'), deps());
    const before = Buffer.from(store.objects.get('raw/cus-a/k1.json')!.body);
    const out = await ingestBatch(batch([entry, entry], 'k1'), deps());
    expect(out).toEqual({ kind: 'key_reused', batchId: 'k1' });
    expect(store.objects.get('raw/cus-a/k1.json')!.body.equals(before)).toBe(true);
    expect(publisher.sent).toHaveLength(1);
  });

  it('scopes keys per customer', async () => {
    expect((await ingestBatch(batch([entry], 'k1', 'cus-a'), deps())).kind).toBe('accepted');
    expect((await ingestBatch(batch([entry, entry], 'k1', 'cus-b'), deps())).kind).toBe('accepted');
    expect([...store.objects.keys()].sort()).toEqual(['raw/cus-a/k1.json', 'raw/cus-b/k1.json']);
  });

  it('recognises an identical retry without a key by the derived id', async () => {
    const first = await ingestBatch(batch([entry]), deps());
    const second = await ingestBatch(batch([entry]), deps());
    expect(first.kind).toBe('accepted');
    expect(second.kind).toBe('duplicate');
    expect(second.batchId).toBe(first.batchId);
  });

  it('fails (retryably) when the object vanished between the write and the read', async () => {
    await ingestBatch(batch([entry], 'k1'), deps());
    store.headReturnsNull = true;
    await expect(ingestBatch(batch([entry], 'k1'), deps())).rejects.toBeInstanceOf(StoredBatchVanishedError);
  });

  it('falls back to now when the stored object has no acceptance time', async () => {
    const b = batch([entry], 'k1');
    store.objects.set(b.objectKey, { body: Buffer.from(b.body), metadata: { sha256: b.sha256 } });
    const out = await ingestBatch(b, deps());
    expect(out.kind === 'duplicate' && out.event?.ingestedAt).toBe('2026-01-01T00:00:00.000Z');
  });

  it('sends a small batch along with its announcement, and announces a large one alone', async () => {
    const small = batch([entry], 'small');
    await ingestBatch(small, { ...deps(), inlineBodyMaxBytes: 1_000 });
    const large = batch(Array.from({ length: 40 }, () => entry), 'large');
    await ingestBatch(large, { ...deps(), inlineBodyMaxBytes: 1_000 });
    const headers = publisher.sentHeaders;
    expect(Buffer.from(headers[0]!['raw-body']).equals(Buffer.from(small.body))).toBe(true);
    expect(headers[1]).toBeUndefined();
  });

  describe('with a memory of what this process announced', () => {
    it('answers repeats of its own batches from memory: no S3 call, no re-publish', async () => {
      const announced = new RecentAnnouncements({ maxBytes: 1_000_000, maxAgeMs: 60_000 });
      const b = batch([entry], 'k1');
      expect((await ingestBatch(b, { ...deps(), announced })).kind).toBe('accepted');
      const puts = jest.spyOn(store, 'putIfAbsent');
      expect((await ingestBatch(b, { ...deps(), announced })).kind).toBe('duplicate');
      expect((await ingestBatch(batch([entry, entry], 'k1'), { ...deps(), announced })).kind).toBe('key_reused');
      expect(puts).not.toHaveBeenCalled();
      expect(publisher.sent).toHaveLength(1);
    });

    it('remembers nothing whose announcement failed: the retry goes the durable way and announces it', async () => {
      const announced = new RecentAnnouncements({ maxBytes: 1_000_000, maxAgeMs: 60_000 });
      const unannounced = new UnannouncedBatches();
      const b = batch([entry], 'k1');
      publisher.failNext = true;
      await expect(ingestBatch(b, { ...deps(), announced, unannounced })).rejects.toThrow('broker down');
      expect(announced.get(b.objectKey)).toBeUndefined();
      expect((await ingestBatch(b, { ...deps(), announced, unannounced })).kind).toBe('accepted');
      expect(publisher.sent).toHaveLength(1);
      expect(announced.get(b.objectKey)).toBe(b.sha256);
    });

    it('learns a batch announced again on a duplicate (stored by another process)', async () => {
      const announced = new RecentAnnouncements({ maxBytes: 1_000_000, maxAgeMs: 60_000 });
      const b = batch([entry], 'k1');
      await ingestBatch(b, deps());
      expect((await ingestBatch(b, { ...deps(), announced })).kind).toBe('duplicate');
      expect(publisher.sent).toHaveLength(2);
      expect((await ingestBatch(b, { ...deps(), announced })).kind).toBe('duplicate');
      expect(publisher.sent).toHaveLength(2);
    });

    it('keeps within its bytes, the least recently used leaving first', () => {
      const twoKeys = 2 * (2 * ('raw/a/1.json'.length + 64) + 100);
      const small = new RecentAnnouncements({ maxBytes: twoKeys, maxAgeMs: 60_000 });
      small.set('raw/a/1.json', 'a'.repeat(64));
      small.set('raw/a/2.json', 'b'.repeat(64));
      small.set('raw/a/3.json', 'c'.repeat(64));
      expect([small.get('raw/a/1.json'), small.get('raw/a/3.json'), small.size]).toEqual([undefined, 'c'.repeat(64), 2]);
    });
  });
});

describe('UnannouncedBatches', () => {
  it('forgets the oldest keys beyond its capacity', () => {
    const u = new UnannouncedBatches(2);
    u.add('a');
    u.add('b');
    u.add('a'); // refreshed: now the newest
    u.add('c');
    expect([u.has('a'), u.has('b'), u.has('c')]).toEqual([true, false, true]);
    expect(u.size).toBe(2);
  });
});
