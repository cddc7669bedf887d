import { ConfigError } from '@pipeline/platform';
import { loadSummarizerConfig } from './config';

const CREDENTIALS = { S3_ACCESS_KEY_ID: 'svc', S3_SECRET_ACCESS_KEY: 'svc-secret' };

describe('summarizer configuration', () => {
  it('has working defaults', () => {
    const c = loadSummarizerConfig(CREDENTIALS);
    expect(c).toMatchObject({
      PORT: 8081,
      HOST: '127.0.0.1',
      KAFKA_BROKERS: ['127.0.0.1:9092'],
      TOPIC_BATCH_INGESTED: 'batch-ingested',
      TOPIC_INSIGHT_EVENTS: 'insight-events',
      TOPIC_BATCH_INGESTED_DLQ: 'batch-ingested-dlq',
      S3_BUCKET: 'log-batches',
      SUMMARIZER_GROUP_ID: 'batch-summarizer',
      SUMMARIZER_PARTITIONS_CONCURRENCY: 4,
      SUMMARIZER_EVENT_CONCURRENCY: 16,
      SUMMARIZER_MAX_BYTES_IN_FLIGHT: 24 * 1024 * 1024,
      SUMMARIZER_MAX_PARTIAL_BYTES: 512 * 1024,
      SUMMARIZER_STALL_UNREADY_MS: 30_000,
      UA_CACHE_SIZE: 10_000,
      SUMMARIZER_SESSION_TIMEOUT_MS: 30_000,
    });
  });

  it('reads overrides and names every bad variable', () => {
    expect(loadSummarizerConfig({ ...CREDENTIALS, PORT: '9001', UA_CACHE_SIZE: '50', SUMMARIZER_PARTITIONS_CONCURRENCY: '2', SUMMARIZER_EVENT_CONCURRENCY: '1' })).toMatchObject({
      PORT: 9001,
      UA_CACHE_SIZE: 50,
      SUMMARIZER_PARTITIONS_CONCURRENCY: 2,
      SUMMARIZER_EVENT_CONCURRENCY: 1,
    });
    try {
      loadSummarizerConfig({ UA_CACHE_SIZE: '0', SUMMARIZER_SESSION_TIMEOUT_MS: '100', PORT: 'x', SUMMARIZER_EVENT_CONCURRENCY: '0' });
      throw new Error('expected a ConfigError');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const problems = (err as ConfigError).problems.join('\n');
      expect(problems).toMatch(/UA_CACHE_SIZE/);
      expect(problems).toMatch(/SUMMARIZER_SESSION_TIMEOUT_MS/);
      expect(problems).toMatch(/PORT/);
      expect(problems).toMatch(/SUMMARIZER_EVENT_CONCURRENCY/);
    }
  });
});
