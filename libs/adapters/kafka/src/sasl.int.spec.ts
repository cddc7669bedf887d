import { kafkaEnv, loadConfig } from '@pipeline/platform';
import { PrivateKafka, privateKafka, startApp, TopicReader, uniqueName } from '@pipeline/testing';
import { createKafka, kafkaSettingsFromEnv, provisionTopics } from './client';
import { EventBusError } from './errors';
import { KafkaEventPublisher } from './producer';

jest.setTimeout(180_000);

const USER = { username: 'pipeline', password: 'scram-secret-0123456789' };
const settings = (broker: string, password = USER.password) =>
  kafkaSettingsFromEnv(
    loadConfig(kafkaEnv, { KAFKA_BROKERS: broker, KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_USERNAME: USER.username, KAFKA_SASL_PASSWORD: password, KAFKA_REQUEST_TIMEOUT_MS: '5000' }),
    'it-sasl',
  );

/** SASL/SCRAM by configuration alone: the adapter and a service reach a broker that requires it. */
describe('Kafka with SASL/SCRAM', () => {
  let broker: PrivateKafka;

  beforeAll(async () => {
    broker = await privateKafka({ scram: USER });
  });

  afterAll(async () => {
    await broker?.dispose();
  });

  it('creates topics and publishes with the right password, and is refused with a wrong one', async () => {
    const topic = uniqueName('sasl');
    const kafka = createKafka(settings(broker.saslEndpoint!));
    await provisionTopics(kafka, [topic], { partitions: 1, replicationFactor: 1 });
    const publisher = new KafkaEventPublisher(kafka, 5_000);
    await publisher.publish(topic, [{ key: 'k', value: 'over SCRAM' }]);
    await publisher.disconnect();
    const reader = await TopicReader.start(createKafka(settings(broker.saslEndpoint!)), topic);
    await reader.waitUntil('the message', (m) => m.length === 1);
    expect(reader.messages[0].value).toBe('over SCRAM');
    await reader.stop();

    const refused = await provisionTopics(createKafka(settings(broker.saslEndpoint!, 'wrong-password-0123')), [uniqueName('sasl')], { partitions: 1, replicationFactor: 1 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(EventBusError);
    expect((refused as Error).message).toMatch(/SASL|[Aa]uthentication/);
  });

  it('carries a service: batch-ingestion provisions, publishes and is ready over SASL', async () => {
    const topic = uniqueName('sasl-ingested');
    const bucket = uniqueName('sasl').toLowerCase();
    const app = await startApp('batch-ingestion', {
      KAFKA_BROKERS: broker.saslEndpoint!,
      KAFKA_SASL_MECHANISM: 'scram-sha-256',
      KAFKA_SASL_USERNAME: USER.username,
      KAFKA_SASL_PASSWORD: USER.password,
      TOPIC_BATCH_INGESTED: topic,
      S3_BUCKET: bucket,
      GATEWAY_TOKEN: 'it-gateway-token-0123456789',
      GATEWAY_TOKEN_CUSTOMERS: '*',
      RECONCILER_ENABLED: 'false',
    });
    try {
      const res = await fetch(`${app.url}/logs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-customer-id': 'cus-sasl', authorization: 'Bearer it-gateway-token-0123456789' },
        body: JSON.stringify([{ receivedAt: '2025-12-28T18:03:00Z', method: 'GET', path: '/', userAgent: 'curl/8.5.0' }]),
      });
      expect(res.status).toBe(202);
      const reader = await TopicReader.start(createKafka(settings(broker.saslEndpoint!)), topic);
      await reader.waitUntil('the event', (m) => m.length === 1);
      expect(reader.messages[0].key).toMatch(/^cus-sasl\|/);
      await reader.stop();
    } finally {
      await app.stop();
    }
  });
});
