import { CompressionTypes, Kafka, Message, Producer, RecordMetadata } from 'kafkajs';
import { EventBusError, toEventBusError } from './errors';

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
 */
export class KafkaEventPublisher implements EventPublisher {
  private readonly producer: Producer;
  private connected?: Promise<void>;

  constructor(
    kafka: Kafka,
    private readonly timeoutMs: number,
  ) {
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    this.producer.on(this.producer.events.DISCONNECT, () => {
      this.connected = undefined;
    });
  }

  connect(): Promise<void> {
    this.connected ??= this.producer.connect().catch((err) => {
      this.connected = undefined;
      throw toEventBusError(err, 'Kafka producer connect');
    });
    return this.connected;
  }

  async publish(topic: string, messages: OutboundMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const kafkaMessages: Message[] = messages.map((m) => ({ key: m.key, value: m.value, headers: m.headers }));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new EventBusError(true, 'timeout', `Kafka did not acknowledge within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      const send = (async (): Promise<RecordMetadata[]> => {
        await this.connect();
        return this.producer.send({ topic, messages: kafkaMessages, acks: -1, compression: CompressionTypes.None });
      })();
      send.catch(() => undefined); // a late rejection after the deadline must not go unhandled
      await Promise.race([send, deadline]);
    } catch (err) {
      throw toEventBusError(err, `Kafka publish to ${topic}`);
    } finally {
      clearTimeout(timer);
    }
  }

  async disconnect(): Promise<void> {
    await this.producer.disconnect();
  }
}
