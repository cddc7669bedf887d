// Helpers shared by this service's integration tests (real Kafka and ClickHouse, names unique per test file).
import { ClickHouseGateway, clickHouseSettingsFromEnv, sqlIdentifier } from '@pipeline/clickhouse';
import { consumerLag, createKafka, kafkaSettingsFromEnv } from '@pipeline/kafka';
import { Partial } from '@pipeline/contract';
import { Aggregate, AggregateRow, aggregatePartials, fromAggregateRows, rollup } from '@pipeline/rollup';
import { connectProducer, createTopics, deleteTopics, metricValue, scrape, sleep, stackEndpoints, testClickHouseEnv, testKafkaEnv, uniqueName, waitFor } from '@pipeline/testing';
import { formatMinute, parseMinute, windowKey } from '@pipeline/window';
import type { WindowState } from '@pipeline/partial';
import { Admin, Kafka, Producer } from 'kafkajs';

export { privateClickHouse, sleep, startApp, waitFor } from '@pipeline/testing';
export type { AppProcess, PrivateServer } from '@pipeline/testing';

export const PARTITIONS = 4;

export interface ItNames {
  topic: string;
  dlq: string;
  group: string;
  database: string;
}

export function itNames(prefix: string): ItNames {
  const id = uniqueName(prefix);
  return { topic: `insight-events-${id}`, dlq: `insight-events-dlq-${id}`, group: `window-aggregator-${id}`, database: sqlIdentifier(`it_${id.replaceAll('-', '_')}`) };
}

/** The service's environment for one test file: the shared (or a private) server, this file's own names. */
export function appEnv(names: ItNames, extra: Record<string, string> = {}): Record<string, string> {
  const { kafkaBrokers, clickhouseUrl } = stackEndpoints();
  return {
    KAFKA_BROKERS: kafkaBrokers,
    CLICKHOUSE_URL: clickhouseUrl,
    CLICKHOUSE_DATABASE: names.database,
    CLICKHOUSE_REQUEST_TIMEOUT_MS: '5000',
    TOPIC_INSIGHT_EVENTS: names.topic,
    TOPIC_INSIGHT_EVENTS_DLQ: names.dlq,
    KAFKA_TOPIC_PARTITIONS: String(PARTITIONS),
    AGGREGATOR_GROUP_ID: names.group,
    AGGREGATOR_SESSION_TIMEOUT_MS: '6000',
    AGGREGATOR_HEARTBEAT_INTERVAL_MS: '1000',
    AGGREGATOR_LAG_INTERVAL_MS: '1000',
    AGGREGATOR_RETRY_MAX_MS: '1000',
    LOG_LEVEL: 'info',
    ...extra,
  };
}

export function itKafka(): Kafka {
  return createKafka(kafkaSettingsFromEnv(testKafkaEnv(), 'it-window-aggregator'));
}

export function itClickHouse(database: string, url?: string): ClickHouseGateway {
  return ClickHouseGateway.fromSettings(clickHouseSettingsFromEnv(testClickHouseEnv(database, { url })));
}

const PATHS = ['GET /', 'GET /about', 'GET /careers', 'POST /api/users'];
const UAS = ['Chrome', 'Firefox', 'Googlebot', 'curl', 'Other'];

/**
 * Deterministic partials: `batches` batches per customer, each touching some of `minutes` with
 * counts that vary by batch and minute, as the summarizer would emit them.
 */
export function generatePartials(opts: { customers: string[]; minutes: string[]; batches: number; prefix?: string }): Partial[] {
  const out: Partial[] = [];
  for (const [c, customerId] of opts.customers.entries()) {
    for (let b = 0; b < opts.batches; b++) {
      const batchId = `${opts.prefix ?? 'batch'}-${String(b).padStart(6, '0')}`;
      for (const [m, windowStart] of opts.minutes.entries()) {
        if ((b + m + c) % 3 === 2) continue;
        const byPath: Record<string, number> = {};
        const byUa: Record<string, number> = {};
        const n = 1 + ((b * 7 + m * 3 + c) % 9);
        for (let i = 0; i < n; i++) {
          const path = PATHS[(b + i + m) % PATHS.length];
          const ua = UAS[(b * 3 + i + c) % UAS.length];
          byPath[path] = (byPath[path] ?? 0) + 1;
          byUa[ua] = (byUa[ua] ?? 0) + 1;
        }
        out.push({ v: 1, batchId, customerId, windowStart, windowSize: 'minute', total: n, requestsByPath: sortKeys(byPath), requestsByUserAgent: sortKeys(byUa) });
      }
    }
  }
  return out;
}

const sortKeys = (r: Record<string, number>) => Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/** An idempotent producer of partials keyed by window, as the summarizer sends them. */
export class PartialProducer {
  private constructor(private readonly producer: Producer) {}

  static async connect(kafka: Kafka): Promise<PartialProducer> {
    return new PartialProducer(await connectProducer(kafka));
  }

  /** Sends in chunks; returns the partition each partial landed on. */
  async send(topic: string, partials: Partial[], options: { partition?: number; chunk?: number } = {}): Promise<number[]> {
    const partitions: number[] = [];
    const chunk = options.chunk ?? 500;
    for (let i = 0; i < partials.length; i += chunk) {
      const slice = partials.slice(i, i + chunk);
      const meta = await this.producer.send({
        topic,
        acks: -1,
        messages: slice.map((p) => ({ key: windowKey(p.customerId, p.windowStart), value: JSON.stringify(p), partition: options.partition })),
      });
      // One send of many messages answers per partition; record a partition per message only when sending one.
      if (slice.length === 1) partitions.push(meta[0].partition);
    }
    return partitions;
  }

  /** Sends 20 at a time with a short pause, so that the service works through them while more arrive. */
  async sendSlowly(topic: string, partials: Partial[]): Promise<void> {
    for (let i = 0; i < partials.length; i += 20) {
      await this.send(topic, partials.slice(i, i + 20));
      await sleep(20);
    }
  }

  async disconnect(): Promise<void> {
    await this.producer.disconnect();
  }
}

/**
 * What a test file sets up around the service: its topics, a connected admin, a gateway to its
 * database and a producer of partials. Whatever `open` got to is released by `close`.
 */
export class AggregatorHarness {
  kafka!: Kafka;
  admin!: Admin;
  ch!: ClickHouseGateway;
  producer!: PartialProducer;

  constructor(private readonly names: ItNames) {}

  async open(options: { clickhouseUrl?: string } = {}): Promise<void> {
    this.kafka = itKafka();
    this.admin = this.kafka.admin();
    await this.admin.connect();
    await createTopics(this.kafka, [this.names.topic, this.names.dlq], PARTITIONS);
    this.ch = itClickHouse(this.names.database, options.clickhouseUrl);
    this.producer = await PartialProducer.connect(this.kafka);
  }

  /** `dropDatabase: false` where the server goes away with its data anyway. */
  async close(options: { dropDatabase?: boolean } = {}): Promise<void> {
    await this.producer?.disconnect();
    if (this.kafka) await deleteTopics(this.kafka, [this.names.topic, this.names.dlq]);
    await this.admin?.disconnect();
    if (options.dropDatabase ?? true) await this.ch?.command(`DROP DATABASE IF EXISTS ${this.names.database}`);
    await this.ch?.close();
  }
}

export type View = 'minute_aggregates' | 'hourly_aggregates' | 'daily_aggregates';

/** The rows of a query-surface view, read with a plain SELECT as analysts do. */
export async function readView(ch: ClickHouseGateway, view: View, customers?: string[]): Promise<Aggregate[]> {
  const where = customers ? ` WHERE customer_id IN (${customers.map((c) => `'${c.replace(/[^A-Za-z0-9._-]/g, '')}'`).join(', ')})` : '';
  const rows = await ch.query<AggregateRow>(
    `SELECT customer_id, toString(window_start) AS window_start, total_requests, path_keys, path_counts, ua_keys, ua_counts FROM ${ch.database}.${view}${where} ORDER BY customer_id, window_start`,
  );
  return fromAggregateRows(rows);
}

export interface Expected {
  minute: Aggregate[];
  hour: Aggregate[];
  day: Aggregate[];
}

export function expectedOf(partials: Partial[]): Expected {
  const minute = aggregatePartials(partials);
  return { minute, hour: rollup(minute, 'hour'), day: rollup(minute, 'day') };
}

/** Resolves once the group has committed every message of the topic: all of it is durable in ClickHouse. */
export async function waitCaughtUp(admin: Admin, names: ItNames, timeoutMs = 120_000): Promise<void> {
  await waitFor(
    `group ${names.group} to commit everything on ${names.topic}`,
    async () => (await consumerLag(admin, names.group, names.topic)).every((l) => l.lag === 0),
    timeoutMs,
    500,
  );
}

export async function metric(url: string, name: string): Promise<number> {
  return metricValue(await scrape(url), name);
}

export function shuffled<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** A row of a view as the tests compare it: window_start as a canonical minute, counts as numbers. */
export interface ViewRow {
  customer_id: string;
  window_start: string;
  total_requests: number;
  path_keys: string[];
  path_counts: number[];
  ua_keys: string[];
  ua_counts: number[];
}

const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/**
 * The rows a view of period `periodMs` must hold for these window states (each window's latest
 * state once): a plain group-and-sum, written here independently of the pipeline's code, keys in
 * byte order as ClickHouse sorts them.
 */
export function expectedViewRows(states: Iterable<WindowState>, periodMs: number): ViewRow[] {
  const groups = new Map<string, { customer: string; start: number; total: number; paths: Map<string, number>; uas: Map<string, number> }>();
  for (const s of states) {
    const start = Math.floor(parseMinute(s.windowStart)! / periodMs) * periodMs;
    const id = `${s.customerId}\u0000${start}`;
    const g = groups.get(id) ?? { customer: s.customerId, start, total: 0, paths: new Map(), uas: new Map() };
    groups.set(id, g);
    g.total += s.total;
    for (const [k, n] of s.byPath) g.paths.set(k, (g.paths.get(k) ?? 0) + n);
    for (const [k, n] of s.byUserAgent) g.uas.set(k, (g.uas.get(k) ?? 0) + n);
  }
  return [...groups.values()]
    .sort((x, y) => byBytes(x.customer, y.customer) || x.start - y.start)
    .map((g) => {
      const paths = [...g.paths.keys()].sort(byBytes);
      const uas = [...g.uas.keys()].sort(byBytes);
      return {
        customer_id: g.customer,
        window_start: formatMinute(g.start),
        total_requests: g.total,
        path_keys: paths,
        path_counts: paths.map((k) => g.paths.get(k)!),
        ua_keys: uas,
        ua_counts: uas.map((k) => g.uas.get(k)!),
      };
    });
}
