import { createHash } from 'node:crypto';
import { rawBatchKey, summaryKey } from '@pipeline/batch';
import { UserAgentClassifier } from '@pipeline/entry';
import { createLogger } from '@pipeline/platform';
import { Registry } from 'prom-client';
import { BatchProcessor, DLQ_HEADERS, InboundMessage, ProcessControl, StoppedError } from './batch-processor';
import { CoalescingPublisher } from '@pipeline/kafka';
import { EventHandler, FetchedBatchPayload, announcedEntries, processFetchedBatch } from './fetched-batch';
import { SummarizerMetrics } from './metrics';
import { WeightedLimiter } from './ordered-pool';
import { MemoryPublisher, MemoryStore } from './unit-fakes';

const logger = createLogger('test', 'silent');
const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};
/** Waits (a bounded number of short sleeps) for a condition that real timers bring about. */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 2_000; i++) {
    if (condition()) return;
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error('condition not reached');
}

/** What kafkajs hands eachBatch, recording what the code under test does with it. */
function fakePayload(values: (string | null)[], firstOffset = 100) {
  const state = { resolved: [] as string[], commits: 0, heartbeats: 0, running: true, stale: false, heartbeatError: undefined as unknown };
  const payload: FetchedBatchPayload = {
    batch: {
      topic: 'ingested',
      partition: 0,
      messages: values.map((v, i) => ({ offset: String(firstOffset + i), key: Buffer.from(`k${i}`), value: v === null ? null : Buffer.from(v) })),
    },
    resolveOffset: (offset: string) => void state.resolved.push(offset),
    heartbeat: async () => {
      state.heartbeats++;
      if (state.heartbeatError) throw state.heartbeatError;
    },
    commitOffsetsIfNecessary: async () => void state.commits++,
    isRunning: () => state.running,
    isStale: () => state.stale,
  };
  return { payload, state };
}

/**
 * A handler whose records finish only when the test says so; a record told to `hang` behaves like
 * one retrying through an outage: it gives up with StoppedError once the consumer says stop.
 */
class GatedHandler implements EventHandler {
  readonly started: string[] = [];
  inFlight = 0;
  maxInFlight = 0;
  private readonly gates = new Map<string, { resolve: () => void; reject: (err: unknown) => void; ctl: ProcessControl }>();

  process(msg: InboundMessage, ctl: ProcessControl): Promise<void> {
    this.started.push(msg.offset);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    return new Promise<void>((resolve, reject) => this.gates.set(msg.offset, { resolve, reject, ctl })).finally(() => this.inFlight--);
  }

  finish(...offsets: number[]) {
    for (const offset of offsets) {
      const gate = this.gates.get(String(offset));
      if (!gate) throw new Error(`offset ${offset} is not in flight`);
      this.gates.delete(String(offset));
      gate.resolve();
    }
  }

  fail(offset: number, err: unknown) {
    this.gates.get(String(offset))!.reject(err);
    this.gates.delete(String(offset));
  }

  /** Settles every record still in flight the way the processor does once asked to stop. */
  stopStragglers() {
    for (const [offset, gate] of this.gates) {
      if (gate.ctl.shouldStop()) {
        this.gates.delete(offset);
        gate.reject(new StoppedError(new Error('S3 unavailable')));
      }
    }
  }

  shouldStopSeenBy(offset: number): boolean {
    return this.gates.get(String(offset))!.ctl.shouldStop();
  }
}

const event = (entries: number) => JSON.stringify({ entries });
const deps = (handler: EventHandler, over: Partial<{ concurrency: number; limiter: WeightedLimiter; stopping: () => boolean }> = {}) => ({
  handler,
  eventConcurrency: over.concurrency ?? 16,
  limiter: over.limiter ?? new WeightedLimiter(40_000),
  isStopping: over.stopping ?? (() => false),
  logger,
});

describe('processFetchedBatch', () => {
  it('works on the records concurrently and resolves offsets only up to the first unfinished one', async () => {
    const handler = new GatedHandler();
    const { payload, state } = fakePayload(Array.from({ length: 5 }, () => event(20)));
    const run = processFetchedBatch(payload, deps(handler));
    await flush();
    expect(handler.started).toEqual(['100', '101', '102', '103', '104']);

    handler.finish(103, 101, 104);
    await flush();
    expect(state.resolved).toEqual([]);
    handler.finish(100);
    await flush();
    expect(state.resolved).toEqual(['101']);
    handler.finish(102);
    await run;
    expect(state.resolved).toEqual(['101', '104']);
    expect(state.commits).toBeGreaterThanOrEqual(1);
    expect(state.heartbeats).toBeGreaterThanOrEqual(1);
  });

  it('keeps at most SUMMARIZER_EVENT_CONCURRENCY records in flight', async () => {
    const handler = new GatedHandler();
    const { payload, state } = fakePayload(Array.from({ length: 9 }, () => event(1)));
    const run = processFetchedBatch(payload, deps(handler, { concurrency: 4 }));
    for (let offset = 100; offset < 109; offset++) {
      await flush();
      handler.finish(offset);
    }
    await run;
    expect(handler.maxInFlight).toBe(4);
    expect(state.resolved.at(-1)).toBe('108');
  });

  it('commits nothing past a record that is stuck, however many behind it are done, and leaves it unresolved on stop', async () => {
    const handler = new GatedHandler();
    let stopping = false;
    const { payload, state } = fakePayload(Array.from({ length: 6 }, () => event(20)));
    const run = processFetchedBatch(payload, deps(handler, { concurrency: 3, stopping: () => stopping }));
    await flush();
    handler.finish(100, 102);
    await flush();
    handler.finish(103, 104);
    await flush();
    // 101 is stuck (say S3 is down for its object): 102..104 are done, only 100 may be committed.
    expect(state.resolved).toEqual(['100']);
    expect(handler.started).toEqual(['100', '101', '102', '103', '104', '105']);

    stopping = true; // SIGTERM
    handler.finish(105);
    handler.stopStragglers();
    await expect(run).resolves.toBeUndefined();
    expect(state.resolved).toEqual(['100']);
  });

  it('stops starting records once the partition is revoked', async () => {
    const handler = new GatedHandler();
    const { payload, state } = fakePayload(Array.from({ length: 4 }, () => event(1)));
    const run = processFetchedBatch(payload, deps(handler, { concurrency: 1 }));
    await flush();
    state.stale = true;
    handler.finish(100);
    await run;
    expect(handler.started).toEqual(['100']);
    expect(state.resolved).toEqual(['100']);
  });

  it('stops starting records once a heartbeat says the group is rebalancing', async () => {
    const handler = new GatedHandler();
    const { payload, state } = fakePayload(Array.from({ length: 6 }, () => event(1)));
    state.heartbeatError = Object.assign(new Error('rebalancing'), { type: 'REBALANCE_IN_PROGRESS' });
    const run = processFetchedBatch(payload, deps(handler, { concurrency: 1 }));
    await flush();
    handler.finish(100);
    await flush();
    // The heartbeat after 100 answers asynchronously: at most the next record got started meanwhile.
    if (handler.started.includes('101')) handler.finish(101);
    await run;
    expect(handler.started.length).toBeLessThanOrEqual(2);
    expect(state.resolved.at(-1)).toBe(handler.started.at(-1));
  });

  it('on a failure no retry fixes, tells the others to stop, waits for them, then rethrows', async () => {
    const handler = new GatedHandler();
    const { payload, state } = fakePayload(Array.from({ length: 4 }, () => event(1)));
    const run = processFetchedBatch(payload, deps(handler, { concurrency: 2 }));
    const outcome = run.then(
      () => 'resolved',
      (err: Error) => err.message,
    );
    await flush();
    handler.fail(101, new TypeError('boom'));
    await flush();
    expect(handler.shouldStopSeenBy(100)).toBe(true);
    handler.finish(100);
    expect(await outcome).toBe('boom');
    expect(handler.started).toEqual(['100', '101']);
    expect(state.resolved).toEqual(['100']);
  });

  it('weighs records by the entries their events announce, against the budget of all partitions', async () => {
    const handler = new GatedHandler();
    const limiter = new WeightedLimiter(40_000);
    const { payload } = fakePayload([event(14_000), event(14_000), event(14_000), event(20)]);
    const run = processFetchedBatch(payload, deps(handler, { limiter }));
    await flush();
    // The third large one does not fit; the small one behind it waits its turn.
    expect(handler.started).toEqual(['100', '101']);
    expect(limiter.inUse).toBe(28_000);
    handler.finish(100);
    await flush();
    expect(handler.started).toEqual(['100', '101', '102', '103']);
    handler.finish(101, 102, 103);
    await run;
    expect(limiter.inUse).toBe(0);
  });
});

describe('announcedEntries', () => {
  it('reads the entry count of an event, and counts anything else as 1', () => {
    expect(announcedEntries(Buffer.from(JSON.stringify({ v: 1, entries: 12_958 })))).toBe(12_958);
    expect(announcedEntries(null)).toBe(1);
    expect(announcedEntries(Buffer.from('not json'))).toBe(1);
    expect(announcedEntries(Buffer.from(JSON.stringify({ entries: -3 })))).toBe(1);
    expect(announcedEntries(Buffer.from(JSON.stringify({ entries: '20' })))).toBe(1);
  });
});

describe('processFetchedBatch with the real processor (S3 and Kafka in memory)', () => {
  const CUSTOMER = 'cus-axon';
  const entries = [
    { receivedAt: '2025-12-28T18:03:59.999Z', method: 'GET', path: '/', userAgent: 'curl/7.88.1' },
    { receivedAt: '2025-12-28T18:04:00.000Z', method: 'GET', path: '/about', userAgent: 'curl/7.88.1' },
  ];

  function setup() {
    const store = new MemoryStore();
    const publisher = new MemoryPublisher();
    const classifier = new UserAgentClassifier(100);
    const metrics = new SummarizerMetrics(new Registry(), classifier);
    const processor = new BatchProcessor({
      store,
      publisher: new CoalescingPublisher(publisher),
      classifier,
      metrics,
      logger,
      insightTopic: 'insights',
      dlqTopic: 'dlq',
      retryMaxMs: 1,
    });
    const putRaw = (batchId: string) => {
      const body = JSON.stringify(entries);
      store.objects.set(rawBatchKey(CUSTOMER, batchId), { body: Buffer.from(body), metadata: {} });
      return JSON.stringify({
        v: 1,
        batchId,
        customerId: CUSTOMER,
        objectKey: rawBatchKey(CUSTOMER, batchId),
        entries: entries.length,
        sha256: createHash('sha256').update(body).digest('hex'),
        ingestedAt: '2025-12-28T18:10:00.000Z',
      });
    };
    return { store, publisher, processor, putRaw };
  }

  it('dead-letters a poison record in the middle and commits past it; a batch delivered twice in one fetch is harmless', async () => {
    const { store, publisher, processor, putRaw } = setup();
    const a = putRaw('b-a');
    const b = putRaw('b-b');
    const { payload, state } = fakePayload([a, 'not an event', b, a]);
    await processFetchedBatch(payload, deps(processor));

    expect(state.resolved.at(-1)).toBe('103');
    const dead = publisher.on('dlq');
    expect(dead).toHaveLength(1);
    expect(dead[0].headers?.[DLQ_HEADERS.sourceOffset]).toBe('101');
    // b-a twice (byte-identical), b-b once: 2 minutes each.
    const insights = publisher.on('insights').map((m) => String(m.value));
    expect(insights).toHaveLength(6);
    const ofA = insights.filter((v) => v.includes('"b-a"'));
    expect(ofA).toHaveLength(4);
    expect(new Set(ofA).size).toBe(2);
    expect(store.objects.has(summaryKey(CUSTOMER, 'b-a'))).toBe(true);
    expect(store.objects.has(summaryKey(CUSTOMER, 'b-b'))).toBe(true);
  });

  it('retries one record through an S3 outage while the others finish, commits past it only once it is done', async () => {
    const { store, publisher, processor, putRaw } = setup();
    const events = ['b-0', 'b-1', 'b-2', 'b-3'].map(putRaw);
    store.unreachable.add(rawBatchKey(CUSTOMER, 'b-1'));
    const { payload, state } = fakePayload(events);
    const run = processFetchedBatch(payload, deps(processor));
    try {
      // The others finish: their partials are out, b-1's are not, and b-1 keeps heartbeating.
      await until(() => publisher.on('insights').length >= 6);
      expect(publisher.on('insights').map((m) => JSON.parse(String(m.value)).batchId).sort()).toEqual(['b-0', 'b-0', 'b-2', 'b-2', 'b-3', 'b-3']);
      const beats = state.heartbeats;
      await until(() => state.heartbeats > beats + 3);
      expect(state.resolved).toEqual(['100']);
    } finally {
      store.unreachable.clear();
      await run;
    }
    expect(state.resolved.at(-1)).toBe('103');
    expect(publisher.on('dlq')).toHaveLength(0);
    expect(publisher.on('insights')).toHaveLength(8);
  });

  it('shares produce requests between records that finish together', async () => {
    const { publisher, processor, putRaw } = setup();
    const events = Array.from({ length: 12 }, (_, i) => putRaw(`b-${i}`));
    const { payload } = fakePayload(events);
    await processFetchedBatch(payload, deps(processor));
    expect(publisher.on('insights')).toHaveLength(24);
    expect(publisher.sends.length).toBeLessThan(12);
  });
});
