import type { Kafka, Producer } from 'kafkajs';
import { EventBusError } from './errors';
import { KafkaEventPublisher } from './producer';

/** What kafkajs throws when the broker answers a produce request with an error code. */
const brokerError = (type: string) => Object.assign(new Error(`broker says ${type}`), { name: 'KafkaJSProtocolError', type, retriable: false });

/** kafkajs' producers as far as the publisher uses them; each send answers the next scripted outcome. */
function fakeKafka(outcomes: (Error | 'ok')[]) {
  const producers: { id: number; sends: number; disconnected: boolean }[] = [];
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
          const next = outcomes.shift() ?? 'ok';
          if (next !== 'ok') throw next;
          return [];
        },
      } as unknown as Producer;
    },
  } as unknown as Kafka;
  return { kafka, producers };
}

const message = { key: 'k', value: 'v' };

describe('KafkaEventPublisher', () => {
  it('replaces a producer whose sequence numbers the broker no longer takes; the retry goes out on the new one', async () => {
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

  it.each(['UNKNOWN_PRODUCER_ID', 'INVALID_PRODUCER_EPOCH', 'INVALID_PRODUCER_ID_MAPPING'])('renews on %s too', async (type) => {
    const { kafka } = fakeKafka([brokerError(type)]);
    const publisher = new KafkaEventPublisher(kafka, 5_000);
    await expect(publisher.publish('t', [message])).rejects.toMatchObject({ retryable: true });
    expect(publisher.renewals).toBe(1);
  });

  it('replaces the producer once when several sends fail on it together', async () => {
    const { kafka, producers } = fakeKafka([brokerError('OUT_OF_ORDER_SEQUENCE_NUMBER'), brokerError('OUT_OF_ORDER_SEQUENCE_NUMBER'), brokerError('OUT_OF_ORDER_SEQUENCE_NUMBER')]);
    const publisher = new KafkaEventPublisher(kafka, 5_000);
    const results = await Promise.allSettled([1, 2, 3].map(() => publisher.publish('t', [message])));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(publisher.renewals).toBe(1);
    expect(producers).toHaveLength(2);
  });

  it('keeps its producer through other failures, and refuses a message the broker will never take for good', async () => {
    const outage = Object.assign(new Error('Connection error: connect ECONNREFUSED'), { name: 'KafkaJSConnectionError' });
    const { kafka, producers } = fakeKafka([outage, brokerError('MESSAGE_TOO_LARGE')]);
    const publisher = new KafkaEventPublisher(kafka, 5_000);
    await expect(publisher.publish('t', [message])).rejects.toMatchObject({ retryable: true });
    await expect(publisher.publish('t', [message])).rejects.toMatchObject({ retryable: false, code: 'MESSAGE_TOO_LARGE' });
    expect(publisher.renewals).toBe(0);
    expect(producers).toHaveLength(1);
  });
});
