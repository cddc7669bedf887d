import { EventPublisher, OutboundMessage } from '@pipeline/kafka';
import { fromRow, Partial, toRow, WindowRevisionRow, WindowState, WindowStateCache } from '@pipeline/partial';
import { windowKey } from '@pipeline/window';
import pino from 'pino';
import { Registry } from 'prom-client';
import { BatchContext, WindowAggregator } from './aggregator';
import { AggregatorMetrics } from './metrics';
import { WindowRef, WindowStore } from './window-store';

const partial = (batchId: string, windowStart = '2025-12-28T18:03Z', n = 2, customerId = 'cus-axon'): Partial => ({
  v: 1,
  batchId,
  customerId,
  windowStart,
  windowSize: 'minute',
  total: n,
  requestsByPath: { 'GET /': n },
  requestsByUserAgent: { curl: n },
});

/** window_revisions in memory: every row ever written, latest revision wins. */
class MemoryStore implements WindowStore {
  rows: WindowRevisionRow[] = [];
  loads = 0;
  failWrites = 0;
  failLoads = 0;

  async load(windows: WindowRef[]): Promise<Map<string, WindowState>> {
    this.loads++;
    if (this.failLoads > 0 && this.failLoads--) throw new Error('ClickHouse down');
    const out = new Map<string, WindowState>();
    for (const w of windows) {
      const latest = this.latest(w.customerId, w.windowStart);
      if (latest) out.set(windowKey(w.customerId, w.windowStart), fromRow(latest));
    }
    return out;
  }

  async write(states: WindowState[]): Promise<void> {
    if (this.failWrites > 0 && this.failWrites--) throw new Error('ClickHouse down');
    this.rows.push(...states.map(toRow));
  }

  latest(customerId: string, windowStart: string): WindowRevisionRow | undefined {
    const ws = `${windowStart.slice(0, 10)} ${windowStart.slice(11, 16)}:00`;
    return this.rows.filter((r) => r.customer_id === customerId && r.window_start === ws).sort((a, b) => b.revision - a.revision)[0];
  }
}

class MemoryPublisher implements EventPublisher {
  sent: Array<{ topic: string; messages: OutboundMessage[] }> = [];
  async publish(topic: string, messages: OutboundMessage[]): Promise<void> {
    this.sent.push({ topic, messages });
  }
}

interface FakeBatch {
  ctx: BatchContext;
  commits: string[];
  running: boolean;
}

function batchOf(values: Array<Partial | string>, firstOffset = 0, partition = 0): FakeBatch {
  const messages = values.map((v, i) => {
    const isPartial = typeof v !== 'string';
    return {
      offset: String(firstOffset + i),
      key: Buffer.from(isPartial ? windowKey(v.customerId, v.windowStart) : 'k'),
      value: Buffer.from(isPartial ? JSON.stringify(v) : v),
      timestamp: '0',
      attributes: 0,
      headers: {},
    };
  });
  const fake: FakeBatch = { commits: [], running: true, ctx: undefined as unknown as BatchContext };
  fake.ctx = {
    batch: { topic: 'insight-events', partition, messages, lastOffset: () => messages[messages.length - 1].offset },
    resolveOffset: () => undefined,
    heartbeat: async () => undefined,
    commitOffsetsIfNecessary: async (offsets) => {
      fake.commits.push(offsets!.topics[0].partitions[0].offset);
    },
    isRunning: () => fake.running,
    isStale: () => false,
  };
  return fake;
}

function setup(store = new MemoryStore()) {
  const registry = new Registry();
  const cache = new WindowStateCache({ maxWindows: 100, idleEvictMs: 60_000 });
  const metrics = new AggregatorMetrics(registry, () => cache.size);
  const dlq = new MemoryPublisher();
  const aggregator = new WindowAggregator(store, dlq, cache, metrics, pino({ level: 'silent' }), {
    dlqTopic: 'insight-events-dlq',
    allowedLatenessMs: 300_000,
    retryMaxMs: 5,
    heartbeatIntervalMs: 1_000,
  });
  const metric = async (name: string) => (await registry.getSingleMetric(name)!.get()).values.reduce((a, v) => a + v.value, 0);
  return { store, cache, metrics, dlq, aggregator, metric };
}

describe('WindowAggregator', () => {
  it('writes one revision per changed window, then commits past the batch', async () => {
    const { store, aggregator, metric } = setup();
    const b = batchOf([partial('b1'), partial('b1', '2025-12-28T18:04Z'), partial('b2')]);
    await aggregator.handleBatch(b.ctx);
    expect(store.rows).toHaveLength(2);
    expect(store.latest('cus-axon', '2025-12-28T18:03Z')).toMatchObject({ total_requests: 4, batch_ids: ['b1', 'b2'], revision: 3 });
    expect(store.latest('cus-axon', '2025-12-28T18:04Z')).toMatchObject({ total_requests: 2, revision: 2 });
    expect(b.commits).toEqual(['3']);
    expect(await metric('aggregator_partials_merged_total')).toBe(3);
    expect(await metric('aggregator_rows_written_total')).toBe(2);
  });

  it('retries a failed write and commits only after it succeeded', async () => {
    const { store, aggregator, metric } = setup();
    store.failWrites = 2;
    const b = batchOf([partial('b1')]);
    await aggregator.handleBatch(b.ctx);
    expect(store.rows).toHaveLength(1);
    expect(b.commits).toEqual(['1']);
    expect(await metric('aggregator_clickhouse_errors_total')).toBe(2);
  });

  it('commits nothing and keeps no unwritten state when it stops while ClickHouse is down', async () => {
    const { store, aggregator, cache } = setup();
    await aggregator.handleBatch(batchOf([partial('b1')]).ctx);
    store.failWrites = 1_000;
    const b = batchOf([partial('b2')], 1);
    setTimeout(() => (b.running = false), 30);
    await expect(aggregator.handleBatch(b.ctx)).rejects.toThrow(/ClickHouse down/);
    expect(b.commits).toEqual([]);
    expect([...cache.get('cus-axon|2025-12-28T18:03Z')!.batchIds]).toEqual(['b1']);
    // Redelivered once ClickHouse is back: b2 is merged, not mistaken for a duplicate.
    store.failWrites = 0;
    const again = batchOf([partial('b2')], 1);
    await aggregator.handleBatch(again.ctx);
    expect(store.latest('cus-axon', '2025-12-28T18:03Z')).toMatchObject({ total_requests: 4, batch_ids: ['b1', 'b2'] });
    expect(again.commits).toEqual(['2']);
  });

  it('ignores a batch redelivered after a crash between write and commit (fresh process)', async () => {
    const first = setup();
    const b = batchOf([partial('b1'), partial('b2', '2025-12-28T18:04Z')]);
    b.ctx.commitOffsetsIfNecessary = async () => {
      throw new Error('process killed before the commit');
    };
    await expect(first.aggregator.handleBatch(b.ctx)).rejects.toThrow(/killed/);
    const rowsAfterCrash = first.store.rows.length;

    const restarted = setup(first.store);
    const again = batchOf([partial('b1'), partial('b2', '2025-12-28T18:04Z'), partial('b3')]);
    await restarted.aggregator.handleBatch(again.ctx);
    expect(restarted.store.latest('cus-axon', '2025-12-28T18:03Z')).toMatchObject({ total_requests: 4, batch_ids: ['b1', 'b3'] });
    expect(restarted.store.latest('cus-axon', '2025-12-28T18:04Z')).toMatchObject({ total_requests: 2, batch_ids: ['b2'] });
    expect(restarted.store.rows.length).toBe(rowsAfterCrash + 1); // only 18:03 changed
    expect(await restarted.metric('aggregator_partials_duplicate_total')).toBe(2);
    expect(again.commits).toEqual(['3']);
  });

  it('loads windows it does not hold in one call, and again after a group join', async () => {
    const { store, aggregator } = setup();
    await aggregator.handleBatch(batchOf([partial('b1'), partial('b1', '2025-12-28T18:04Z')]).ctx);
    expect(store.loads).toBe(1);
    await aggregator.handleBatch(batchOf([partial('b2')], 2).ctx);
    expect(store.loads).toBe(1);
    aggregator.onGroupJoin();
    await aggregator.handleBatch(batchOf([partial('b3')], 3).ctx);
    expect(store.loads).toBe(2);
    expect(store.latest('cus-axon', '2025-12-28T18:03Z')).toMatchObject({ total_requests: 6 });
  });

  it('retries a failed load', async () => {
    const { store, aggregator } = setup();
    store.failLoads = 1;
    const b = batchOf([partial('b1')]);
    await aggregator.handleBatch(b.ctx);
    expect(store.loads).toBe(2);
    expect(b.commits).toEqual(['1']);
  });

  it('sends invalid messages to the dead-letter topic with a reason and moves on', async () => {
    const { store, aggregator, dlq, metric } = setup();
    const wrongKey = batchOf([partial('b9')]).ctx.batch.messages[0];
    const b = batchOf(['{not json', JSON.stringify({ v: 2 }), partial('b1')]);
    b.ctx.batch.messages.push({ ...wrongKey, key: Buffer.from('cus-axon|b9'), offset: '3' });
    await aggregator.handleBatch(b.ctx);
    expect(dlq.sent).toHaveLength(1);
    expect(dlq.sent[0].topic).toBe('insight-events-dlq');
    expect(dlq.sent[0].messages.map((m) => m.headers!['dlq-reason'])).toEqual(['not JSON', 'unsupported version 2', expect.stringMatching(/key does not match/)]);
    expect(dlq.sent[0].messages.map((m) => m.headers!['dlq-reason-code'])).toEqual(['not_json', 'invalid_partial', 'key_mismatch']);
    expect(dlq.sent[0].messages[0].headers!['dlq-source-offset']).toBe('0');
    expect(store.rows).toHaveLength(1);
    expect(b.commits).toEqual(['4']);
    expect(await metric('aggregator_partials_invalid_total')).toBe(3);
  });

  it('counts a partial for a written window reloaded from ClickHouse as late, and merges it', async () => {
    const { store, aggregator, metric, cache } = setup();
    await aggregator.handleBatch(batchOf([partial('b1', '2024-03-01T10:00Z')]).ctx);
    cache.clear(); // evicted
    await aggregator.handleBatch(batchOf([partial('b2', '2024-03-01T10:00Z')], 1).ctx);
    expect(await metric('late_events_total')).toBe(1);
    expect(store.latest('cus-axon', '2024-03-01T10:00Z')).toMatchObject({ total_requests: 4, revision: 2 });
  });

  it('counts a partial as late when its window is far behind the partition watermark', async () => {
    const { aggregator, metric } = setup();
    await aggregator.handleBatch(batchOf([partial('b1', '2025-12-28T18:03Z')]).ctx);
    await aggregator.handleBatch(batchOf([partial('b2', '2025-12-28T18:30Z'), partial('b3', '2025-12-28T18:03Z')], 1).ctx);
    expect(await metric('late_events_total')).toBe(1);
  });

  it('does nothing with a batch that is stale or arrives while stopping', async () => {
    const { store, aggregator } = setup();
    const b = batchOf([partial('b1')]);
    b.running = false;
    await aggregator.handleBatch(b.ctx);
    expect(store.rows).toHaveLength(0);
    expect(b.commits).toEqual([]);
  });
});
