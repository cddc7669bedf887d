import type { Kafka, Producer } from 'kafkajs';
import { EventBusError } from './errors';
import { KafkaEventPublisher } from './producer';

/** What kafkajs throws when the broker answers a produce request with an error code. */
const brokerError = (type: string) => Object.assign(new Error(`broker says ${type}`), { name: 'KafkaJSProtocolError', type, retriable: false });

/** kafkajs' producers as far as the publisher uses them; each send answers the next scripted outcome. */
function fakeKafka(outcomes: (Error | 'ok')[]) {
  const producers: { id: number; sends: number; disconnected: boolean }[] = [];
  const inFlight = { now: 0, most: 0 };
  const kafka = {
    producer: () => {
      const state = { id: producers.length + 1, sends: 0, disconnected: false };
      producers.push(state);
      return {
        events: { DISCONNECT: 'producer.disconnect' },
        on: () => () => undefined,
        connect: async () => undefined,
        disconnect: async () => {
          state.disconnected = true;
        },
        send: async () => {
          state.sends++;
          inFlight.most = Math.max(inFlight.most, ++inFlight.now);
          await new Promise((r) => setTimeout(r, 5));
          inFlight.now--;
          const next = outcomes.shift() ?? 'ok';
          if (next !== 'ok') throw next;
          return [];
        },
      } as unknown as Producer;
    },
  } as unknown as Kafka;
  return { kafka, producers, inFlight };
}

const message = { key: 'k', value: 'v' };

describe('KafkaEventPublisher', () => {
  it('retires a producer whose sequence numbers the broker no longer takes; the retry goes out on the new one', async () => {
    const { kafka, producers } = fakeKafka([brokerError('OUT_OF_ORDER_SEQUENCE_NUMBER'), 'ok']);
    const publisher = new KafkaEventPublisher(kafka, 5_000);

    const failure = await publisher.publish('t', [message]).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(EventBusError);
    expect(failure).toMatchObject({ retryable: true, code: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
    expect(publisher.renewals).toBe(1);

    await publisher.publish('t', [message]);
    expect(producers.map((p) => [p.id, p.sends, p.disconnected])).toEqual([
      [1, 1, true],
      [2, 1, false],
    ]);
  });

  it('retires its producer after any failure that may have reached the broker: a connection lost, a deadline passed', async () => {
    const outage = Object.assign(new Error('Connection error: read ECONNRESET'), { name: 'KafkaJSConnectionError' });
    const { kafka, producers } = fakeKafka([outage, 'ok']);
    const publisher = new KafkaEventPublisher(kafka, 5_000);
    await expect(publisher.publish('t', [message])).rejects.toMatchObject({ retryable: true });
    await publisher.publish('t', [message]);
    expect(producers.map((p) => [p.sends, p.disconnected])).toEqual([
      [1, true],
      [1, false],
    ]);

    const slow = fakeKafka([]);
    const hurried = new KafkaEventPublisher(slow.kafka, 1);
    await expect(hurried.publish('t', [message])).rejects.toMatchObject({ retryable: true, code: 'timeout' });
    expect(hurried.renewals).toBe(1);
  });

  it('sends one publish at a time, so a send queued behind a failed one goes out on the new producer', async () => {
    const { kafka, producers, inFlight } = fakeKafka([brokerError('OUT_OF_ORDER_SEQUENCE_NUMBER'), 'ok', 'ok']);
    const publisher = new KafkaEventPublisher(kafka, 5_000);
    const results = await Promise.allSettled([1, 2, 3].map(() => publisher.publish('t', [message])));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
    expect(inFlight.most).toBe(1);
    expect(producers.map((p) => p.sends)).toEqual([1, 2]);
  });

  it('keeps its producer when the broker refuses a message for good (nothing was written)', async () => {
    const { kafka, producers } = fakeKafka([brokerError('MESSAGE_TOO_LARGE'), 'ok']);
    const publisher = new KafkaEventPublisher(kafka, 5_000);
    await expect(publisher.publish('t', [message])).rejects.toMatchObject({ retryable: false, code: 'MESSAGE_TOO_LARGE' });
    await publisher.publish('t', [message]);
    expect(publisher.renewals).toBe(0);
    expect(producers.map((p) => p.sends)).toEqual([2]);
  });
});
