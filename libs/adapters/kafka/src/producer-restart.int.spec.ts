import { isDependencyError } from '@pipeline/platform';
import { PrivateServer, privateKafka, testKafkaEnv, uniqueName } from '@pipeline/testing';
import type { Kafka } from 'kafkajs';
import { createKafka, ensureTopics, kafkaSettingsFromEnv } from './client';
import { KafkaEventPublisher } from './producer';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A broker killed with SIGKILL while sends are in flight and started again: the idempotent
 * producer may come back out of step with it (OUT_OF_ORDER_SEQUENCE_NUMBER on every later send).
 * What the consumers rely on: every publish succeeds again after retries, none is refused for good
 * (which would dead-letter good input).
 */
describe('KafkaEventPublisher through a broker SIGKILL and restart', () => {
  let broker: PrivateServer;
  let kafka: Kafka;
  let publisher: KafkaEventPublisher;
  const topic = uniqueName('it-restart');

  beforeAll(async () => {
    broker = await privateKafka();
    kafka = createKafka(kafkaSettingsFromEnv(testKafkaEnv({ brokers: broker.endpoint, requestTimeoutMs: 3_000 }), 'it-restart'));
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, [{ topic, numPartitions: 6, replicationFactor: 1 }]);
    await admin.disconnect();
    publisher = new KafkaEventPublisher(kafka, 5_000);
  }, 120_000);

  afterAll(async () => {
    await publisher?.disconnect().catch(() => undefined);
    await broker?.dispose();
  });

  it('publishes every message, retrying only retryable failures, and reads them all back', async () => {
    const senders = 8;
    const perSender = 150;
    const refused: string[] = [];
    const failures = new Map<string, string[]>();
    let sent = 0;
    let retries = 0;
    const deadline = Date.now() + 150_000;

    // Like a summarizer: each publish carries messages for several partitions (the minutes of one batch).
    const send = async (sender: number) => {
      for (let i = 0; i < perSender; i++) {
        const id = `${sender}-${i}`;
        const messages = [0, 1, 2].map((part) => ({ key: `key-${(sender + i + part) % 12}`, value: `${id}/${part}` }));
        for (;;) {
          try {
            await publisher.publish(topic, messages);
            break;
          } catch (err) {
            if (!isDependencyError(err) || !err.retryable) {
              refused.push(`${id}: ${(err as Error).message}`);
              return;
            }
            if (Date.now() > deadline) throw new Error(`${id} still failing at the deadline: ${(err as Error).message}`);
            retries++;
            failures.set(id, [...(failures.get(id) ?? []), `${(err as { code?: string }).code}: ${(err as Error).message}`]);
            await sleep(200);
          }
        }
        sent++;
      }
    };
    const crash = (async () => {
      while (sent < (senders * perSender) / 3) await sleep(20);
      await broker.kill();
      await sleep(700);
      await broker.start();
    })();
    await Promise.all([...Array.from({ length: senders }, (_, s) => send(s)), crash]);

    expect(refused).toEqual([]);
    expect(sent).toBe(senders * perSender);
    expect(retries).toBeGreaterThan(0);

    const seen = new Set<string>();
    const consumer = kafka.consumer({ groupId: uniqueName('it-restart-read') });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void seen.add(String(message.value)) });
    const readBy = Date.now() + 60_000;
    while (seen.size < senders * perSender * 3 && Date.now() < readBy) await sleep(250);
    await consumer.disconnect();
    const missing = Array.from({ length: senders }, (_, s) => Array.from({ length: perSender }, (_, i) => [0, 1, 2].map((p) => `${s}-${i}/${p}`)))
      .flat(2)
      .filter((v) => !seen.has(v))
      .map((v) => `${v} after ${JSON.stringify(failures.get(v.split('/')[0]) ?? [])}; producers renewed ${publisher.renewals}`);
    expect(missing).toEqual([]);
  }, 240_000);
});
