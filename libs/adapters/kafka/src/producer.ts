import { CompressionTypes, Kafka, Message, Producer, RecordMetadata } from 'kafkajs';

/** Kafka could not take the message in time; callers map it to 503 or a backoff. */
export class EventBusUnavailableError extends Error {
  constructor(message: string, override readonly cause?: unknown) {
    super(message);
    this.name = 'EventBusUnavailableError';
  }
}

export interface OutboundMessage {
  key: string;
  value: string | Buffer;
  headers?: Record<string, string>;
}

/** Publishes to Kafka; resolves only once every message is acknowledged by all in-sync replicas. */
export interface EventPublisher {
  publish(topic: string, messages: OutboundMessage[]): Promise<void>;
}

/**
 * An idempotent producer (acks=all, broker-side de-duplication of producer retries) with a
 * hard deadline per publish, so a Kafka outage turns into a clear error instead of a hang.
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
      throw err;
    });
    return this.connected;
  }

  async publish(topic: string, messages: OutboundMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const kafkaMessages: Message[] = messages.map((m) => ({ key: m.key, value: m.value, headers: m.headers }));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new EventBusUnavailableError(`Kafka did not acknowledge within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      const send = (async (): Promise<RecordMetadata[]> => {
        await this.connect();
        return this.producer.send({ topic, messages: kafkaMessages, acks: -1, compression: CompressionTypes.None });
      })();
      send.catch(() => undefined); // a late rejection after the deadline must not go unhandled
      await Promise.race([send, deadline]);
    } catch (err) {
      if (err instanceof EventBusUnavailableError) throw err;
      throw new EventBusUnavailableError(`Kafka publish to ${topic} failed: ${(err as Error).message}`, err);
    } finally {
      clearTimeout(timer);
    }
  }

  async disconnect(): Promise<void> {
    await this.producer.disconnect();
  }
}
