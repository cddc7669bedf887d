import { kafkaEnv, loadConfig } from '@pipeline/platform';
import { kafkaSettingsFromEnv } from './client';

describe('kafkaSettingsFromEnv', () => {
  it('maps the KAFKA_* variables and names the client after the service by default', () => {
    const env = loadConfig(kafkaEnv, { KAFKA_BROKERS: 'a:9092, b:9093', KAFKA_REQUEST_TIMEOUT_MS: '1234' });
    expect(kafkaSettingsFromEnv(env, 'batch-ingestion')).toEqual({ brokers: ['a:9092', 'b:9093'], clientId: 'batch-ingestion', requestTimeoutMs: 1234 });
  });

  it('prefers KAFKA_CLIENT_ID when it is set', () => {
    const env = loadConfig(kafkaEnv, { KAFKA_CLIENT_ID: 'custom' });
    expect(kafkaSettingsFromEnv(env, 'batch-ingestion').clientId).toBe('custom');
  });
});
