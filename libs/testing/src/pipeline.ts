import { createClient } from '@clickhouse/client';
import { AppName, AppProcess, startApp } from './apps';
import { uniqueName } from './paths';
import { plainIdentifier, removeRunResources, runResourcesOf, sharedStackEnv } from './run-resources';

/** A row of `minute_aggregates` with its keys and counts zipped into maps. */
export interface MinuteRow {
  windowStart: string;
  total: number;
  paths: Record<string, number>;
  uas: Record<string, number>;
}

/** The three services as processes on the shared servers, with topics, bucket, database and groups of their own. */
export interface Pipeline {
  /** The environment every service got (topics, bucket, database, accounts, gateway token). */
  readonly env: Record<string, string>;
  readonly apps: Record<AppName, AppProcess>;
  /** A second ingestion on the same topics and bucket with `env` added (rate limits, say); stopped with the pipeline. */
  startIngestion(env: Record<string, string>): Promise<AppProcess>;
  /** `minute_aggregates` of one customer, as an analyst reads it (a plain SELECT), by window. */
  minutes(customerId: string): Promise<Record<string, MinuteRow>>;
  stop(): Promise<void>;
}

// The test kit sits below the adapters (their tests use it), so it talks to the servers with the
// plain clients. Only names it made itself and customer ids of the contract's alphabet reach SQL.
const sqlName = plainIdentifier;
const sqlCustomer = (id: string) => {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) throw new Error(`not a customer id: ${id}`);
  return `'${id}'`;
};

function clickhouseOf(env: Record<string, string>) {
  return createClient({ url: env.CLICKHOUSE_URL, username: env.CLICKHOUSE_USER, password: env.CLICKHOUSE_PASSWORD, request_timeout: 60_000 });
}

const zip = (keys: string[], counts: (number | string)[]) => Object.fromEntries(keys.map((k, i) => [k, Number(counts[i])]));

/** Starts the aggregator, the summarizer and the ingestion (downstream first); stop() removes what they created. */
export async function startPipeline(name: string, options: { env?: Record<string, string>; appEnv?: Partial<Record<AppName, Record<string, string>>> } = {}): Promise<Pipeline> {
  const id = uniqueName(name).toLowerCase().replace(/[^a-z0-9-]/g, '');
  const env: Record<string, string> = {
    ...sharedStackEnv(),
    GATEWAY_TOKEN: `it-${id}-token`,
    GATEWAY_TOKEN_CUSTOMERS: '*',
    KAFKA_TOPIC_PARTITIONS: '3',
    TOPIC_BATCH_INGESTED: `${id}-batch-ingested`,
    TOPIC_INSIGHT_EVENTS: `${id}-insight-events`,
    TOPIC_BATCH_INGESTED_DLQ: `${id}-batch-ingested-dlq`,
    TOPIC_INSIGHT_EVENTS_DLQ: `${id}-insight-events-dlq`,
    S3_BUCKET: id.slice(0, 63),
    CLICKHOUSE_DATABASE: sqlName(`it_${id.replaceAll('-', '_')}`),
    SUMMARIZER_GROUP_ID: `${id}-summarizer`,
    AGGREGATOR_GROUP_ID: `${id}-aggregator`,
    ...options.env,
  };
  const started: AppProcess[] = [];
  const start = async (app: AppName, extra: Record<string, string> = {}) => {
    const proc = await startApp(app, { ...env, ...extra }, { timeoutMs: 90_000 });
    started.push(proc);
    return proc;
  };
  try {
    // appEnv: what one service gets on top of the shared environment (its own account, say).
    const aggregator = await start('window-aggregator', options.appEnv?.['window-aggregator']);
    const summarizer = await start('batch-summarizer', options.appEnv?.['batch-summarizer']);
    const ingestion = await start('batch-ingestion', options.appEnv?.['batch-ingestion']);
    const clickhouse = clickhouseOf(env);
    return {
      env,
      apps: { 'window-aggregator': aggregator, 'batch-summarizer': summarizer, 'batch-ingestion': ingestion },
      startIngestion: (extra) => start('batch-ingestion', extra),
      minutes: async (customerId) => {
        const result = await clickhouse.query({
          query: `SELECT toUnixTimestamp(window_start) AS ts, total_requests, path_keys, path_counts, ua_keys, ua_counts
           FROM ${sqlName(env.CLICKHOUSE_DATABASE)}.minute_aggregates WHERE customer_id = ${sqlCustomer(customerId)}`,
          format: 'JSONEachRow',
        });
        const rows = await result.json<{ ts: string | number; total_requests: string | number; path_keys: string[]; path_counts: (string | number)[]; ua_keys: string[]; ua_counts: (string | number)[] }>();
        const out: Record<string, MinuteRow> = {};
        for (const r of rows) {
          const ws = new Date(Number(r.ts) * 1000).toISOString().slice(0, 16) + 'Z';
          if (out[ws]) throw new Error(`minute_aggregates has two rows for ${customerId} ${ws}`);
          out[ws] = { windowStart: ws, total: Number(r.total_requests), paths: zip(r.path_keys, r.path_counts), uas: zip(r.ua_keys, r.ua_counts) };
        }
        return out;
      },
      stop: async () => {
        await Promise.allSettled(started.map((p) => p.stop()));
        await clickhouse.close().catch(() => undefined);
        await removeRunResources(runResourcesOf(env));
      },
    };
  } catch (err) {
    await Promise.allSettled(started.map((p) => p.stop()));
    throw err;
  }
}
