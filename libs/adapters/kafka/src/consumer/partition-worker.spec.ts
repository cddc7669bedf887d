import { DEAD_LETTER_HEADERS } from '@pipeline/contract';
import { createLogger, DependencyError } from '@pipeline/platform';
import type { KafkaMessage } from 'kafkajs';
import { Registry } from 'prom-client';
import { EventPublisher, OutboundMessage } from '../producer';
import { ConsumedMessage, MessageHandler, Rejection, UnitContext } from './handler';
import { ConsumerMetrics } from './metrics';
import { WeightedLimiter } from './ordered-pool';
import { FetchedBatch, PartitionWorker, PartitionWorkerOptions } from './partition-worker';

const logger = createLogger('test', 'silent');
const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 2_000; i++) {
    if (condition()) return;
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error('condition not reached');
}

/** What kafkajs hands eachBatch, recording what the worker does with it. */
function fetched(values: (string | null)[], firstOffset = 100) {
  const state = { resolved: [] as string[], commits: [] as string[], heartbeats: 0, running: true, stale: false, heartbeatError: undefined as unknown };
  const messages: KafkaMessage[] = values.map((v, i) => ({
    offset: String(firstOffset + i),
    key: Buffer.from(`k${i}`),
    value: v === null ? null : Buffer.from(v),
    timestamp: '0',
    attributes: 0,
    headers: { trace: 'abc' },
  }));
  const payload: FetchedBatch = {
    batch: { topic: 'in', partition: 3, messages },
    resolveOffset: (offset: string) => void state.resolved.push(offset),
    heartbeat: async () => {
      state.heartbeats++;
      if (state.heartbeatError) throw state.heartbeatError;
    },
    commitOffsetsIfNecessary: async (offsets) => void state.commits.push(offsets!.topics[0].partitions[0].offset),
    isRunning: () => state.running,
    isStale: () => state.stale,
  };
  return { payload, state };
}

/** A handler whose units finish only when the test says so. */
class GatedHandler implements MessageHandler {
  readonly started: string[] = [];
  inFlight = 0;
  maxInFlight = 0;
  private readonly gates = new Map<string, { resolve: (r?: Rejection[]) => void; reject: (err: unknown) => void; ctx: UnitContext; messages: ConsumedMessage[] }>();

  handle(messages: ConsumedMessage[], ctx: UnitContext): Promise<Rejection[] | void> {
    const first = messages[0].offset;
    this.started.push(first);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    return new Promise<Rejection[] | void>((resolve, reject) => this.gates.set(first, { resolve, reject, ctx, messages })).finally(() => this.inFlight--);
  }

  finish(...offsets: number[]) {
    for (const offset of offsets) {
      const gate = this.gates.get(String(offset))!;
      this.gates.delete(String(offset));
      gate.resolve();
    }
  }

  refuse(offset: number, code: string) {
    const gate = this.gates.get(String(offset))!;
    this.gates.delete(String(offset));
    gate.resolve([{ message: gate.messages[0], code, reason: `refused: ${code}` }]);
  }

  fail(offset: number, err: unknown) {
    const gate = this.gates.get(String(offset))!;
    this.gates.delete(String(offset));
    gate.reject(err);
  }
}

class MemoryPublisher implements EventPublisher {
  readonly sent: { topic: string; message: OutboundMessage }[] = [];
  failures = 0;
  async publish(topic: string, messages: OutboundMessage[]) {
    if (this.failures > 0 && this.failures--) throw new DependencyError('kafka', 'unavailable', 'timeout', 'Kafka down');
    for (const message of messages) this.sent.push({ topic, message });
  }
}

const outage = () => new DependencyError('s3', 'unavailable', 'unavailable', 'S3 down');
const refused = () => new DependencyError('clickhouse', 'input', 'type_mismatch', 'Code: 53. refused');

function setup(handler: MessageHandler, over: Partial<PartitionWorkerOptions> & { budget?: number; stopping?: () => boolean } = {}) {
  const registry = new Registry();
  const dlq = new MemoryPublisher();
  const holder: { worker?: PartitionWorker } = {};
  const metrics = new ConsumerMetrics(registry, () => holder.worker!.stalledSeconds(), () => 0, () => holder.worker!.heldPartitions());
  const worker = (holder.worker = new PartitionWorker(
    { topic: 'in', groupId: 'g', dlqTopic: 'in-dlq', handler, unit: 'message', concurrency: 16, heartbeatIntervalMs: 1_000, commitIntervalMs: 0, retry: { baseMs: 1, maxMs: 4 }, poisonAfterAttempts: 3, ...over },
    dlq,
    new WeightedLimiter(over.budget ?? 1_000_000),
    metrics,
    logger,
    over.stopping ?? (() => false),
  ));
  const metric = async (name: string, labels: Record<string, string> = {}) => {
    const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
    return (m?.values ?? []).filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l)).reduce((n, v) => n + v.value, 0);
  };
  return { worker, dlq, metric };
}

describe('PartitionWorker', () => {
  it('works on messages concurrently and commits only up to the first unfinished one', async () => {
    const handler = new GatedHandler();
    const { worker } = setup(handler);
    const { payload, state } = fetched(['a', 'b', 'c', 'd', 'e']);
    const run = worker.run(payload);
    await flush();
    expect(handler.started).toEqual(['100', '101', '102', '103', '104']);
    handler.finish(103, 101, 104);
    await flush();
    expect(state.resolved).toEqual([]);
    handler.finish(100);
    await until(() => state.resolved.length === 1);
    expect(state.resolved).toEqual(['101']);
    handler.finish(102);
    await run;
    expect(state.resolved).toEqual(['101', '104']);
    expect(state.commits.at(-1)).toBe('105');
  });

  it('resolves a unit with a follow-up at once, so later units go ahead, and commits it only once the follow-up is done, in offset order', async () => {
    const followUps = new Map<string, () => void>();
    const handler: MessageHandler = {
      handle: async (messages, ctx) => {
        if (messages[0].value?.toString() === 'later') ctx.commitAfter(new Promise<void>((resolve) => followUps.set(messages[0].offset, resolve)));
      },
    };
    const { worker } = setup(handler, { concurrency: 1 });
    const { payload, state } = fetched(['later', 'plain', 'later']);
    await worker.run(payload);
    // Every unit ran and the fetch position moved on; the commit waits for the first follow-up.
    expect(state.resolved.at(-1)).toBe('102');
    expect(state.commits).toEqual([]);
    followUps.get('102')!();
    await flush();
    expect(state.commits).toEqual([]);
    followUps.get('100')!();
    await until(() => state.commits.length > 0);
    await worker.flushCommits(1_000);
    expect(state.commits.at(-1)).toBe('103');
  });

  it('stops committing a partition whose follow-up fails, rather than commit past what it had to do', async () => {
    let fail = (_err: unknown) => undefined as void;
    const handler: MessageHandler = {
      handle: async (messages, ctx) => {
        if (messages[0].offset === '100') ctx.commitAfter(new Promise<void>((_resolve, reject) => (fail = reject)));
      },
    };
    const { worker } = setup(handler, { concurrency: 1 });
    const { payload, state } = fetched(['a', 'b']);
    await worker.run(payload);
    fail(new Error('follow-up broke'));
    await worker.flushCommits(50);
    const next = fetched(['c'], 102);
    await worker.run(next.payload);
    await worker.flushCommits(50);
    expect([...state.commits, ...next.state.commits]).toEqual([]);
    // A new assignment starts clean.
    worker.reset();
    const after = fetched(['d'], 103);
    await worker.run(after.payload);
    expect(after.state.commits).toEqual(['104']);
  });

  it('bounds the units in flight of one partition and the bytes in flight of all', async () => {
    const handler = new GatedHandler();
    const { worker } = setup(handler, { concurrency: 2 });
    const { payload } = fetched(['a', 'b', 'c', 'd']);
    const run = worker.run(payload);
    await flush();
    expect(handler.started).toEqual(['100', '101']);
    handler.finish(100, 101);
    await until(() => handler.started.length === 4);
    handler.finish(102, 103);
    await run;
    expect(handler.maxInFlight).toBe(2);

    const heavy = new GatedHandler();
    const small = setup(heavy, { budget: 10 });
    const big = fetched(['x'.repeat(8), 'y'.repeat(8)]);
    const r = small.worker.run(big.payload);
    await flush();
    expect(heavy.started).toEqual(['100']);
    heavy.finish(100);
    await until(() => heavy.started.length === 2);
    heavy.finish(101);
    await r;
  });

  it('retries a transient failure, reports the partition stalled meanwhile, and moves on when it passes', async () => {
    let calls = 0;
    const handler: MessageHandler = {
      handle: async () => {
        if (++calls <= 3) throw outage();
      },
    };
    const { worker, metric } = setup(handler, { retry: { baseMs: 20, maxMs: 20 } });
    const { payload, state } = fetched(['a']);
    const run = worker.run(payload);
    await until(() => calls >= 2);
    expect(worker.oldestStall()).toMatchObject({ partition: 3, dependency: 's3', kind: 'unavailable', error: 's3 is unavailable (unavailable): S3 down' });
    expect(worker.stalledSeconds()).toEqual([{ topic: 'in', partition: 3, seconds: expect.any(Number) }]);
    await run;
    expect(worker.oldestStall()).toBeUndefined();
    expect(await metric('consumer_retries_total', { reason: 's3_unavailable' })).toBe(3);
    expect(state.commits).toEqual(['101']);
  });

  it('dead-letters what the handler refuses, with its reason and source in headers, and commits past it', async () => {
    const handler = new GatedHandler();
    const { worker, dlq, metric } = setup(handler);
    const { payload, state } = fetched(['a', 'b']);
    const run = worker.run(payload);
    await flush();
    handler.refuse(100, 'event_invalid');
    handler.finish(101);
    await run;
    expect(dlq.sent).toHaveLength(1);
    const { topic, message } = dlq.sent[0];
    expect(topic).toBe('in-dlq');
    expect(String(message.key)).toBe('k0');
    expect(String(message.value)).toBe('a');
    expect(message.headers).toMatchObject({
      trace: 'abc',
      [DEAD_LETTER_HEADERS.reasonCode]: 'event_invalid',
      [DEAD_LETTER_HEADERS.reason]: 'refused: event_invalid',
      [DEAD_LETTER_HEADERS.sourceTopic]: 'in',
      [DEAD_LETTER_HEADERS.sourcePartition]: '3',
      [DEAD_LETTER_HEADERS.sourceOffset]: '100',
      [DEAD_LETTER_HEADERS.group]: 'g',
    });
    expect(await metric('consumer_dead_letters_total', { reason: 'event_invalid' })).toBe(1);
    expect(await metric('consumer_messages_total', { outcome: 'processed' })).toBe(1);
    expect(state.commits.at(-1)).toBe('102');
  });

  it('isolates the message behind a permanent failure of a batch unit by splitting it, and dead-letters only that one', async () => {
    const seen: string[][] = [];
    const handler: MessageHandler = {
      handle: async (messages) => {
        seen.push(messages.map((m) => m.offset));
        if (messages.some((m) => String(m.value) === 'poison')) throw refused();
      },
    };
    const { worker, dlq } = setup(handler, { unit: 'batch' });
    const { payload, state } = fetched(['a', 'b', 'poison', 'd', 'e']);
    await worker.run(payload);
    expect(dlq.sent.map((s) => [s.message.headers?.[DEAD_LETTER_HEADERS.sourceOffset], s.message.headers?.[DEAD_LETTER_HEADERS.reasonCode]])).toEqual([['102', 'clickhouse_type_mismatch']]);
    const processed = seen.filter((u) => !u.includes('102')).flat().sort();
    expect(processed).toEqual(['100', '101', '103', '104']);
    expect(state.commits.at(-1)).toBe('105');
  });

  it('blames a failure nobody classified on the message once a known-good write passes, and dead-letters only that message', async () => {
    const handler: MessageHandler = {
      handle: async (messages) => {
        if (messages.some((m) => String(m.value) === 'odd')) throw new DependencyError('clickhouse', 'unknown', 'code_1001', 'std::exception');
      },
    };
    let canaries = 0;
    const { worker, dlq } = setup(handler, { unit: 'batch', canary: async () => void canaries++ });
    const { payload, state } = fetched(['a', 'odd']);
    await worker.run(payload);
    expect(canaries).toBeGreaterThan(0);
    expect(dlq.sent.map((s) => [s.message.headers?.[DEAD_LETTER_HEADERS.sourceOffset], s.message.headers?.[DEAD_LETTER_HEADERS.reasonCode]])).toEqual([['101', 'clickhouse_code_1001']]);
    expect(state.commits.at(-1)).toBe('102');
  });

  it('blames a failure nobody classified on the message when other messages pass meanwhile, without a canary', async () => {
    let oddAttempts = 0;
    const handler: MessageHandler = {
      handle: async (messages) => {
        if (String(messages[0].value) === 'odd') {
          oddAttempts++;
          throw new TypeError('cannot read properties of undefined');
        }
        await new Promise((r) => setTimeout(r, 30));
      },
    };
    const { worker, dlq } = setup(handler, { concurrency: 2 });
    const { payload, state } = fetched(['odd', 'b']);
    await worker.run(payload);
    // Held until the other message passed, then blamed: more attempts than the threshold alone.
    expect(oddAttempts).toBeGreaterThan(3);
    expect(dlq.sent.map((s) => s.message.headers?.[DEAD_LETTER_HEADERS.sourceOffset])).toEqual(['100']);
    expect(state.commits.at(-1)).toBe('102');
  });

  it('holds a partition for a failure the store gives for any input, however long, and dead-letters nothing', async () => {
    let calls = 0;
    let readOnly = true;
    const handler: MessageHandler = {
      handle: async () => {
        calls++;
        if (readOnly) throw new DependencyError('clickhouse', 'refusing', 'readonly', 'Code: 164. Cannot execute query in readonly mode');
      },
    };
    let canaries = 0;
    const { worker, dlq, metric } = setup(handler, { unit: 'batch', canary: async () => void canaries++ });
    const { payload, state } = fetched(['a', 'b']);
    const run = worker.run(payload);
    await until(() => calls > 10);
    expect(worker.heldPartitions()).toEqual([{ topic: 'in', dependency: 'clickhouse', kind: 'refusing', partitions: 1 }]);
    expect(worker.oldestStall()?.error).toMatch(/clickhouse refuses writes \(readonly\)/);
    expect(await metric('consumer_held_partitions', { dependency: 'clickhouse', kind: 'refusing' })).toBe(1);
    readOnly = false;
    await run;
    expect(canaries).toBe(0);
    expect(dlq.sent).toEqual([]);
    expect(worker.heldPartitions()).toEqual([]);
    expect(state.commits).toEqual(['102']);
  });

  it('keeps retrying a failure nobody classified, without dead-lettering anything, while the known-good write fails too', async () => {
    let calls = 0;
    const handler: MessageHandler = {
      handle: async () => {
        calls++;
        throw new DependencyError('clickhouse', 'unknown', 'code_1001', 'std::exception');
      },
    };
    let canaries = 0;
    const { worker, dlq } = setup(handler, {
      unit: 'batch',
      canary: async () => {
        canaries++;
        throw new Error('down');
      },
    });
    const { payload, state } = fetched(['a']);
    const run = worker.run(payload);
    await until(() => calls > 10);
    state.running = false;
    await run;
    expect(canaries).toBeGreaterThan(0);
    expect(dlq.sent).toEqual([]);
    expect(state.commits).toEqual([]);
  });

  it('never dead-letters for an outage of any dependency, however long', async () => {
    let calls = 0;
    const handler: MessageHandler = {
      handle: async () => {
        calls++;
        throw new DependencyError('kafka', 'unavailable', 'OUT_OF_ORDER_SEQUENCE_NUMBER', 'Kafka publish to insight-events: out of order sequence number');
      },
    };
    let canaries = 0;
    const { worker, dlq } = setup(handler, { unit: 'message', canary: async () => void canaries++ });
    const { payload, state } = fetched(['a']);
    const run = worker.run(payload);
    await until(() => calls > 10);
    state.running = false;
    await run;
    expect(canaries).toBe(0);
    expect(dlq.sent).toEqual([]);
    expect(state.commits).toEqual([]);
  });

  it('dead-letters a message whose handling throws something untyped (a defect) once the dependencies prove healthy', async () => {
    const handler: MessageHandler = {
      handle: async () => {
        throw new TypeError('boom');
      },
    };
    const { worker, dlq } = setup(handler, { canary: async () => undefined });
    const { payload, state } = fetched(['a']);
    await worker.run(payload);
    expect(dlq.sent[0].message.headers?.[DEAD_LETTER_HEADERS.reasonCode]).toBe('internal_error');
    expect(state.commits).toEqual(['101']);
  });

  it('retries the dead letter itself while Kafka is down', async () => {
    const handler = new GatedHandler();
    const { worker, dlq } = setup(handler);
    dlq.failures = 2;
    const { payload, state } = fetched(['a']);
    const run = worker.run(payload);
    await flush();
    handler.refuse(100, 'bad');
    await run;
    expect(dlq.sent).toHaveLength(1);
    expect(state.commits).toEqual(['101']);
  });

  it('on stop, starts nothing new, abandons retries unacknowledged and commits the done prefix', async () => {
    let stopping = false;
    const calls: string[] = [];
    const handler: MessageHandler = {
      handle: async (messages) => {
        calls.push(messages[0].offset);
        if (messages[0].offset === '101') throw outage();
      },
    };
    const { worker } = setup(handler, { concurrency: 1, stopping: () => stopping });
    const { payload, state } = fetched(['a', 'b', 'c']);
    const run = worker.run(payload);
    await until(() => calls.filter((c) => c === '101').length >= 3);
    stopping = true;
    await run;
    expect(calls).not.toContain('102');
    expect(state.resolved).toEqual(['100']);
    expect(state.commits).toEqual(['101']);
  });

  it('with a commit interval, commits the done prefix at most once per interval, and at once when leaving', async () => {
    const handler: MessageHandler = { handle: async () => undefined };
    let stopping = false;
    const { worker } = setup(handler, { commitIntervalMs: 200, stopping: () => stopping });
    const first = fetched(['a', 'b']);
    await worker.run(first.payload);
    // The first prefix goes at once; the rest of the batch waits for the interval.
    expect(first.state.commits).toEqual(['101']);
    await until(() => first.state.commits.length === 2);
    expect(first.state.commits).toEqual(['101', '102']);
    const second = fetched(['c'], 102);
    await worker.run(second.payload);
    expect(second.state.commits).toEqual([]); // within the interval: later
    await until(() => second.state.commits.length === 1);
    expect(second.state.commits).toEqual(['103']);
    const third = fetched(['d'], 103);
    await worker.run(third.payload);
    expect(third.state.commits).toEqual([]);
    await worker.flushCommits(); // a drain
    expect(third.state.commits).toEqual(['104']);
    stopping = true;
    const last = fetched(['e'], 104);
    await worker.run(last.payload);
    expect(last.state.commits).toEqual([]);
  });

  it('stops retrying when a heartbeat says the group is rebalancing', async () => {
    const handler: MessageHandler = {
      handle: async () => {
        throw outage();
      },
    };
    const { worker } = setup(handler, { retry: { baseMs: 5, maxMs: 5 } });
    const { payload, state } = fetched(['a']);
    state.heartbeatError = Object.assign(new Error('rebalancing'), { type: 'REBALANCE_IN_PROGRESS' });
    await worker.run(payload);
    expect(state.commits).toEqual([]);
  });
});
