import { Admin, Consumer, IHeaders, Kafka, Producer } from 'kafkajs';
import { uniqueName } from './paths';
import { waitFor } from './process';

/** Runs `use` with a connected admin client and disconnects it afterwards. */
export async function withAdmin<T>(kafka: Kafka, use: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await use(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Creates a test's own topics (names no other run uses), `partitions` partitions each. */
export async function createTopics(kafka: Kafka, topics: string[], partitions: number): Promise<void> {
  await withAdmin(kafka, (admin) =>
    admin.createTopics({ topics: topics.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 })), waitForLeaders: true }),
  );
}

/** Deletes a test's topics; failures are ignored (the data is throwaway). */
export async function deleteTopics(kafka: Kafka, topics: string[]): Promise<void> {
  await withAdmin(kafka, (admin) => admin.deleteTopics({ topics }).catch(() => undefined));
}

/** The group's committed offset on one partition (-1 when it never committed there). */
export async function committedOffset(admin: Admin, groupId: string, topic: string, partition: number): Promise<number> {
  const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return Number(t.partitions.find((p) => p.partition === partition)?.offset ?? -1);
}

/** A connected idempotent producer that never creates topics, as the services produce. */
export async function connectProducer(kafka: Kafka): Promise<Producer> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  return producer;
}

export interface ReadMessage {
  partition: number;
  offset: string;
  key: string;
  value: string;
  headers: Record<string, string>;
}

const headerText = (h: IHeaders | undefined): Record<string, string> =>
  Object.fromEntries(Object.entries(h ?? {}).map(([k, v]) => [k, Array.isArray(v) ? String(v[0]) : String(v ?? '')]));

/** Reads a topic from the beginning with its own group and keeps every message, for assertions on what was published. */
export class TopicReader {
  readonly messages: ReadMessage[] = [];

  private constructor(private readonly consumer: Consumer) {}

  static async start(kafka: Kafka, topic: string): Promise<TopicReader> {
    const consumer = kafka.consumer({ groupId: uniqueName('it-reader'), sessionTimeout: 6_000, heartbeatInterval: 500 });
    const reader = new TopicReader(consumer);
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        reader.messages.push({
          partition,
          offset: message.offset,
          key: message.key?.toString('utf8') ?? '',
          value: message.value?.toString('utf8') ?? '',
          headers: headerText(message.headers),
        });
      },
    });
    return reader;
  }

  withKey(key: string): ReadMessage[] {
    return this.messages.filter((m) => m.key === key);
  }

  /** Resolves with every message read so far once `done` holds for them. */
  async waitUntil(what: string, done: (messages: ReadMessage[]) => boolean, timeoutMs = 60_000): Promise<ReadMessage[]> {
    await waitFor(what, async () => done(this.messages), timeoutMs, 100);
    return this.messages;
  }

  stop(): Promise<void> {
    return this.consumer.disconnect();
  }
}
