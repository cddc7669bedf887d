import pino from 'pino';
import { Registry } from 'prom-client';
import { SummarizerBacklog } from './backlog';

describe('SummarizerBacklog', () => {
  const setup = () => {
    const readings: (number | Error)[] = [];
    const registry = new Registry();
    const backlog = new SummarizerBacklog(
      async () => {
        const next = readings.shift();
        if (next instanceof Error) throw next;
        return next ?? 0;
      },
      { maxBatches: 100, pollMs: 1_000 },
      pino({ level: 'silent' }),
      registry,
    );
    const gauge = async (name: string) => (await registry.getSingleMetric(name)!.get()).values[0].value;
    const read = async (...values: (number | Error)[]) => {
      const seen: boolean[] = [];
      for (const v of values) {
        readings.push(v);
        await backlog.poll();
        seen.push(backlog.isBehind());
      }
      return seen;
    };
    return { backlog, gauge, read };
  };

  it('is behind above the line and caught up again only at half of it, so the door does not flap', async () => {
    const { read, gauge } = setup();
    expect(await read(10, 100, 101, 90, 51, 50, 70, 101)).toEqual([false, false, true, true, true, false, false, true]);
    expect(await gauge('ingestion_summarizer_backlog_batches')).toBe(101);
    expect(await gauge('ingestion_summarizer_behind')).toBe(1);
  });

  it('counts a backlog it cannot read as caught up, and says so in its gauge', async () => {
    const { read, gauge } = setup();
    expect(await read(500, new Error('GROUP_AUTHORIZATION_FAILED'))).toEqual([true, false]);
    expect(await gauge('ingestion_summarizer_backlog_batches')).toBe(-1);
    expect(await gauge('ingestion_summarizer_behind')).toBe(0);
    expect(await read(500)).toEqual([true]);
  });

  it('polls until drained, and closes its client once', async () => {
    let reads = 0;
    let closed = 0;
    const backlog = new SummarizerBacklog(async () => ++reads, { maxBatches: 100, pollMs: 10 }, pino({ level: 'silent' }), new Registry(), async () => void closed++);
    backlog.start();
    await new Promise((r) => setTimeout(r, 100));
    await backlog.drain();
    const after = reads;
    expect(after).toBeGreaterThan(2);
    await new Promise((r) => setTimeout(r, 50));
    expect([reads, closed]).toEqual([after, 1]);
  });
});
