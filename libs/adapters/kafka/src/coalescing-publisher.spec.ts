import { EventPublisher, OutboundMessage } from './producer';
import { CoalescingPublisher, DEFAULT_COALESCING_LIMITS } from './coalescing-publisher';
import { EventBusError } from './errors';

/** A publisher whose sends complete only when the test says so. */
class GatedPublisher implements EventPublisher {
  readonly sends: { topic: string; keys: string[]; done: (err?: Error) => void }[] = [];
  publish(topic: string, messages: OutboundMessage[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.sends.push({ topic, keys: messages.map((m) => String(m.key)), done: (err) => (err ? reject(err) : resolve()) });
    });
  }
}

const msgs = (...keys: string[]) => keys.map((key) => ({ key, value: `v-${key}` }));
const flush = () => new Promise((r) => setImmediate(r));

describe('CoalescingPublisher', () => {
  it('sends the first publish alone and everything that arrived meanwhile in one send', async () => {
    const inner = new GatedPublisher();
    const p = new CoalescingPublisher(inner);
    const settled: string[] = [];
    const a = p.publish('t', msgs('a1', 'a2')).then(() => settled.push('a'));
    const b = p.publish('t', msgs('b1')).then(() => settled.push('b'));
    const c = p.publish('t', msgs('c1', 'c2')).then(() => settled.push('c'));
    await flush();
    expect(inner.sends.map((s) => s.keys)).toEqual([['a1', 'a2']]);
    inner.sends[0].done();
    await a;
    await flush();
    expect(settled).toEqual(['a']);
    expect(inner.sends.map((s) => s.keys)).toEqual([['a1', 'a2'], ['b1', 'c1', 'c2']]);
    inner.sends[1].done();
    await Promise.all([b, c]);
    expect(settled).toEqual(['a', 'b', 'c']);
  });

  it('fails every caller of a failed send, and carries on with the next', async () => {
    const inner = new GatedPublisher();
    const p = new CoalescingPublisher(inner);
    const first = p.publish('t', msgs('a'));
    const second = p.publish('t', msgs('b'));
    const third = p.publish('t', msgs('c'));
    await flush();
    inner.sends[0].done();
    await first;
    await flush();
    inner.sends[1].done(new Error('broker down'));
    await expect(second).rejects.toThrow('broker down');
    await expect(third).rejects.toThrow('broker down');
    const fourth = p.publish('t', msgs('d'));
    await flush();
    expect(inner.sends[2].keys).toEqual(['d']);
    inner.sends[2].done();
    await expect(fourth).resolves.toBeUndefined();
  });

  it('never mixes topics, caps messages and bytes per send, and sends a caller beyond the caps in several sends, in order', async () => {
    const inner = new GatedPublisher();
    const p = new CoalescingPublisher(inner, { maxMessages: 3, maxBytes: 100, maxPendingBytes: 10_000 });
    const big = { key: 'big', value: 'x'.repeat(90) };
    const all = [
      p.publish('t1', msgs('a')),
      p.publish('t1', msgs('b1', 'b2')),
      p.publish('t2', msgs('x')),
      p.publish('t1', msgs('c1', 'c2')),
      p.publish('t1', [big]),
      p.publish('t1', msgs('d')),
      p.publish('t1', msgs('e1', 'e2', 'e3', 'e4')),
    ];
    for (let i = 0; i < 10; i++) {
      await flush();
      inner.sends.at(-1)?.done();
    }
    await Promise.all(all);
    expect(inner.sends.map((s) => [s.topic, s.keys.join(',')])).toEqual([
      ['t1', 'a'],
      ['t1', 'b1,b2,d'],
      ['t2', 'x'],
      ['t1', 'c1,c2'],
      ['t1', 'big'],
      ['t1', 'e1,e2,e3'],
      ['t1', 'e4'],
    ]);
  });

  it('refuses at once, retryably, what would exceed the pending bytes', async () => {
    const inner = new GatedPublisher();
    const p = new CoalescingPublisher(inner, { ...DEFAULT_COALESCING_LIMITS, maxPendingBytes: 50 });
    const first = p.publish('t', [{ key: 'a', value: 'x'.repeat(30) }]);
    const refused = (await p.publish('t', [{ key: 'b', value: 'x'.repeat(30) }]).catch((e: unknown) => e)) as EventBusError;
    expect(refused).toBeInstanceOf(EventBusError);
    expect([refused.retryable, refused.code]).toEqual([true, 'backpressure']);
    await flush();
    inner.sends[0].done();
    await first;
    expect(p.queuedBytes).toBe(0);
  });

  it('after a shared send is refused for good, sends each caller again alone so only the offender fails', async () => {
    const inner = new GatedPublisher();
    const p = new CoalescingPublisher(inner);
    const first = p.publish('t', msgs('a'));
    const good = p.publish('t', msgs('g'));
    const bad = p.publish('t', msgs('huge'));
    await flush();
    inner.sends[0].done();
    await first;
    await flush();
    expect(inner.sends[1].keys).toEqual(['g', 'huge']);
    inner.sends[1].done(new EventBusError('input', 'MESSAGE_TOO_LARGE', 'too large'));
    await flush();
    expect(inner.sends[2].keys).toEqual(['g']);
    inner.sends[2].done();
    await flush();
    expect(inner.sends[3].keys).toEqual(['huge']);
    inner.sends[3].done(new EventBusError('input', 'MESSAGE_TOO_LARGE', 'too large'));
    await expect(good).resolves.toBeUndefined();
    await expect(bad).rejects.toThrow('too large');
  });
});
