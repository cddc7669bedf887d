import { RAW_PREFIX } from '@pipeline/contract';
import { keptTimes } from '@pipeline/entry';
import { Admission, CustomerLimits, GatewayAuthenticator, GatewayToken, gatewayTokenFromSecret, MAX_BATCH_BYTES, parseCustomerLimits, parseGatewayTokens, RecentAnnouncements } from '@pipeline/batch';
import { CoalescingPublisher, consumerLag, createKafka, DEFAULT_COALESCING_LIMITS, KafkaEventPublisher, KafkaProbe, kafkaSettingsFromEnv, provisionTopics, topicSettingsFromEnv } from '@pipeline/kafka';
import { ConfigError, errorMessage, RETRY_AFTER_SECONDS, ServiceDefinition, Source } from '@pipeline/platform';
import { S3ObjectStore, s3SettingsFromEnv } from '@pipeline/s3';
import { SummarizerBacklog } from './backlog';
import { BatchChecker, defaultCheckThreads, inlineChecker, ThreadChecker } from './batch-check';
import { IngestionConfig, ingestionEnv } from './config';
import { MeasuredPublisher, MeasuredStore } from './dependencies';
import { IngestionHandler } from './handler';
import { configureHttp, INGESTION_HANDLER, LogsController } from './http';
import { IngestionMetrics } from './metrics';
import { GatewayTokensFile, readTokensFile } from './gateway-tokens';
import { Reconciler } from './reconciler';

/**
 * The gateway tokens configured in the environment (`fixed`) and in GATEWAY_TOKENS_FILE; a service
 * that would let anyone in does not start.
 */
function gatewayTokens(config: IngestionConfig): { fixed: GatewayToken[]; all: GatewayToken[] } {
  const fixed: GatewayToken[] = [];
  const fromFile: GatewayToken[] = [];
  try {
    if (config.GATEWAY_TOKENS) fixed.push(...parseGatewayTokens(config.GATEWAY_TOKENS));
  } catch (err) {
    throw new ConfigError([`GATEWAY_TOKENS: ${errorMessage(err)}`]);
  }
  try {
    if (config.GATEWAY_TOKEN) fixed.push(gatewayTokenFromSecret('default', config.GATEWAY_TOKEN, config.GATEWAY_TOKEN_CUSTOMERS));
  } catch (err) {
    throw new ConfigError([`GATEWAY_TOKEN_CUSTOMERS: ${errorMessage(err)}`]);
  }
  try {
    if (config.GATEWAY_TOKENS_FILE) fromFile.push(...readTokensFile(config.GATEWAY_TOKENS_FILE));
  } catch (err) {
    throw new ConfigError([`GATEWAY_TOKENS_FILE: ${errorMessage(err)}`]);
  }
  const all = [...fixed, ...fromFile];
  if (all.length === 0) throw new ConfigError(['GATEWAY_TOKENS, GATEWAY_TOKENS_FILE or GATEWAY_TOKEN: no gateway token configured; only authenticated gateways may post (see docs/security.md)']);
  return { fixed, all };
}

/**
 * Who may send what: the customers' limits (defaults and CUSTOMER_LIMITS), the tokens' rate, the
 * instance's in-flight budget, and each customer's byte rate while the summarizer is behind.
 */
export function admissionFromConfig(config: IngestionConfig, isBehind?: () => boolean): Admission {
  const defaults: CustomerLimits = {
    requests: { perSecond: config.RATE_LIMIT_PER_CUSTOMER, burst: config.RATE_LIMIT_PER_CUSTOMER_BURST },
    bytes: { perSecond: config.RATE_LIMIT_PER_CUSTOMER_BYTES, burst: config.RATE_LIMIT_PER_CUSTOMER_BYTES_BURST },
    bytesInFlight: config.INGESTION_MAX_BYTES_IN_FLIGHT_PER_CUSTOMER ?? Math.max(MAX_BATCH_BYTES, Math.floor(config.INGESTION_MAX_BYTES_IN_FLIGHT / 4)),
  };
  const problems: string[] = [];
  let perCustomer = new Map<string, CustomerLimits>();
  try {
    perCustomer = parseCustomerLimits(config.CUSTOMER_LIMITS, defaults);
  } catch (err) {
    problems.push(`CUSTOMER_LIMITS: ${errorMessage(err)}`);
  }
  if (defaults.bytesInFlight < MAX_BATCH_BYTES) problems.push(`INGESTION_MAX_BYTES_IN_FLIGHT_PER_CUSTOMER: must be at least ${MAX_BATCH_BYTES} (one batch of the largest size)`);
  const above = (limits: CustomerLimits) => limits.bytesInFlight > Math.max(MAX_BATCH_BYTES, config.INGESTION_MAX_BYTES_IN_FLIGHT);
  const budget = `a share of in-flight bytes above INGESTION_MAX_BYTES_IN_FLIGHT (${config.INGESTION_MAX_BYTES_IN_FLIGHT})`;
  if (above(defaults)) problems.push(`INGESTION_MAX_BYTES_IN_FLIGHT_PER_CUSTOMER: ${budget}`);
  for (const [customer, limits] of perCustomer) if (above(limits)) problems.push(`CUSTOMER_LIMITS: ${customer}: ${budget}`);
  if (problems.length) throw new ConfigError(problems);
  return new Admission({
    customer: defaults,
    perCustomer,
    token: { perSecond: config.RATE_LIMIT_PER_TOKEN, burst: config.RATE_LIMIT_PER_TOKEN_BURST },
    maxBytesInFlight: config.INGESTION_MAX_BYTES_IN_FLIGHT,
    busyRetryAfterSeconds: RETRY_AFTER_SECONDS.unavailable,
    backlog: isBehind && { isBehind, bytes: { perSecond: config.INGESTION_BACKLOG_BYTES_PER_CUSTOMER, burst: 2 * config.INGESTION_BACKLOG_BYTES_PER_CUSTOMER } },
  });
}

/**
 * POST /logs -> raw batch in S3 (create-only) -> batch-ingested.
 * Sources: the HTTP intake, and the reconciler that re-announces stored batches never summarized.
 * Sinks: S3 (raw batches), Kafka (announcements).
 */
export const ingestionService: ServiceDefinition<typeof ingestionEnv> = {
  name: 'batch-ingestion',
  env: ingestionEnv,
  build(config, runtime) {
    const metrics = new IngestionMetrics(runtime.registry);
    const topic = config.TOPIC_BATCH_INGESTED;
    const s3 = S3ObjectStore.fromSettings({ ...s3SettingsFromEnv(config), home: RAW_PREFIX });
    const kafka = createKafka(kafkaSettingsFromEnv(config, 'batch-ingestion'), runtime.logger);
    const producer = new KafkaEventPublisher(kafka, config.KAFKA_REQUEST_TIMEOUT_MS);
    const publisher = new CoalescingPublisher(producer, { ...DEFAULT_COALESCING_LIMITS, maxPendingBytes: config.INGESTION_MAX_PUBLISH_QUEUE_BYTES });
    const probe = new KafkaProbe(kafka, [topic]);

    const threads = config.INGESTION_CHECK_THREADS ?? defaultCheckThreads();
    let checker: BatchChecker = inlineChecker;
    if (threads > 0) {
      const pool = new ThreadChecker({
        threads,
        minBytes: config.INGESTION_CHECK_THREAD_MIN_BYTES,
        niceIncrement: config.INGESTION_CHECK_THREAD_NICE,
        onThreadError: (err) => runtime.logger.error({ err }, 'a batch-check thread failed; the body was checked on the event loop'),
      });
      // Asked of a thread itself: the niceness is set there, and silently not where the platform cannot.
      pool.niceness().then(
        (niceness) => runtime.logger.info({ threads, minBytes: config.INGESTION_CHECK_THREAD_MIN_BYTES, niceness }, 'large bodies are checked on threads'),
        (err) => runtime.logger.error({ err }, 'the batch-check threads do not answer'),
      );
      checker = pool;
    }

    // The summarizer's backlog, read from its group's lag: the door slows the heaviest senders
    // while the back stages are behind (a right to describe that group, nothing more).
    let backlog: SummarizerBacklog | undefined;
    if (config.INGESTION_BACKLOG_MAX_BATCHES > 0) {
      // The probe's admin client: connected on first use and again after a disconnect, closed with the Kafka sink.
      const readLag = async () => (await consumerLag(await probe.client(), config.SUMMARIZER_GROUP_ID, topic)).reduce((sum, p) => sum + p.lag, 0);
      backlog = new SummarizerBacklog(readLag, { maxBatches: config.INGESTION_BACKLOG_MAX_BATCHES, pollMs: config.INGESTION_BACKLOG_POLL_MS }, runtime.logger, runtime.registry);
    }

    const tokens = gatewayTokens(config);
    const auth = new GatewayAuthenticator(tokens.all);
    const handler = new IngestionHandler({
      auth,
      admission: admissionFromConfig(config, backlog && (() => backlog.isBehind())),
      store: new MeasuredStore(s3, metrics, config.S3_REQUEST_TIMEOUT_MS),
      // The producer enforces KAFKA_REQUEST_TIMEOUT_MS per send; the outer deadline bounds a
      // request's whole wait, including the send ahead of it in the coalescing queue.
      publisher: new MeasuredPublisher(publisher, metrics, config.KAFKA_REQUEST_TIMEOUT_MS + 1_000),
      topic,
      metrics,
      logger: runtime.logger,
      isProvisioned: () => runtime.provisioned,
      bodyTimeoutMs: config.HTTP_BODY_TIMEOUT_MS,
      keptTimes: () => keptTimes(Date.now(), config.CLICKHOUSE_RETENTION_DAYS, config.MAX_FUTURE_SKEW_SECONDS * 1000),
      inlineBodyMaxBytes: config.INGESTION_INLINE_BODY_MAX_BYTES,
      checker,
      announced: new RecentAnnouncements({ maxBytes: config.INGESTION_ANNOUNCED_MEMORY_BYTES, maxAgeMs: config.INGESTION_ANNOUNCED_MAX_AGE_MS }),
    });
    metrics.observeBuffers(() => ({ bodies: handler.reservedBytes, publishQueue: publisher.queuedBytes }));

    // Requests in flight finish while the server closes (platform); nothing else to stop.
    const intake: Source = { name: 'http', start: () => undefined, drain: async () => undefined };
    const sources: Source[] = [intake];
    if (backlog) sources.push(backlog);
    if (config.GATEWAY_TOKENS_FILE) {
      sources.push(new GatewayTokensFile(config.GATEWAY_TOKENS_FILE, auth, tokens.fixed, runtime.logger, config.GATEWAY_TOKENS_RELOAD_MS));
    }
    if (config.RECONCILER_ENABLED) {
      sources.push(
        new Reconciler({
          store: s3,
          publisher,
          topic,
          logger: runtime.logger,
          registry: runtime.registry,
          minAgeMs: config.RECONCILER_MIN_AGE_MS,
          intervalMs: config.RECONCILER_INTERVAL_MS,
          pagesPerScan: config.RECONCILER_PAGES_PER_SCAN,
          reannounceAfterMs: config.RECONCILER_REANNOUNCE_AFTER_MS,
        }),
      );
    }

    return {
      async provision() {
        // The bucket and its expiry rules are the provisioning step's: this account may only use
        // its prefixes, and waits here until the bucket is there.
        await s3.ping();
        await provisionTopics(kafka, [topic], topicSettingsFromEnv(config));
        // Connecting now spares the first batch the handshake.
        await producer.connect();
      },
      sources,
      sinks: [
        { name: 's3', ping: () => s3.ping(), close: () => s3.destroy() },
        { name: 'kafka', ping: () => probe.ping(), close: () => Promise.all([producer.disconnect(), probe.close()]) },
      ],
      http: {
        controllers: [LogsController],
        providers: [{ provide: INGESTION_HANDLER, useValue: handler }],
        bodyLimit: MAX_BATCH_BYTES,
        bodyParser: false,
        configure: (app) => configureHttp(app, { metrics, logger: runtime.logger, isDraining: () => runtime.draining, bodyTimeoutMs: config.HTTP_BODY_TIMEOUT_MS }),
      },
    };
  },
};
