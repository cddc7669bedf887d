import { CompressionTypes, Kafka, Message, Producer, RecordMetadata } from 'kafkajs';
import { withDeadline } from '@pipeline/platform';
import { toEventBusError } from './errors';

export interface OutboundMessage {
  /** null keeps a message without key (a dead letter of a key-less message). */
  key: string | Buffer | null;
  value: string | Buffer;
  headers?: Record<string, string | Buffer>;
}

/** Publishes to Kafka; resolves only once every message is acknowledged by all in-sync replicas. */
export interface EventPublisher {
  publish(topic: string, messages: OutboundMessage[]): Promise<void>;
}

export const sizeOfMessage = (m: OutboundMessage) =>
  (m.key === null ? 0 : typeof m.key === 'string' ? Buffer.byteLength(m.key) : m.key.length) +
  (typeof m.value === 'string' ? Buffer.byteLength(m.value) : m.value.length);

/**
 * An idempotent producer (acks=all, broker-side de-duplication of producer retries) with a
 * hard deadline per publish, so a Kafka outage turns into a clear, retryable error instead of a
 * hang, and a message the broker refuses into a non-retryable one.
 *
 * Sends go out one at a time, and a send that failed for any reason but the message itself
 * retires its producer: the next send goes out on a new one (a new producer id). kafkajs gives a
 * failed request's sequence numbers back to the next send; when the broker did write the failed
 * request (its answer lost with the connection, or later than the deadline), the next send's other
 * messages would be taken for a duplicate of it and dropped while acknowledged. A broker restart
 * can also leave a producer out of step for good (OUT_OF_ORDER_SEQUENCE_NUMBER on every send). A
 * new producer cannot collide with the old one's sequences; what it sends again is deduplicated
 * downstream like any redelivery.
 */
export class KafkaEventPublisher implements EventPublisher {
  private producer: Producer;
  private connected?: Promise<void>;
  private renewed = 0;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly kafka: Kafka,
    private readonly timeoutMs: number,
  ) {
    this.producer = this.newProducer();
  }

  /** Producers retired after a failed send. */
  get renewals(): number {
    return this.renewed;
  }

  private newProducer(): Producer {
    const producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    producer.on(producer.events.DISCONNECT, () => {
      if (this.producer === producer) this.connected = undefined;
    });
    return producer;
  }

  private renew(): void {
    const retired = this.producer;
    this.producer = this.newProducer();
    this.connected = undefined;
    this.renewed++;
    retired.disconnect().catch(() => undefined);
  }

  connect(): Promise<void> {
    const producer = this.producer;
    this.connected ??= producer.connect().catch((err) => {
      if (this.producer === producer) this.connected = undefined;
      throw toEventBusError(err, 'Kafka producer connect');
    });
    return this.connected;
  }

  publish(topic: string, messages: OutboundMessage[]): Promise<void> {
    if (messages.length === 0) return Promise.resolve();
    const sent = this.tail.then(() => this.send(topic, messages));
    this.tail = sent.catch(() => undefined);
    return sent;
  }

  private async send(topic: string, messages: OutboundMessage[]): Promise<void> {
    const kafkaMessages: Message[] = messages.map((m) => ({ key: m.key, value: m.value, headers: m.headers }));
    const producer = this.producer;
    try {
      await withDeadline('kafka', `Kafka publish to ${topic}`, this.timeoutMs, async (): Promise<RecordMetadata[]> => {
        await this.connect();
        return producer.send({ topic, messages: kafkaMessages, acks: -1, compression: CompressionTypes.None });
      });
    } catch (err) {
      const failure = toEventBusError(err, `Kafka publish to ${topic}`);
      if (failure.retryable) this.renew();
      throw failure;
    }
  }

  async disconnect(): Promise<void> {
    await this.tail;
    await this.producer.disconnect();
  }
}
