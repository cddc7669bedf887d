import { CompressionTypes, Kafka, Message, Producer, RecordMetadata } from 'kafkajs';
import { EventBusError, producerStateLost, toEventBusError } from './errors';

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
  private producer: Producer;
  private connected?: Promise<void>;
  private renewed = 0;

  constructor(
    private readonly kafka: Kafka,
    private readonly timeoutMs: number,
  ) {
    this.producer = this.newProducer();
  }

  /** Producers replaced because the broker no longer took their sequence numbers. */
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

  /**
   * Replaces a producer whose idempotence state the broker lost; the caller's retry goes out on
   * the new one. Concurrent sends that failed on the same producer replace it once.
   */
  private renew(failed: Producer): void {
    if (this.producer !== failed) return;
    this.producer = this.newProducer();
    this.connected = undefined;
    this.renewed++;
    failed.disconnect().catch(() => undefined);
  }

  connect(): Promise<void> {
    const producer = this.producer;
    this.connected ??= producer.connect().catch((err) => {
      if (this.producer === producer) this.connected = undefined;
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
    const producer = this.producer;
    try {
      const send = (async (): Promise<RecordMetadata[]> => {
        await this.connect();
        return producer.send({ topic, messages: kafkaMessages, acks: -1, compression: CompressionTypes.None });
      })();
      send.catch(() => undefined); // a late rejection after the deadline must not go unhandled
      await Promise.race([send, deadline]);
    } catch (err) {
      if (producerStateLost(err)) this.renew(producer);
      throw toEventBusError(err, `Kafka publish to ${topic}`);
    } finally {
      clearTimeout(timer);
    }
  }

  async disconnect(): Promise<void> {
    await this.producer.disconnect();
  }
}
