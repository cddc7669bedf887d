import { Partial } from '@pipeline/contract';
import { ClickHouseError } from '@pipeline/clickhouse';
import { ConsumerMetrics, EventPublisher, FetchedBatch, OutboundMessage, PartitionWorker, WeightedLimiter } from '@pipeline/kafka';
import { fromRow, toRow, WindowRevisionRow, WindowState, WindowStateCache } from '@pipeline/partial';
import { windowKey } from '@pipeline/window';
import pino from 'pino';
import { Registry } from 'prom-client';
import { WindowAggregator } from './aggregator';
import { AggregatorMetrics } from './metrics';
import { RollupRefresher } from './rollup-refresher';
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

const down = () => new ClickHouseError('unavailable', 'unavailable', 'ClickHouse down');

/** window_revisions in memory: every row ever written; the latest revision's counts, the ids of all. */
class MemoryStore implements WindowStore {
  rows: WindowRevisionRow[] = [];
  loads = 0;
  failWrites = 0;
  failLoads = 0;
  failRefreshes = 0;
  /** What a failing refresh throws. */
  refreshError: () => Error = down;
  /** While set, refreshes wait for it. */
  refreshGate?: Promise<void>;
  /** The windows of each rollup refresh, in call order, and every call in order. */
  refreshes: string[][] = [];
  calls: string[] = [];

  async probeWrite(): Promise<void> {}

  async load(windows: WindowRef[]): Promise<Map<string, WindowState>> {
    this.loads++;
    if (this.failLoads > 0 && this.failLoads--) throw down();
    const out = new Map<string, WindowState>();
    for (const w of windows) {
      const latest = this.latest(w.customerId, w.windowStart);
      if (latest) out.set(windowKey(w.customerId, w.windowStart), fromRow({ ...latest, batch_ids: this.ids(w.customerId, w.windowStart) }));
    }
    return out;
  }

  async write(states: WindowState[]): Promise<void> {
    this.calls.push('write');
    if (this.failWrites > 0 && this.failWrites--) throw down();
    this.rows.push(...states.map(toRow));
  }

  async refreshRollups(windows: WindowRef[]): Promise<void> {
    this.calls.push('refresh');
    await this.refreshGate;
    if (this.failRefreshes > 0 && this.failRefreshes--) throw this.refreshError();
    this.refreshes.push(windows.map((w) => windowKey(w.customerId, w.windowStart)).sort());
  }

  latest(customerId: string, windowStart: string): WindowRevisionRow | undefined {
    return this.of(customerId, windowStart).sort((a, b) => b.revision - a.revision)[0];
  }

  /** Every id the window's revisions carry, sorted. */
  ids(customerId: string, windowStart: string): string[] {
    return [...new Set(this.of(customerId, windowStart).flatMap((r) => r.batch_ids))].sort();
  }

  private of(customerId: string, windowStart: string): WindowRevisionRow[] {
    const ws = `${windowStart.slice(0, 10)} ${windowStart.slice(11, 16)}:00`;
    return this.rows.filter((r) => r.customer_id === customerId && r.window_start === ws);
  }
}

class MemoryPublisher implements EventPublisher {
  sent: Array<{ topic: string; messages: OutboundMessage[] }> = [];
  async publish(topic: string, messages: OutboundMessage[]): Promise<void> {
    this.sent.push({ topic, messages });
  }
}

interface FakeBatch {
  payload: FetchedBatch;
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
  const fake: FakeBatch = { commits: [], running: true, payload: undefined as unknown as FetchedBatch };
  fake.payload = {
    batch: { topic: 'insight-events', partition, messages },
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

/** The aggregator on the consumer runtime it runs on in production, with Kafka's side in memory. */
function setup(store = new MemoryStore(), retention: { retentionDays?: number; now?: () => number } = {}) {
  const registry = new Registry();
  const cache = new WindowStateCache({ maxBytes: 1_000_000, idleEvictMs: 60_000 });
  const metrics = new AggregatorMetrics(registry, () => ({ windows: cache.size, bytes: cache.bytes }));
  const dlq = new MemoryPublisher();
  const logger = pino({ level: 'silent' });
  const rollups = new RollupRefresher((windows) => store.refreshRollups(windows), { minIntervalMs: 0, retry: { baseMs: 1, maxMs: 5 } }, metrics, logger);
  const aggregator = new WindowAggregator(store, rollups, cache, metrics, logger, { allowedLatenessMs: 300_000, ...retention });
  const worker = new PartitionWorker(
    { topic: 'insight-events', groupId: 'g', dlqTopic: 'insight-events-dlq', handler: aggregator, unit: 'batch', concurrency: 1, heartbeatIntervalMs: 1_000, commitIntervalMs: 0, retry: { baseMs: 1, maxMs: 5 }, poisonAfterAttempts: 5 },
    dlq,
    new WeightedLimiter(1_000_000),
    new ConsumerMetrics(registry, () => [], () => 0),
    logger,
    () => false,
  );
  /** One fetched batch, then what the runtime's drain does: its rollup refresh finishes and its offsets are committed. */
  const run = async (b: FakeBatch) => {
    await worker.run(b.payload);
    await worker.flushCommits(5_000);
  };
  const metric = async (name: string) => (await registry.getSingleMetric(name)!.get()).values.reduce((a, v) => a + v.value, 0);
  return { store, cache, metrics, dlq, aggregator, worker, run, metric };
}

describe('WindowAggregator', () => {
  it('writes one revision per changed window, then commits past the batch', async () => {
    const { store, run, metric } = setup();
    const b = batchOf([partial('b1'), partial('b1', '2025-12-28T18:04Z'), partial('b2')]);
    await run(b);
    expect(store.rows).toHaveLength(2);
    expect(store.latest('cus-axon', '2025-12-28T18:03Z')).toMatchObject({ total_requests: 4, batch_ids: ['b1', 'b2'], revision: 3 });
    expect(store.ids('cus-axon', '2025-12-28T18:03Z')).toEqual(['b1', 'b2']);
    expect(store.latest('cus-axon', '2025-12-28T18:04Z')).toMatchObject({ total_requests: 2, revision: 2 });
    expect(b.commits).toEqual(['3']);
    expect(await metric('aggregator_partials_merged_total')).toBe(3);
    expect(await metric('aggregator_rows_written_total')).toBe(2);
  });

  it('retries a failed write and commits only after it succeeded', async () => {
    const { store, run, metric } = setup();
    store.failWrites = 2;
    const b = batchOf([partial('b1')]);
    await run(b);
    expect(store.rows).toHaveLength(1);
    expect(b.commits).toEqual(['1']);
    expect(await metric('consumer_retries_total')).toBe(2);
  });

  it('commits nothing and keeps no unwritten state when it stops while ClickHouse is down', async () => {
    const { store, run, cache } = setup();
    await run(batchOf([partial('b1')]));
    store.failWrites = 1_000;
    const b = batchOf([partial('b2')], 1);
    setTimeout(() => (b.running = false), 30);
    await run(b);
    expect(b.commits).toEqual([]);
    expect([...cache.get('cus-axon|2025-12-28T18:03Z')!.mergedIds]).toEqual(['b1']);
    // Redelivered once ClickHouse is back: b2 is merged, not mistaken for a duplicate.
    store.failWrites = 0;
    const again = batchOf([partial('b2')], 1);
    await run(again);
    // The new revision carries only what it adds; the window's ids are those of all its revisions.
    expect(store.latest('cus-axon', '2025-12-28T18:03Z')).toMatchObject({ total_requests: 4, batch_ids: ['b2'] });
    expect(store.ids('cus-axon', '2025-12-28T18:03Z')).toEqual(['b1', 'b2']);
    expect(again.commits).toEqual(['2']);
  });

  it('ignores a batch redelivered after a crash between write and commit (fresh process)', async () => {
    const first = setup();
    const b = batchOf([partial('b1'), partial('b2', '2025-12-28T18:04Z')]);
    b.payload.commitOffsetsIfNecessary = async () => {
      throw new Error('process killed before the commit');
    };
    await first.run(b);
    const rowsAfterCrash = first.store.rows.length;

    const restarted = setup(first.store);
    const again = batchOf([partial('b1'), partial('b2', '2025-12-28T18:04Z'), partial('b3')]);
    await restarted.run(again);
    expect(restarted.store.latest('cus-axon', '2025-12-28T18:03Z')).toMatchObject({ total_requests: 4, batch_ids: ['b3'] });
    expect(restarted.store.ids('cus-axon', '2025-12-28T18:03Z')).toEqual(['b1', 'b3']);
    expect(restarted.store.latest('cus-axon', '2025-12-28T18:04Z')).toMatchObject({ total_requests: 2, batch_ids: ['b2'] });
    expect(restarted.store.rows.length).toBe(rowsAfterCrash + 1); // only 18:03 changed
    expect(await restarted.metric('aggregator_partials_duplicate_total')).toBe(2);
    expect(again.commits).toEqual(['3']);
  });

  it('refreshes the rollups of every window the batch touched after writing it, duplicates included, before the commit', async () => {
    const first = setup();
    const b = batchOf([partial('b1'), partial('b2', '2025-12-28T18:04Z'), partial('b1')]);
    b.payload.commitOffsetsIfNecessary = async () => {
      throw new Error('process killed before the commit');
    };
    await first.run(b);
    expect(first.store.calls).toEqual(['write', 'refresh']);
    expect(first.store.refreshes).toEqual([['cus-axon|2025-12-28T18:03Z', 'cus-axon|2025-12-28T18:04Z']]);

    // Redelivered to a fresh process: nothing to write, every window still refreshed.
    const restarted = setup(first.store);
    const again = batchOf([partial('b1'), partial('b2', '2025-12-28T18:04Z')]);
    await restarted.run(again);
    expect(restarted.store.calls).toEqual(['write', 'refresh', 'refresh']);
    expect(restarted.store.refreshes[1]).toEqual(['cus-axon|2025-12-28T18:03Z', 'cus-axon|2025-12-28T18:04Z']);
    expect(again.commits).toEqual(['2']);
  });

  it('retries a failed refresh and commits only after it succeeded', async () => {
    const { store, run } = setup();
    store.failRefreshes = 2;
    const b = batchOf([partial('b1')]);
    await run(b);
    expect(store.refreshes).toEqual([['cus-axon|2025-12-28T18:03Z']]);
    expect(store.calls.filter((c) => c === 'refresh')).toHaveLength(3);
    expect(store.latest('cus-axon', '2025-12-28T18:03Z')).toMatchObject({ total_requests: 2 });
    expect(b.commits).toEqual(['1']);
  });

  it('goes on with the next batch while the rollups are refreshed, and commits each batch only after a refresh that followed its write', async () => {
    const { store, worker } = setup();
    let release = () => undefined as void;
    store.refreshGate = new Promise<void>((r) => (release = r));
    const first = batchOf([partial('b1')]);
    const second = batchOf([partial('b2', '2025-12-28T18:04Z')], 1);
    await worker.run(first.payload);
    await worker.run(second.payload);
    // Both minutes are written and visible; neither batch is committed yet.
    expect(store.calls).toEqual(['write', 'refresh', 'write']);
    expect(first.commits).toEqual([]);
    expect(second.commits).toEqual([]);
    release();
    await worker.flushCommits(5_000);
    expect(first.commits).toEqual(['1']);
    expect(second.commits).toEqual(['2']);
    // The second batch's windows went in a refresh that started after its write.
    expect(store.refreshes).toEqual([['cus-axon|2025-12-28T18:03Z'], ['cus-axon|2025-12-28T18:04Z']]);
  });

  it.each([
    ['ClickHouse down', down],
    ['an error nobody classified', () => new Error('Code: 999. something new')],
  ])('holds the partition while the rollups cannot be refreshed (%s), dead-letters nothing, and goes on once they can', async (_name, error) => {
    const { store, worker, run, dlq, metric } = setup();
    store.refreshError = error;
    store.failRefreshes = 30;
    const first = batchOf([partial('b1')]);
    const second = batchOf([partial('b2')], 1);
    await worker.run(first.payload);
    while ((await metric('aggregator_rollup_refresh_failures_total')) === 0) await new Promise((r) => setTimeout(r, 1));
    await run(second);
    expect(dlq.sent).toEqual([]);
    expect(await metric('aggregator_rollup_refresh_failures_total')).toBe(30);
    // The second batch was held, not failed: it waited for the refresh, then was merged.
    expect(await metric('consumer_retries_total')).toBeGreaterThan(0);
    expect(store.ids('cus-axon', '2025-12-28T18:03Z')).toEqual(['b1', 'b2']);
    expect(first.commits).toEqual(['1']);
    expect(second.commits).toEqual(['2']);
  });

  it('refreshes nothing for a batch with no valid partial', async () => {
    const { store, run } = setup();
    await run(batchOf(['{not json']));
    expect(store.calls).toEqual([]);
  });

  it('loads windows it does not hold in one call, and again after a new assignment', async () => {
    const { store, run, aggregator } = setup();
    await run(batchOf([partial('b1'), partial('b1', '2025-12-28T18:04Z')]));
    expect(store.loads).toBe(1);
    await run(batchOf([partial('b2')], 2));
    expect(store.loads).toBe(1);
    aggregator.onAssignment();
    await run(batchOf([partial('b3')], 3));
    expect(store.loads).toBe(2);
    expect(store.latest('cus-axon', '2025-12-28T18:03Z')).toMatchObject({ total_requests: 6 });
  });

  it('retries a failed load', async () => {
    const { store, run } = setup();
    store.failLoads = 1;
    const b = batchOf([partial('b1')]);
    await run(b);
    expect(store.loads).toBe(2);
    expect(b.commits).toEqual(['1']);
  });

  it('sends invalid messages to the dead-letter topic with a reason and moves on', async () => {
    const { store, run, dlq, metric } = setup();
    const wrongKey = batchOf([partial('b9')]).payload.batch.messages[0];
    const b = batchOf(['{not json', JSON.stringify({ v: 2 }), partial('b1')]);
    b.payload.batch.messages.push({ ...wrongKey, key: Buffer.from('cus-axon|b9'), offset: '3' });
    await run(b);
    expect(dlq.sent).toHaveLength(1);
    expect(dlq.sent[0].topic).toBe('insight-events-dlq');
    expect(dlq.sent[0].messages.map((m) => m.headers!['dlq-reason'])).toEqual(['not UTF-8 JSON', 'unsupported version 2', expect.stringMatching(/key does not match/)]);
    expect(dlq.sent[0].messages.map((m) => m.headers!['dlq-reason-code'])).toEqual(['not_json', 'invalid_partial', 'key_mismatch']);
    expect(dlq.sent[0].messages[0].headers!['dlq-source-offset']).toBe('0');
    expect(store.rows).toHaveLength(1);
    expect(b.commits).toEqual(['4']);
    expect(await metric('consumer_dead_letters_total')).toBe(3);
  });

  it('isolates a partial ClickHouse refuses for good: the rest of the batch is written, it is dead-lettered', async () => {
    const { store, run, dlq } = setup();
    const write = store.write.bind(store);
    store.write = async (states) => {
      if (states.some((s) => s.byPath.has('GET /refused'))) throw new ClickHouseError('input', 'cannot_parse_input_assertion_failed', 'Code: 27. refused');
      return write(states);
    };
    const poison = { ...partial('bad'), requestsByPath: { 'GET /refused': 2 } };
    const b = batchOf([partial('b1'), partial('b2', '2025-12-28T18:04Z'), poison, partial('b3', '2025-12-28T18:05Z')]);
    await run(b);
    expect(dlq.sent.flatMap((s) => s.messages.map((m) => [m.headers!['dlq-reason-code'], m.headers!['dlq-source-offset']]))).toEqual([['clickhouse_cannot_parse_input_assertion_failed', '2']]);
    expect(store.latest('cus-axon', '2025-12-28T18:03Z')).toMatchObject({ batch_ids: ['b1'] });
    expect(store.latest('cus-axon', '2025-12-28T18:04Z')).toMatchObject({ batch_ids: ['b2'] });
    expect(store.latest('cus-axon', '2025-12-28T18:05Z')).toMatchObject({ batch_ids: ['b3'] });
    expect(b.commits.at(-1)).toBe('4');
  });

  it('counts a partial for a written window reloaded from ClickHouse as late, and merges it', async () => {
    const { store, run, metric, cache } = setup();
    await run(batchOf([partial('b1', '2024-03-01T10:00Z')]));
    cache.clear(); // evicted
    await run(batchOf([partial('b2', '2024-03-01T10:00Z')], 1));
    expect(await metric('late_events_total')).toBe(1);
    expect(store.latest('cus-axon', '2024-03-01T10:00Z')).toMatchObject({ total_requests: 4, revision: 2 });
  });

  it('counts a partial as late when its window is far behind the partition watermark', async () => {
    const { run, metric } = setup();
    await run(batchOf([partial('b1', '2025-12-28T18:03Z')]));
    await run(batchOf([partial('b2', '2025-12-28T18:30Z'), partial('b3', '2025-12-28T18:03Z')], 1));
    expect(await metric('late_events_total')).toBe(1);
  });

  it('refuses, as late, partials of windows older than the retention, and commits past them', async () => {
    const now = Date.parse('2026-01-31T12:00:00Z');
    const { store, run, metric } = setup(new MemoryStore(), { retentionDays: 30, now: () => now });
    // 2025-12-28 is 34 days back: closed. 2026-01-15 is within the 30 days.
    const b = batchOf([partial('old'), partial('new', '2026-01-15T10:00Z'), partial('old2', '2025-12-28T18:04Z')]);
    await run(b);
    expect(store.rows.map((r) => [r.window_start, r.batch_ids])).toEqual([['2026-01-15 10:00:00', ['new']]]);
    expect(b.commits).toEqual(['3']);
    expect(await metric('aggregator_partials_expired_total')).toBe(2);
    expect(await metric('late_events_total')).toBe(2);
    expect(await metric('aggregator_partials_merged_total')).toBe(1);
  });

  it('accepts windows of any age when the retention is 0', async () => {
    const { store, run, metric } = setup(new MemoryStore(), { retentionDays: 0, now: () => Date.parse('2090-01-01T00:00:00Z') });
    await run(batchOf([partial('b1', '1970-01-01T00:00Z')]));
    expect(store.rows).toHaveLength(1);
    expect(await metric('aggregator_partials_expired_total')).toBe(0);
  });

  it('merges the parts of a split partial each once', async () => {
    const { store, run, metric } = setup();
    const part = (n: number) => ({ ...partial('wide', '2025-12-28T18:03Z', 1), requestsByPath: { [`GET /${n}`]: 1 }, part: n, parts: 2 });
    await run(batchOf([part(1), part(2), part(1)]));
    expect(store.latest('cus-axon', '2025-12-28T18:03Z')).toMatchObject({ total_requests: 2, batch_ids: ['wide#1/2', 'wide#2/2'], path_keys: ['GET /1', 'GET /2'] });
    expect(await metric('aggregator_partials_duplicate_total')).toBe(1);
  });

  it('writes per revision only the ids merged since the previous one, however many the window holds', async () => {
    const { store, run, cache } = setup();
    const many = Array.from({ length: 2_000 }, (_, i) => partial(`hot-${String(i).padStart(5, '0')}`, '2025-12-28T18:03Z', 1));
    for (let i = 0; i < many.length; i += 200) await run(batchOf(many.slice(i, i + 200), i));
    expect(store.rows.map((r) => r.batch_ids.length)).toEqual(Array(10).fill(200));
    cache.clear(); // a restart: the state comes back from the store, every id included
    await run(batchOf([many[5], partial('hot-new', '2025-12-28T18:03Z', 1)], 2_000));
    expect(store.latest('cus-axon', '2025-12-28T18:03Z')).toMatchObject({ total_requests: 2_001, batch_ids: ['hot-new'] });
    expect(store.ids('cus-axon', '2025-12-28T18:03Z')).toHaveLength(2_001);
  });

  it('holds at most AGGREGATOR_MAX_PATHS_PER_WINDOW paths a window, counts the rest under (other) and says how many', async () => {
    const options = { retentionDays: 0, maxPathsPerWindow: 2 };
    const { store, run, metric } = setup(undefined, options);
    const paths = (id: string, ...keys: string[]) => ({ ...partial(id, '2025-12-28T18:03Z', keys.length), requestsByPath: Object.fromEntries(keys.map((k) => [k, 1])) });
    await run(batchOf([paths('b1', 'GET /a', 'GET /b', 'GET /c'), paths('b2', 'GET /a', 'GET /d')]));
    expect(store.latest('cus-axon', '2025-12-28T18:03Z')).toMatchObject({ total_requests: 5, path_keys: ['(other)', 'GET /a', 'GET /b'], path_counts: [2, 2, 1] });
    expect(await metric('aggregator_paths_folded_total')).toBe(2);
    expect(await metric('aggregator_folded_requests_total')).toBe(2);
  });

  it('does nothing with a batch that arrives while stopping', async () => {
    const { store, run } = setup();
    const b = batchOf([partial('b1')]);
    b.running = false;
    await run(b);
    expect(store.rows).toHaveLength(0);
    expect(b.commits).toEqual([]);
  });
});
