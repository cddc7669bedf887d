import { Kafka, logLevel, LogEntry, Admin, ITopicConfig, SASLOptions } from 'kafkajs';
import type { Logger } from 'pino';
import { ConfigError, KafkaEnv } from '@pipeline/platform';
import { toEventBusError } from './errors';
import { stopIdleRequestQueuePolling } from './request-queue';

// Once per process, before any client connects (see request-queue.ts).
stopIdleRequestQueuePolling();

export interface KafkaSettings {
  brokers: string[];
  clientId: string;
  requestTimeoutMs: number;
  sasl?: { mechanism: 'scram-sha-256' | 'scram-sha-512' | 'plain'; username: string; password: string };
  ssl?: boolean;
}

/** The client settings the shared KAFKA_* variables describe; `clientId` applies when KAFKA_CLIENT_ID is unset. */
export function kafkaSettingsFromEnv(env: KafkaEnv, clientId: string): KafkaSettings {
  const settings: KafkaSettings = { brokers: env.KAFKA_BROKERS, clientId: env.KAFKA_CLIENT_ID ?? clientId, requestTimeoutMs: env.KAFKA_REQUEST_TIMEOUT_MS, ssl: env.KAFKA_SSL };
  if (env.KAFKA_SASL_MECHANISM) {
    if (!env.KAFKA_SASL_USERNAME || !env.KAFKA_SASL_PASSWORD) throw new ConfigError(['KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD: required with KAFKA_SASL_MECHANISM']);
    settings.sasl = { mechanism: env.KAFKA_SASL_MECHANISM, username: env.KAFKA_SASL_USERNAME, password: env.KAFKA_SASL_PASSWORD };
  }
  return settings;
}

const levels: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** A kafkajs client whose own log lines go through the service's JSON logger. */
export function createKafka(s: KafkaSettings, logger?: Logger): Kafka {
  // kafkajs warns at every producer start that its default partitioner changed in v2; the keys of
  // both topics were designed with the v2 partitioner, so the warning carries no information.
  process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';
  return new Kafka({
    clientId: s.clientId,
    brokers: s.brokers,
    ssl: s.ssl,
    // kafkajs types SASL as a union keyed by the mechanism; the settings hold one of its members.
    sasl: s.sasl as SASLOptions | undefined,
    connectionTimeout: Math.min(s.requestTimeoutMs, 3_000),
    requestTimeout: s.requestTimeoutMs,
    // Reconnects are driven by the callers' own backoff; a long client-level retry would turn a
    // Kafka outage into a request that hangs instead of a quick, retryable 503.
    retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 2_000 },
    logLevel: logger ? logLevel.WARN : logLevel.NOTHING,
    logCreator: () => (entry: LogEntry) => {
      if (!logger) return;
      // The logger stamps its own time; kafkajs' timestamp and logger name would only repeat it.
      const { message, timestamp: _timestamp, logger: _logger, ...extra } = entry.log;
      // Producer retries are bounded on purpose (a publish must fail fast into a 503 or a backoff);
      // exactness rests on idempotent consumers, not on Kafka's exactly-once, so this start-up
      // warning says nothing an operator could act on.
      if (message.startsWith('Limiting retries for the idempotent producer')) return;
      logger[levels[entry.level] ?? 'info']({ kafka: { namespace: entry.namespace, ...extra } }, message);
    },
  });
}

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  replicationFactor: number;
  /** The topic's min.insync.replicas; the broker's default when unset. */
  minInSyncReplicas?: number;
}

/** How a service creates its topics. */
export interface TopicSettings {
  partitions: number;
  replicationFactor: number;
  minInSyncReplicas: number;
}

/** The topic settings the KAFKA_* variables describe (see KAFKA_MIN_INSYNC_REPLICAS for its default). */
export function topicSettingsFromEnv(env: Pick<KafkaEnv, 'KAFKA_TOPIC_PARTITIONS' | 'KAFKA_REPLICATION_FACTOR' | 'KAFKA_MIN_INSYNC_REPLICAS'>): TopicSettings {
  const replicationFactor = env.KAFKA_REPLICATION_FACTOR;
  const minInSyncReplicas = env.KAFKA_MIN_INSYNC_REPLICAS ?? (replicationFactor >= 3 ? 2 : 1);
  if (minInSyncReplicas > replicationFactor) {
    // No send with acks=all could ever succeed.
    throw new ConfigError([`KAFKA_MIN_INSYNC_REPLICAS: ${minInSyncReplicas} is more than KAFKA_REPLICATION_FACTOR (${replicationFactor})`]);
  }
  return { partitions: env.KAFKA_TOPIC_PARTITIONS, replicationFactor, minInSyncReplicas };
}

/** Creates missing topics; existing ones are left as they are (partitions are never reduced). */
export async function ensureTopics(admin: Admin, specs: TopicSpec[]): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const missing: ITopicConfig[] = specs
    .filter((s) => !existing.has(s.topic))
    .map((s) => ({
      topic: s.topic,
      numPartitions: s.numPartitions,
      replicationFactor: s.replicationFactor,
      configEntries: s.minInSyncReplicas === undefined ? undefined : [{ name: 'min.insync.replicas', value: String(s.minInSyncReplicas) }],
    }));
  if (missing.length === 0) return;
  try {
    await admin.createTopics({ topics: missing, waitForLeaders: true });
  } catch (err) {
    // A concurrent creator wins the race; what matters is that the topics exist afterwards.
    if ((err as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw err;
  }
}

/** Creates the missing ones of `topics` with a short-lived admin client (provisioning at start). */
export async function provisionTopics(kafka: Kafka, topics: string[], o: { partitions: number; replicationFactor: number; minInSyncReplicas?: number }): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    await ensureTopics(admin, topics.map((topic) => ({ topic, numPartitions: o.partitions, replicationFactor: o.replicationFactor, minInSyncReplicas: o.minInSyncReplicas })));
  } catch (err) {
    throw toEventBusError(err, 'creating topics');
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * Answers whether the brokers answer a metadata request for `topics` (readiness). Its admin client
 * connects on first use and again after a disconnect.
 */
export class KafkaProbe {
  private readonly admin: Admin;
  private connected?: Promise<void>;

  constructor(
    kafka: Kafka,
    private readonly topics: string[],
  ) {
    this.admin = kafka.admin();
    this.admin.on(this.admin.events.DISCONNECT, () => {
      this.connected = undefined;
    });
  }

  /** The connected admin client, for callers that need more than a ping (lag). */
  async client(): Promise<Admin> {
    this.connected ??= this.admin.connect().catch((err) => {
      this.connected = undefined;
      throw err;
    });
    await this.connected;
    return this.admin;
  }

  async ping(): Promise<void> {
    await (await this.client()).fetchTopicMetadata({ topics: this.topics });
  }

  async close(): Promise<void> {
    if (this.connected) await this.admin.disconnect().catch(() => undefined);
  }
}
