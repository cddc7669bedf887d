import { createKafka, ensureTopics, kafkaSettingsFromEnv } from './client';
import { consumerLag } from './lag';
import { KafkaEventPublisher } from './producer';
import { testKafkaEnv, uniqueName, waitFor } from '@pipeline/testing';

const kafka = createKafka(kafkaSettingsFromEnv(testKafkaEnv({ requestTimeoutMs: 5_000 }), 'it-kafka'));
const topic = uniqueName('it-topic');
const groupId = uniqueName('it-group');
const admin = kafka.admin();
const publisher = new KafkaEventPublisher(kafka, 10_000);

beforeAll(async () => {
  await admin.connect();
});

afterAll(async () => {
  await publisher.disconnect();
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
});

describe('Kafka adapter against a real broker', () => {
  it('creates topics idempotently', async () => {
    await ensureTopics(admin, [{ topic, numPartitions: 3, replicationFactor: 1 }]);
    await ensureTopics(admin, [{ topic, numPartitions: 3, replicationFactor: 1 }]);
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(meta.topics[0].partitions).toHaveLength(3);
  });

  it('publishes, consumes back with a group, commits, and reports zero lag afterwards', async () => {
    const messages = Array.from({ length: 30 }, (_, i) => ({ key: `k-${i % 5}`, value: JSON.stringify({ i }) }));
    await publisher.publish(topic, messages);

    const seen: number[] = [];
    const consumer = kafka.consumer({ groupId });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ message, partition }) => {
        seen.push(JSON.parse(message.value!.toString()).i);
        await consumer.commitOffsets([{ topic, partition, offset: (Number(message.offset) + 1).toString() }]);
      },
    });
    await waitFor('all 30 messages', async () => seen.length >= 30, 60_000);
    await consumer.disconnect();

    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    const lag = await consumerLag(admin, groupId, topic);
    expect(lag.reduce((sum, p) => sum + p.lag, 0)).toBe(0);
  });

  it('keeps messages of one key in order on one partition', async () => {
    const ordered = uniqueName('it-ordered');
    await ensureTopics(admin, [{ topic: ordered, numPartitions: 4, replicationFactor: 1 }]);
    await publisher.publish(ordered, Array.from({ length: 20 }, (_, i) => ({ key: 'same-key', value: String(i) })));
    const offsets = await admin.fetchTopicOffsets(ordered);
    const used = offsets.filter((p) => Number(p.high) > 0);
    expect(used).toHaveLength(1);
    expect(Number(used[0].high)).toBe(20);
    await admin.deleteTopics({ topics: [ordered] }).catch(() => undefined);
  });
});
