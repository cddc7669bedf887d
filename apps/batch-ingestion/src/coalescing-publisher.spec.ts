import { BatchEventPublisher } from '@pipeline/batch';
import { CoalescingPublisher } from './coalescing-publisher';

/** A publisher whose sends complete only when the test says so. */
class GatedPublisher implements BatchEventPublisher {
  readonly sends: { topic: string; keys: string[]; done: (err?: Error) => void }[] = [];
  publish(topic: string, messages: { key: string }[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.sends.push({ topic, keys: messages.map((m) => m.key), done: (err) => (err ? reject(err) : resolve()) });
    });
  }
}

const msg = (key: string) => [{ key, value: key }];
const flush = () => new Promise((r) => setImmediate(r));

describe('CoalescingPublisher', () => {
  it('sends the first message alone and everything that arrived meanwhile in one send', async () => {
    const inner = new GatedPublisher();
    const p = new CoalescingPublisher(inner);
    const settled: string[] = [];
    const a = p.publish('t', msg('a')).then(() => settled.push('a'));
    const b = p.publish('t', msg('b')).then(() => settled.push('b'));
    const c = p.publish('t', msg('c')).then(() => settled.push('c'));
    await flush();
    expect(inner.sends.map((s) => s.keys)).toEqual([['a']]);
    inner.sends[0].done();
    await a;
    await flush();
    expect(settled).toEqual(['a']);
    expect(inner.sends.map((s) => s.keys)).toEqual([['a'], ['b', 'c']]);
    inner.sends[1].done();
    await Promise.all([b, c]);
    expect(settled).toEqual(['a', 'b', 'c']);
  });

  it('fails every caller of a failed send, and carries on with the next', async () => {
    const inner = new GatedPublisher();
    const p = new CoalescingPublisher(inner);
    const first = p.publish('t', msg('a'));
    const second = p.publish('t', msg('b'));
    const third = p.publish('t', msg('c'));
    await flush();
    inner.sends[0].done();
    await first;
    await flush();
    inner.sends[1].done(new Error('broker down'));
    await expect(second).rejects.toThrow('broker down');
    await expect(third).rejects.toThrow('broker down');
    const fourth = p.publish('t', msg('d'));
    await flush();
    expect(inner.sends[2].keys).toEqual(['d']);
    inner.sends[2].done();
    await expect(fourth).resolves.toBeUndefined();
  });

  it('never mixes topics in one send and caps the messages per send', async () => {
    const inner = new GatedPublisher();
    const p = new CoalescingPublisher(inner, 2);
    const all = [p.publish('t1', msg('a')), p.publish('t1', msg('b')), p.publish('t2', msg('x')), p.publish('t1', msg('c')), p.publish('t1', msg('d'))];
    for (let i = 0; i < 4; i++) {
      await flush();
      inner.sends[i].done();
    }
    await Promise.all(all);
    expect(inner.sends.map((s) => `${s.topic}:${s.keys.join(',')}`)).toEqual(['t1:a', 't1:b,c', 't2:x', 't1:d']);
  });
});
