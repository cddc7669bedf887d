import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { containerView, ContainerView, InspectedContainer } from './docker-inspect';
import { InfrastructureControl, ServiceControl, ServiceName, SERVICES, Stack, StackWire, opsPortOf, uniqueCustomerSuffix, untilReady } from './stack';

/** Runs are told apart on a shared stack by a suffix on every customer id. */
function runSuffix(env: NodeJS.ProcessEnv): string {
  const given = env.E2E_CUSTOMER_SUFFIX;
  if (given === 'none') return '';
  if (given !== undefined && given !== '') {
    if (!/^[A-Za-z0-9._-]{0,24}$/.test(given)) throw new Error('E2E_CUSTOMER_SUFFIX must be at most 24 of [A-Za-z0-9._-] (or "none")');
    return given;
  }
  return uniqueCustomerSuffix();
}

const execFileAsync = promisify(execFile);
const docker = (args: string[]) => execFileAsync('docker', args, { timeout: 120_000 });

/** The containers of a docker-compose project by service, found by compose's own labels. */
export function composeProject(project: string): Map<string, ContainerView> {
  const run = (args: string[]) => {
    const r = spawnSync('docker', args, { encoding: 'utf8', timeout: 30_000 });
    if (r.error || r.status !== 0) throw new Error(`docker ${args.join(' ')} failed: ${r.error?.message ?? r.stderr.trim()}`);
    return r.stdout;
  };
  const ids = run(['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`]).split('\n').filter(Boolean);
  if (ids.length === 0) throw new Error(`E2E_COMPOSE_PROJECT=${project}: no containers of that docker-compose project (start it with docker-compose -p ${project} up -d)`);
  const found = new Map<string, ContainerView>();
  for (const c of JSON.parse(run(['inspect', ...ids])) as (InspectedContainer & { Config: { Labels: Record<string, string> } })[]) {
    found.set(c.Config.Labels['com.docker.compose.service'], containerView(c));
  }
  return found;
}

/**
 * The containers of one service of a project, in instance order: the service itself, or the
 * instances `<service>-1`, `<service>-2`, ... a cluster runs instead (kafka, kafka-2, kafka-3 and
 * batch-ingestion-1, batch-ingestion-2 alike).
 */
export function instancesOf(compose: Map<string, ContainerView>, service: string): ContainerView[] {
  const pattern = new RegExp(`^${service.replace(/[.-]/g, '\\$&')}(?:-(\\d+))?$`);
  return [...compose.entries()]
    .map(([name, c]) => ({ n: pattern.exec(name), c }))
    .filter((x): x is { n: RegExpExecArray; c: ContainerView } => x.n !== null)
    .sort((a, b) => Number(a.n[1] ?? 1) - Number(b.n[1] ?? 1))
    .map((x) => x.c);
}

/** A login the stack has and this run was not told: the stack has no default one to guess. */
function required(name: string, value: string | undefined): string {
  if (!value) throw new Error(`${name} is not set (nor read from E2E_COMPOSE_PROJECT's containers): the stack's login (docs/security.md)`);
  return value;
}

/**
 * An already running stack (docker-compose, a staging deployment) given by URLs. Its data outlives
 * the run, so every customer id gets a per-run suffix (E2E_CUSTOMER_SUFFIX=none to use the plain
 * ids on a fresh stack).
 *
 * With E2E_COMPOSE_PROJECT naming its docker-compose project, what is not given is read from the
 * project's containers: the published ports, the ClickHouse user and database of the aggregator,
 * the topics, bucket and S3 credentials of the services and Kafka's administrator (wire). The stack then also has a
 * `control`: `docker kill` and `docker start` of a service's container. Otherwise it has neither
 * and reaches Kafka and S3 only when E2E_KAFKA_BROKERS (with E2E_KAFKA_USERNAME and _PASSWORD, a
 * SCRAM-SHA-512 login) and E2E_S3_* name them.
 */
export function externalStack(env: NodeJS.ProcessEnv = process.env): Stack {
  const project = env.E2E_COMPOSE_PROJECT;
  const compose = project ? composeProject(project) : undefined;
  // A service's first instance stands for it (its environment, its published ports, the one killed).
  const inCompose = (service: string) => {
    const c = compose ? instancesOf(compose, service)[0] : undefined;
    if (compose && !c) throw new Error(`E2E_COMPOSE_PROJECT=${project}: the project has no service ${service}`);
    return c;
  };
  const publishedBy = (c: ContainerView | undefined, port: number) => {
    const host = c?.port(port);
    return host ? `127.0.0.1:${host}` : undefined;
  };
  const published = (service: string, port: number) => publishedBy(inCompose(service), port);
  // A cluster's clients reach the ingestion and ClickHouse through its balancer.
  const balancer = compose?.get('balancer');
  const appUrl = (service: ServiceName, given: string | undefined, fallback: number) => {
    const port = Number(inCompose(service)?.env.PORT ?? fallback);
    if (!given && service === 'batch-ingestion' && publishedBy(balancer, 8080)) return `http://${publishedBy(balancer, 8080)}`;
    return given ?? (published(service, port) ? `http://${published(service, port)}` : `http://127.0.0.1:${fallback}`);
  };
  const urls: Record<ServiceName, string> = {
    'batch-ingestion': appUrl('batch-ingestion', env.E2E_INGEST_URL, 8080),
    'batch-summarizer': appUrl('batch-summarizer', env.E2E_SUMMARIZER_URL, 8081),
    'window-aggregator': appUrl('window-aggregator', env.E2E_AGGREGATOR_URL, 8082),
  };
  const opsUrl = (service: ServiceName, given: string | undefined, fallback: number) => {
    const compose = inCompose(service)?.env;
    const port = compose ? opsPortOf(compose) : fallback;
    return given ?? (published(service, port) ? `http://${published(service, port)}` : `http://127.0.0.1:${fallback}`);
  };
  const opsUrls: Record<ServiceName, string> = {
    'batch-ingestion': opsUrl('batch-ingestion', env.E2E_INGEST_OPS_URL, 8090),
    'batch-summarizer': opsUrl('batch-summarizer', env.E2E_SUMMARIZER_URL, 8081),
    'window-aggregator': opsUrl('window-aggregator', env.E2E_AGGREGATOR_URL, 8082),
  };
  // Every instance's operations URL: what each one counts, summed over a cluster.
  const allOpsUrls = (service: ServiceName): string[] => {
    if (!compose) return [opsUrls[service]];
    return instancesOf(compose, service).map((c) => {
      const at = publishedBy(c, opsPortOf(c.env));
      if (!at) throw new Error(`E2E_COMPOSE_PROJECT=${project}: ${c.name} publishes no operations port`);
      return `http://${at}`;
    });
  };
  const aggregator = inCompose('window-aggregator')?.env ?? {};
  const clickhouseHttp = publishedBy(balancer, 8123) ?? published('clickhouse', 8123);
  const clickhouse = {
    url: env.E2E_CLICKHOUSE_URL ?? (clickhouseHttp ? `http://${clickhouseHttp}` : env.CLICKHOUSE_URL ?? 'http://127.0.0.1:8123'),
    username: required('E2E_CLICKHOUSE_USER', env.E2E_CLICKHOUSE_USER ?? aggregator.CLICKHOUSE_USER ?? env.CLICKHOUSE_USER),
    password: required('E2E_CLICKHOUSE_PASSWORD', env.E2E_CLICKHOUSE_PASSWORD ?? aggregator.CLICKHOUSE_PASSWORD ?? env.CLICKHOUSE_PASSWORD),
    database: env.E2E_CLICKHOUSE_DATABASE ?? aggregator.CLICKHOUSE_DATABASE ?? env.CLICKHOUSE_DATABASE ?? 'log_analytics',
  };
  const customerSuffix = runSuffix(env);

  // docker-compose publishes Kafka's host listener (advertised as 127.0.0.1 and its published port) and MinIO.
  const brokers = env.E2E_KAFKA_BROKERS ?? (compose ? instancesOf(compose, 'kafka').map((c) => publishedBy(c, 19092)).filter(Boolean).join(',') || undefined : undefined);
  // Kafka's administrator: given, or the one the project's broker container was started with.
  const kafkaAdmin = inCompose('kafka')?.env ?? {};
  const kafkaUser = env.E2E_KAFKA_USERNAME ?? kafkaAdmin.SASL_ADMIN_USER;
  const kafkaPassword = env.E2E_KAFKA_PASSWORD ?? kafkaAdmin.SASL_ADMIN_PASSWORD;
  const ingestion = inCompose('batch-ingestion')?.env ?? {};
  const topics = inCompose('batch-summarizer')?.env ?? env;
  const wire: StackWire | undefined = brokers
    ? {
        kafkaBrokers: brokers.split(','),
        kafkaSasl: kafkaUser && kafkaPassword ? { mechanism: 'scram-sha-512', username: kafkaUser, password: kafkaPassword } : undefined,
        topics: {
          batchIngested: topics.TOPIC_BATCH_INGESTED ?? 'batch-ingested',
          insightEvents: topics.TOPIC_INSIGHT_EVENTS ?? 'insight-events',
          batchIngestedDlq: topics.TOPIC_BATCH_INGESTED_DLQ ?? 'batch-ingested-dlq',
          insightEventsDlq: aggregator.TOPIC_INSIGHT_EVENTS_DLQ ?? env.TOPIC_INSIGHT_EVENTS_DLQ ?? 'insight-events-dlq',
        },
        s3: {
          endpoint: env.E2E_S3_ENDPOINT ?? (published('minio', 9000) ? `http://${published('minio', 9000)}` : 'http://127.0.0.1:9000'),
          region: ingestion.S3_REGION ?? env.S3_REGION ?? 'us-east-1',
          bucket: ingestion.S3_BUCKET ?? env.S3_BUCKET ?? 'log-batches',
          accessKeyId: required('E2E_S3_ACCESS_KEY_ID', env.E2E_S3_ACCESS_KEY_ID ?? ingestion.S3_ACCESS_KEY_ID ?? env.S3_ACCESS_KEY_ID),
          secretAccessKey: required('E2E_S3_SECRET_ACCESS_KEY', env.E2E_S3_SECRET_ACCESS_KEY ?? ingestion.S3_SECRET_ACCESS_KEY ?? env.S3_SECRET_ACCESS_KEY),
        },
      }
    : undefined;

  const control: ServiceControl | undefined = compose
    ? {
        kill: async (service, signal = 'SIGKILL') => {
          const id = inCompose(service)!.id;
          await docker(['kill', '--signal', signal, id]);
          // `docker kill` marks the container as stopped by hand: compose's restart policy leaves it down.
          await docker(['wait', id]);
        },
        restart: async (service) => {
          await docker(['start', inCompose(service)!.id]);
          await untilReady(opsUrls[service]);
        },
      }
    : undefined;

  const infrastructure: InfrastructureControl | undefined = compose
    ? {
        kill: async (server) => {
          const id = inCompose(server)!.id;
          await docker(['kill', '--signal', 'SIGKILL', id]);
          await docker(['wait', id]);
        },
        start: async (server) => void (await docker(['start', inCompose(server)!.id])),
      }
    : undefined;

  return {
    mode: 'external',
    url: (service) => urls[service],
    opsUrl: (service) => opsUrls[service],
    opsUrls: allOpsUrls,
    clickhouse,
    customerSuffix,
    wire,
    control,
    infrastructure,
    describe: () =>
      [
        `external stack${project ? ` (docker-compose project ${project}: ${SERVICES.map((s) => inCompose(s)!.name).join(', ')}; docker-compose -p ${project} logs)` : ''}:`,
        `  ${Object.entries(urls).map(([s, u]) => `${s} ${u}`).join(', ')}`,
        `  ClickHouse ${clickhouse.url} database ${clickhouse.database}; customer suffix ${JSON.stringify(customerSuffix)}`,
      ].join('\n'),
    stop: async () => undefined,
  };
}
