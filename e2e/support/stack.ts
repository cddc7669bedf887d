import type { ClickHouseTarget } from './aggregates';

export const SERVICES = ['batch-ingestion', 'batch-summarizer', 'window-aggregator'] as const;
export type ServiceName = (typeof SERVICES)[number];

export type TargetMode = 'native' | 'external' | 'containers';
export const TARGET_MODES: readonly TargetMode[] = ['native', 'external', 'containers'];

/** E2E_TARGET: `native` (default: the suite starts the apps on the local servers), `external`, `containers`. */
export function targetMode(env: NodeJS.ProcessEnv = process.env): TargetMode {
  const mode = (env.E2E_TARGET ?? 'native').trim() || 'native';
  if (!(TARGET_MODES as readonly string[]).includes(mode)) throw new Error(`E2E_TARGET must be one of ${TARGET_MODES.join(', ')}; got ${JSON.stringify(mode)}`);
  return mode as TargetMode;
}

/** Process control over the services: what crash scenarios need. */
export interface ServiceControl {
  /** Kills the service (SIGKILL by default) and waits until it is gone. */
  kill(service: ServiceName, signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again with the same configuration and waits until it is ready. */
  restart(service: ServiceName): Promise<void>;
}

export const INFRASTRUCTURE = ['kafka', 'minio', 'clickhouse'] as const;
export type InfrastructureName = (typeof INFRASTRUCTURE)[number];

/** Control over the stack's own Kafka, MinIO and ClickHouse containers. */
export interface InfrastructureControl {
  /** Kills the container (SIGKILL) and waits until it is gone. */
  kill(server: InfrastructureName): Promise<void>;
  /** Starts the same container again, data kept; does not wait for it: the services must cope. */
  start(server: InfrastructureName): Promise<void>;
}

/**
 * Direct access to the stack's Kafka topics and bucket, for scenarios that must put what no client
 * of the HTTP API could (a foreign producer's message) and read the dead-letter topics.
 */
export interface StackWire {
  kafkaBrokers: string[];
  /** The login on those brokers (the stack's administrator): a stack's Kafka takes no anonymous client. */
  kafkaSasl?: KafkaLogin;
  topics: { batchIngested: string; insightEvents: string; batchIngestedDlq: string; insightEventsDlq: string };
  s3: { endpoint: string; region: string; bucket: string; accessKeyId: string; secretAccessKey: string };
}

export interface KafkaLogin {
  mechanism: 'scram-sha-256' | 'scram-sha-512' | 'plain';
  username: string;
  password: string;
}

/** A running pipeline the scenarios can drive and read. */
export interface Stack {
  readonly mode: TargetMode;
  /** Base URL of each service (POST /logs on batch-ingestion). */
  url(service: ServiceName): string;
  /** Where `/metrics` and `/health/*` answer: the ingestion's operations port, the consumers' main port. */
  opsUrl(service: ServiceName): string;
  /** The same for every instance of the service, where the stack runs several (a cluster). */
  opsUrls?(service: ServiceName): string[];
  readonly clickhouse: ClickHouseTarget;
  /** Appended to every customer id: empty on a stack of its own, unique per run on a shared one. */
  readonly customerSuffix: string;
  /** Present when the runner can kill and restart the services (native, containers, a docker-compose project). */
  readonly control?: ServiceControl;
  /** Present when Kafka, MinIO and ClickHouse are containers of the stack (containers, a docker-compose project). */
  readonly infrastructure?: InfrastructureControl;
  /** Present when the runner can reach the stack's Kafka and S3 directly. */
  readonly wire?: StackWire;
  /** OS process ids of the services when they run on this machine (for /proc figures). */
  pid?(service: ServiceName): number | undefined;
  /** Where to look when something fails (log files, container names). */
  describe(): string;
  /** Aborted when the stack stops: senders and waits of a timed-out test end with it. */
  readonly signal?: AbortSignal;
  stop(): Promise<void>;
}

/** Lower-case letters and digits, unique per call: valid in topic, bucket and database names alike. */
export function runId(name: string): string {
  const slug = name.toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 12);
  return `${slug}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

/** Topics, bucket, database and consumer groups no other run uses (the services create them at start). */
export function isolatedNames(id: string): Record<string, string> {
  return {
    TOPIC_BATCH_INGESTED: `e2e-${id}-batch-ingested`,
    TOPIC_INSIGHT_EVENTS: `e2e-${id}-insight-events`,
    TOPIC_BATCH_INGESTED_DLQ: `e2e-${id}-batch-ingested-dlq`,
    TOPIC_INSIGHT_EVENTS_DLQ: `e2e-${id}-insight-events-dlq`,
    S3_BUCKET: `e2e-${id}`,
    CLICKHOUSE_DATABASE: `e2e_${id}`,
    SUMMARIZER_GROUP_ID: `e2e-${id}-summarizer`,
    AGGREGATOR_GROUP_ID: `e2e-${id}-aggregator`,
  };
}

/** A suffix for every customer id of a run on a stack other runs also use (`cus-axon.r<id>`). */
export function uniqueCustomerSuffix(): string {
  return `.r${Date.now().toString(36)}${Math.random().toString(36).slice(2, 5)}`;
}

export interface StackOptions {
  /** Short name of the scenario, used in resource names. */
  name: string;
  /** Extra environment for every service (tuning a scenario needs, e.g. a shorter lateness). */
  env?: Record<string, string>;
}

/** The port a service's `/metrics` and `/health/*` answer on, in its container: OPS_PORT when it has one. */
export function opsPortOf(env: Record<string, string | undefined>): number {
  return Number(env.OPS_PORT ?? env.PORT);
}

/** Waits until a service's /health/ready answers 200 at its operations URL (a container started again, say). */
export async function untilReady(url: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.ok, () => false)) return;
    if (Date.now() > deadline) throw new Error(`${url} not ready within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
