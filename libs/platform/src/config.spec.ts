import { z } from 'zod';
import { ConfigError, clickhouseEnv, kafkaEnv, loadConfig, port, s3Env, serviceEnv } from './config';

const shape = { ...serviceEnv, PORT: port(8080), ...kafkaEnv, ...s3Env, ...clickhouseEnv };
const CREDENTIALS = { S3_ACCESS_KEY_ID: 'svc', S3_SECRET_ACCESS_KEY: 'svc-secret', CLICKHOUSE_USER: 'writer', CLICKHOUSE_PASSWORD: 'pw' };

describe('loadConfig', () => {
  it('fills defaults that match the native stack', () => {
    const config = loadConfig(shape, CREDENTIALS);
    expect(config.PORT).toBe(8080);
    expect(config.KAFKA_BROKERS).toEqual(['127.0.0.1:9092']);
    expect(config.S3_BUCKET).toBe('log-batches');
    expect(config.S3_FORCE_PATH_STYLE).toBe(true);
    expect(config.CLICKHOUSE_DATABASE).toBe('log_analytics');
  });

  it('parses lists, numbers and booleans from strings', () => {
    const config = loadConfig(shape, { ...CREDENTIALS, KAFKA_BROKERS: 'a:1, b:2', PORT: '9000', S3_FORCE_PATH_STYLE: 'false' });
    expect(config.KAFKA_BROKERS).toEqual(['a:1', 'b:2']);
    expect(config.PORT).toBe(9000);
    expect(config.S3_FORCE_PATH_STYLE).toBe(false);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig(shape, { ...CREDENTIALS, PORT: '  ' }).PORT).toBe(8080);
  });

  it('names every invalid variable in one error', () => {
    let error: unknown;
    try {
      loadConfig(shape, { PORT: 'eighty', KAFKA_BROKERS: 'no-port', CLICKHOUSE_DATABASE: 'drop table', S3_ENDPOINT: 'not a url' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    for (const name of ['PORT', 'KAFKA_BROKERS', 'CLICKHOUSE_DATABASE', 'S3_ENDPOINT']) expect(message).toContain(name);
  });

  it('has no default credentials: each missing one is named, with where they are explained', () => {
    expect(() => loadConfig(shape, { ...CREDENTIALS, CLICKHOUSE_PASSWORD: '' })).toThrow(/CLICKHOUSE_PASSWORD: required: .*docs\/security\.md/);
    const message = (() => {
      try {
        loadConfig(shape, {});
      } catch (err) {
        return (err as ConfigError).message;
      }
    })();
    for (const name of Object.keys(CREDENTIALS)) expect(message).toContain(`${name}: required`);
  });

  it('reports a missing required variable by name', () => {
    expect(() => loadConfig({ REQUIRED_THING: z.string() }, {})).toThrow(/REQUIRED_THING/);
  });
});
