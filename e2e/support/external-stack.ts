import { Stack } from './stack';

/** Runs are told apart on a shared stack by a suffix on every customer id. */
function runSuffix(env: NodeJS.ProcessEnv): string {
  const given = env.E2E_CUSTOMER_SUFFIX;
  if (given === 'none') return '';
  if (given !== undefined && given !== '') {
    if (!/^[A-Za-z0-9._-]{0,24}$/.test(given)) throw new Error('E2E_CUSTOMER_SUFFIX must be at most 24 of [A-Za-z0-9._-] (or "none")');
    return given;
  }
  return `.r${Date.now().toString(36)}${Math.random().toString(36).slice(2, 5)}`;
}

/**
 * An already running stack (docker-compose, a staging deployment) given by URLs. It cannot be
 * killed or restarted from here, so it has no `control`, and its data outlives the run: every
 * customer id gets a per-run suffix (E2E_CUSTOMER_SUFFIX=none to use the plain ids on a fresh stack).
 */
export function externalStack(env: NodeJS.ProcessEnv = process.env): Stack {
  const urls = {
    'batch-ingestion': env.E2E_INGEST_URL ?? 'http://127.0.0.1:8080',
    'batch-summarizer': env.E2E_SUMMARIZER_URL ?? 'http://127.0.0.1:8081',
    'window-aggregator': env.E2E_AGGREGATOR_URL ?? 'http://127.0.0.1:8082',
  };
  const clickhouse = {
    url: env.E2E_CLICKHOUSE_URL ?? env.CLICKHOUSE_URL ?? 'http://127.0.0.1:8123',
    username: env.E2E_CLICKHOUSE_USER ?? env.CLICKHOUSE_USER ?? 'default',
    password: env.E2E_CLICKHOUSE_PASSWORD ?? env.CLICKHOUSE_PASSWORD ?? '',
    database: env.E2E_CLICKHOUSE_DATABASE ?? env.CLICKHOUSE_DATABASE ?? 'log_analytics',
  };
  const customerSuffix = runSuffix(env);
  return {
    mode: 'external',
    url: (service) => urls[service],
    clickhouse,
    customerSuffix,
    describe: () => `external stack: ${Object.entries(urls).map(([s, u]) => `${s} ${u}`).join(', ')}; ClickHouse ${clickhouse.url} database ${clickhouse.database}; customer suffix ${JSON.stringify(customerSuffix)}`,
    stop: async () => undefined,
  };
}
