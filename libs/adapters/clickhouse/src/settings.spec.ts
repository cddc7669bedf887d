import { clickhouseEnv, loadConfig } from '@pipeline/platform';
import { clickHouseSettingsFromEnv } from './gateway';

describe('clickHouseSettingsFromEnv', () => {
  it('maps every CLICKHOUSE_* variable to its client setting', () => {
    const env = loadConfig(clickhouseEnv, {
      CLICKHOUSE_URL: 'http://ch.local:8123',
      CLICKHOUSE_USER: 'writer',
      CLICKHOUSE_PASSWORD: 'pw',
      CLICKHOUSE_DATABASE: 'analytics',
      CLICKHOUSE_REQUEST_TIMEOUT_MS: '1234',
    });
    expect(clickHouseSettingsFromEnv(env)).toEqual({ url: 'http://ch.local:8123', username: 'writer', password: 'pw', database: 'analytics', requestTimeoutMs: 1234 });
  });
});
