import { runResourcesOf } from './run-resources';

describe('runResourcesOf', () => {
  const env = {
    KAFKA_BROKERS: '127.0.0.1:9092', TOPIC_BATCH_INGESTED: 't-in', TOPIC_INSIGHT_EVENTS: 't-ev', TOPIC_BATCH_INGESTED_DLQ: 't-in-dlq', TOPIC_INSIGHT_EVENTS_DLQ: 't-ev-dlq',
    SUMMARIZER_GROUP_ID: 'g-s', AGGREGATOR_GROUP_ID: 'g-a', S3_ENDPOINT: 'http://127.0.0.1:9000', S3_BUCKET: 'b', S3_ACCESS_KEY_ID: 'k', S3_SECRET_ACCESS_KEY: 's',
    CLICKHOUSE_URL: 'http://127.0.0.1:8123', CLICKHOUSE_USER: 'u', CLICKHOUSE_PASSWORD: 'p', CLICKHOUSE_DATABASE: 'd', PORT: '8080',
  };

  it('takes the names of what a run created from its environment, and nothing else', () => {
    const { PORT: _port, ...expected } = env;
    expect(runResourcesOf(env)).toEqual(expected);
    expect(runResourcesOf({ ...env, S3_REGION: 'eu-west-1' })).toEqual({ ...expected, S3_REGION: 'eu-west-1' });
  });

  it('names every missing one instead of cleaning up under undefined names', () => {
    expect(() => runResourcesOf({ ...env, S3_BUCKET: undefined, CLICKHOUSE_DATABASE: '' })).toThrow(/does not name S3_BUCKET, CLICKHOUSE_DATABASE/);
  });
});
