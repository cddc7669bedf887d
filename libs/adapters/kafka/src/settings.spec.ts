import { kafkaEnv, loadConfig } from '@pipeline/platform';
import { kafkaSettingsFromEnv, topicSettingsFromEnv } from './client';

describe('kafkaSettingsFromEnv', () => {
  it('maps the KAFKA_* variables and names the client after the service by default', () => {
    const env = loadConfig(kafkaEnv, { KAFKA_BROKERS: 'a:9092, b:9093', KAFKA_REQUEST_TIMEOUT_MS: '1234' });
    expect(kafkaSettingsFromEnv(env, 'batch-ingestion')).toEqual({ brokers: ['a:9092', 'b:9093'], clientId: 'batch-ingestion', requestTimeoutMs: 1234, ssl: false });
  });

  it('prefers KAFKA_CLIENT_ID when it is set', () => {
    const env = loadConfig(kafkaEnv, { KAFKA_CLIENT_ID: 'custom' });
    expect(kafkaSettingsFromEnv(env, 'batch-ingestion').clientId).toBe('custom');
  });

  it('authenticates with SASL when a mechanism is set, and refuses a mechanism without its user', () => {
    const env = loadConfig(kafkaEnv, { KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'svc', KAFKA_SASL_PASSWORD: 'pw', KAFKA_SSL: 'true' });
    expect(kafkaSettingsFromEnv(env, 'x')).toMatchObject({ ssl: true, sasl: { mechanism: 'scram-sha-512', username: 'svc', password: 'pw' } });
    expect(() => kafkaSettingsFromEnv(loadConfig(kafkaEnv, { KAFKA_SASL_MECHANISM: 'plain' }), 'x')).toThrow(/KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD/);
    expect(() => loadConfig(kafkaEnv, { KAFKA_SASL_MECHANISM: 'gssapi' })).toThrow(/KAFKA_SASL_MECHANISM/);
  });
});

describe('topicSettingsFromEnv', () => {
  const settings = (env: Record<string, string>) => topicSettingsFromEnv(loadConfig(kafkaEnv, env));

  it('keeps one broker as it was and asks two in-sync replicas of three, so that one broker may fail', () => {
    expect(settings({})).toEqual({ partitions: 6, replicationFactor: 1, minInSyncReplicas: 1 });
    expect(settings({ KAFKA_REPLICATION_FACTOR: '2' }).minInSyncReplicas).toBe(1);
    expect(settings({ KAFKA_REPLICATION_FACTOR: '3', KAFKA_TOPIC_PARTITIONS: '12' })).toEqual({ partitions: 12, replicationFactor: 3, minInSyncReplicas: 2 });
    expect(settings({ KAFKA_REPLICATION_FACTOR: '3', KAFKA_MIN_INSYNC_REPLICAS: '3' }).minInSyncReplicas).toBe(3);
  });

  it('refuses more in-sync replicas than the topic has: no acks=all send could succeed', () => {
    expect(() => settings({ KAFKA_REPLICATION_FACTOR: '1', KAFKA_MIN_INSYNC_REPLICAS: '2' })).toThrow(/KAFKA_MIN_INSYNC_REPLICAS: 2 is more than KAFKA_REPLICATION_FACTOR \(1\)/);
  });
});
