import { existsSync, readFileSync } from 'node:fs';
import { AddressInfo, createServer } from 'node:net';
import { resolve } from 'node:path';
import { GenericContainer, getContainerRuntimeClient, ImageName, Wait, WaitStrategy } from 'testcontainers';
import { ComposeFile, ComposeService, environmentOf, Environment, loadCompose, loadComposeRaw, parseEnvFile, ROOT } from '../deploy/compose';
import { provisionBucket } from '@pipeline/testing';
import { LABELS, removeRun, runFilter } from './containers';
import { containerView, ContainerView } from './docker-inspect';
import { gatewayToken } from './http';
import { INFRASTRUCTURE, InfrastructureControl, isolatedNames, runId, ServiceControl, ServiceName, SERVICES, Stack, StackOptions, StackWire, opsPortOf, uniqueCustomerSuffix, untilReady } from './stack';

/**
 * E2E_TARGET=containers: the stack of docker-compose.yml started with testcontainers on a network
 * of its own, from the images compose would run (the *_IMAGE variables, read from the process
 * environment and from E2E_COMPOSE_ENV_FILE like docker-compose --env-file), with compose's
 * environment, commands, ulimits and ports (published on 127.0.0.1 only, on free host ports).
 *
 * Under the e2e Jest project (its global set-up sets E2E_CONTAINERS_RUN) the spec files of one run
 * share Kafka, MinIO and ClickHouse, and the specs that need no environment of their own also share
 * the three services, each spec with its own customer suffix; a spec with `env` gets its own three
 * services with topics, bucket, database and consumer groups of their own. The global tear-down
 * removes the run's containers and network. Started on its own (the benchmark), a stack has
 * everything to itself and stop() removes it all. E2E_KEEP=1 keeps the containers.
 */
// Ports are published on 127.0.0.1 only; testcontainers would probe them as `localhost`, which
// may resolve to ::1 first.
process.env.TESTCONTAINERS_HOST_OVERRIDE ||= '127.0.0.1';
const INFRASTRUCTURE_STACK = 'infrastructure';
const SHARED_SERVICES = 'shared';

/** The variables docker-compose.yml is read with: the process environment over E2E_COMPOSE_ENV_FILE. */
export function composeEnvironment(env: NodeJS.ProcessEnv = process.env): Environment {
  const file = env.E2E_COMPOSE_ENV_FILE;
  if (file && !existsSync(resolve(ROOT, file))) throw new Error(`E2E_COMPOSE_ENV_FILE=${file}: no such file (infra/docker/offline-images writes infra/docker/offline.env)`);
  const fromFile = file ? parseEnvFile(readFileSync(resolve(ROOT, file), 'utf8')) : {};
  return { ...fromFile, ...env };
}

/** A container as found on the engine: enough to reach it, read its settings and kill it. */
/** A running container of the stack: every port it is asked for is published (on 127.0.0.1). */
type Running = Omit<ContainerView, 'port'> & { port(containerPort: number): number };

/** Published ports on the loopback interface only, like docker-compose.yml's. */
class LoopbackContainer extends GenericContainer {
  protected override async beforeContainerCreated(): Promise<void> {
    for (const bindings of Object.values(this.hostConfig.PortBindings ?? {}) as { HostIp?: string }[][]) {
      for (const binding of bindings) binding.HostIp = '127.0.0.1';
    }
  }
}

async function freePort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((done, fail) => {
      const server = createServer();
      server.once('error', fail);
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo;
        server.close(() => done(port));
      });
    });
    if (!taken.has(port)) {
      taken.add(port);
      return port;
    }
  }
}

/**
 * docker-compose.yml with each *_HOST_PORT variable of the given services set to a free port, so
 * that published ports never collide with another stack and Kafka advertises the port its host
 * listener is really published on.
 */
async function composeWithFreePorts(services: readonly string[], env: Environment): Promise<ComposeFile> {
  const raw = loadComposeRaw();
  const taken = new Set<number>();
  const ports: Record<string, string> = {};
  for (const service of services) {
    for (const mapping of raw.services[service]?.ports ?? []) {
      for (const m of mapping.matchAll(/\$\{([A-Z_]+_HOST_PORT)(?::-[^}]*)?\}/g)) ports[m[1]] = String(await freePort(taken));
    }
  }
  return loadCompose('docker-compose.yml', { ...env, ...ports });
}

/** `127.0.0.1:18080:8080` -> host 18080, container 8080. */
function published(def: ComposeService): { host: number; container: number }[] {
  return (def.ports ?? []).map((mapping) => {
    const parts = mapping.split(':');
    return { host: Number(parts[parts.length - 2]), container: Number(parts[parts.length - 1].split('/')[0]) };
  });
}

function ulimitsOf(def: ComposeService) {
  return Object.fromEntries(
    Object.entries(def.ulimits ?? {}).map(([name, value]) =>
      typeof value === 'object' ? [name, { soft: Number(value.soft ?? value.hard), hard: Number(value.hard ?? value.soft) }] : [name, { soft: Number(value), hard: Number(value) }],
    ),
  );
}

/**
 * When a container is ready. Compose's health checks are made for its intervals (Kafka's runs a
 * JVM every 10 s); these probes answer within a second of readiness and cost nothing afterwards.
 */
function readiness(service: string, env: Record<string, string>): WaitStrategy {
  switch (service) {
    case 'kafka':
      return Wait.forLogMessage(/Kafka Server started/);
    case 'minio':
      return Wait.forHttp('/minio/health/ready', 9000);
    case 'clickhouse':
      return Wait.forHttp('/ping', 8123);
    default:
      return Wait.forHttp('/health/ready', opsPortOf(env)).forStatusCode(200);
  }
}

interface Placement {
  run: string;
  stack: string;
  network: string;
}

function containerOf(service: string, def: ComposeService, env: Record<string, string>, at: Placement): GenericContainer {
  const container = new LoopbackContainer(def.image!)
    .withName(`e2e-${at.run}-${at.stack}-${service}`)
    .withLabels({ [LABELS.run]: at.run, [LABELS.stack]: at.stack, [LABELS.service]: service })
    .withNetworkMode(at.network)
    .withNetworkAliases(service)
    .withEnvironment(env)
    .withExposedPorts(...published(def))
    .withUlimits(ulimitsOf(def))
    .withWaitStrategy(readiness(service, env))
    .withStartupTimeout(180_000);
  if (def.hostname) container.withHostname(def.hostname);
  if (def.entrypoint) container.withEntrypoint(words(def.entrypoint));
  if (def.command) container.withCommand(words(def.command));
  const mounts = bindMounts(def);
  if (mounts.length) container.withBindMounts(mounts);
  return container;
}

const words = (value: string[] | string) => (Array.isArray(value) ? value : value.split(/\s+/));

/**
 * compose's bind mounts of repository files (`./infra/...:/target[:ro]`); named volumes are left
 * out: a test stack keeps its data in the container and loses it with it.
 */
function bindMounts(def: ComposeService) {
  return (def.volumes ?? [])
    .filter((v) => v.startsWith('./'))
    .map((v) => {
      const [source, target, mode] = v.split(':');
      return { source: resolve(ROOT, source), target, mode: mode === 'ro' ? ('ro' as const) : ('rw' as const) };
    });
}

/**
 * One of compose's one-shot provisioning steps, run to its end: `minio-account` (the bucket and the
 * services' MinIO accounts) or `kafka-access` (Kafka's users and ACLs, a JVM per command).
 */
async function provision(service: 'minio-account' | 'kafka-access', compose: ComposeFile, at: Placement): Promise<void> {
  const def = compose.services[service];
  const container = await containerOf(service, def, environmentOf(def), at).withWaitStrategy(Wait.forOneShotStartup()).withStartupTimeout(240_000).start();
  await container.stop({ remove: true }).catch(() => undefined);
}

/** The containers of one stack of a run, by compose service. */
async function find(run: string, stack: string): Promise<Map<string, Running>> {
  const docker = (await getContainerRuntimeClient()).container.dockerode;
  const found = new Map<string, Running>();
  for (const info of await docker.listContainers({ all: true, filters: runFilter(run, stack) })) {
    const inspect = await docker.getContainer(info.Id).inspect();
    if (!inspect.State.Running) throw new Error(`container ${inspect.Name} of the e2e run ${run} is not running (${inspect.State.Status}); see docker logs ${info.Id.slice(0, 12)}`);
    const view = containerView(inspect);
    found.set(info.Labels[LABELS.service], {
      ...view,
      port: (containerPort) => view.port(containerPort) ?? missingPort(view.name, containerPort),
    });
  }
  return found;
}

function missingPort(container: string, containerPort: number): never {
  throw new Error(`container ${container} publishes no port ${containerPort}`);
}

/** Every image the stack runs must be on the engine: the containers target never builds or pulls the services. */
async function checkImages(compose: ComposeFile): Promise<void> {
  const client = await getContainerRuntimeClient();
  const missing: string[] = [];
  for (const service of [...INFRASTRUCTURE, ...SERVICES]) {
    const image = compose.services[service].image!;
    if (!(await client.image.exists(ImageName.fromString(image)))) missing.push(`${service} (${image})`);
  }
  if (missing.length === 0) return;
  throw new Error(
    [
      `E2E_TARGET=containers runs the images docker-compose.yml names; not on this Docker engine: ${missing.join(', ')}.`,
      'Either build them from packages and name them (no image registry needed):',
      '  infra/docker/offline-images && E2E_COMPOSE_ENV_FILE=infra/docker/offline.env E2E_TARGET=containers npm run test:e2e',
      'or, with access to Docker Hub and Quay, pull the official images and build the services (BuildKit;',
      'docker-compose 1.x needs DOCKER_BUILDKIT=1 COMPOSE_DOCKER_CLI_BUILD=1):',
      '  docker-compose pull kafka minio clickhouse && docker-compose build',
    ].join('\n'),
  );
}

async function ensureNetwork(run: string): Promise<string> {
  const docker = (await getContainerRuntimeClient()).container.dockerode;
  const name = `e2e-${run}`;
  const existing = await docker.listNetworks({ filters: { ...runFilter(run), name: [name] } });
  if (!existing.some((n) => n.Name === name)) await docker.createNetwork({ Name: name, Driver: 'bridge', CheckDuplicate: true, Labels: { [LABELS.run]: run } });
  return name;
}

async function startInfrastructure(compose: ComposeFile, at: Placement): Promise<Map<string, Running>> {
  // The three start at once: nothing of one waits for another.
  const started = await Promise.allSettled(INFRASTRUCTURE.map((service) => containerOf(service, compose.services[service], environmentOf(compose.services[service]), at).start()));
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
  await Promise.all([provision('minio-account', compose, at), provision('kafka-access', compose, at)]);
  return find(at.run, at.stack);
}

async function startServices(compose: ComposeFile, env: Record<string, string>, at: Placement): Promise<Map<string, Running>> {
  // Downstream first, like the native stack: the aggregator owns the migrations.
  for (const service of [...SERVICES].reverse()) {
    await containerOf(service, compose.services[service], { ...environmentOf(compose.services[service]), ...env }, at).start();
  }
  return find(at.run, at.stack);
}

/**
 * A spec's own bucket, database and topics lie outside what the services' MinIO accounts,
 * ClickHouse writer and Kafka users may touch (compose grants them the pipeline's only): the
 * services of such a stack log in as the administrators, as on the native stack.
 */
function administratorLogins(env: Environment): Record<string, string> {
  const required = (name: string) => {
    const value = env[name];
    if (!value) throw new Error(`${name} must be set: docker-compose.yml's credentials (docs/security.md)`);
    return value;
  };
  return {
    S3_ACCESS_KEY_ID: required('MINIO_ROOT_USER'),
    S3_SECRET_ACCESS_KEY: required('MINIO_ROOT_PASSWORD'),
    CLICKHOUSE_USER: env.CLICKHOUSE_ADMIN_USER || 'admin',
    CLICKHOUSE_PASSWORD: required('CLICKHOUSE_ADMIN_PASSWORD'),
    KAFKA_SASL_USERNAME: env.KAFKA_ADMIN_USER || 'admin',
    KAFKA_SASL_PASSWORD: required('KAFKA_ADMIN_PASSWORD'),
  };
}

export async function startContainerStack(options: StackOptions): Promise<Stack> {
  const env = composeEnvironment();
  const sharedRun = env.E2E_CONTAINERS_RUN;
  const run = sharedRun || runId(options.name);
  const keep = env.E2E_KEEP === '1';
  const ownServices = !sharedRun || options.env !== undefined;
  const servicesStack = ownServices ? (sharedRun ? runId(options.name) : 'services') : SHARED_SERVICES;
  const base = loadCompose('docker-compose.yml', env);
  await checkImages(base);

  // What this call started is removed again when the start fails (a later spec starts afresh).
  const startedHere: string[] = [];
  try {
    const network = await ensureNetwork(run);
    let infra = await find(run, INFRASTRUCTURE_STACK);
    if (infra.size === 0) {
      startedHere.push(INFRASTRUCTURE_STACK);
      infra = await startInfrastructure(await composeWithFreePorts(INFRASTRUCTURE, env), { run, stack: INFRASTRUCTURE_STACK, network });
    }
    let apps = ownServices ? new Map<string, Running>() : await find(run, SHARED_SERVICES);
    if (apps.size === 0) {
      startedHere.push(servicesStack);
      const names: Record<string, string> = ownServices && sharedRun ? { ...isolatedNames(servicesStack), ...administratorLogins(env) } : {};
      // The services never create their bucket: a spec's own is provisioned here, as minio-account does the stack's.
      if (names.S3_BUCKET && !(await provisionBucket({ ...names, S3_ENDPOINT: `http://127.0.0.1:${infra.get('minio')!.port(9000)}` }))) {
        throw new Error(`could not create the bucket ${names.S3_BUCKET} on the stack's MinIO`);
      }
      apps = await startServices(await composeWithFreePorts(SERVICES, env), { GATEWAY_TOKEN: gatewayToken(), GATEWAY_TOKEN_CUSTOMERS: '*', ...names, ...options.env }, { run, stack: servicesStack, network });
    }
    complete(run, INFRASTRUCTURE_STACK, infra, INFRASTRUCTURE);
    complete(run, servicesStack, apps, SERVICES);
    return containerStack(run, servicesStack, infra, apps, { customerSuffix: ownServices ? '' : uniqueCustomerSuffix(), standalone: !sharedRun, keep });
  } catch (err) {
    if (!keep) {
      if (!sharedRun) await removeRun(run).catch(() => undefined);
      else for (const stack of startedHere.reverse()) await removeRun(run, stack).catch(() => undefined);
    }
    throw err;
  }
}

function complete(run: string, stack: string, found: Map<string, Running>, services: readonly string[]): void {
  const missing = services.filter((s) => !found.has(s));
  if (missing.length) throw new Error(`the e2e run ${run} has no ${missing.join(', ')} in its stack ${stack} (label ${LABELS.run}=${run})`);
}

function containerStack(
  run: string,
  servicesStack: string,
  infra: Map<string, Running>,
  apps: Map<string, Running>,
  o: { customerSuffix: string; standalone: boolean; keep: boolean },
): Stack {
  const app = (service: ServiceName) => apps.get(service)!;
  const url = (service: ServiceName) => `http://127.0.0.1:${app(service).port(Number(app(service).env.PORT))}`;
  const opsUrl = (service: ServiceName) => `http://127.0.0.1:${app(service).port(opsPortOf(app(service).env))}`;
  const byId = async (id: string) => (await getContainerRuntimeClient()).container.dockerode.getContainer(id);
  const container = (service: ServiceName) => byId(app(service).id);
  const control: ServiceControl = {
    kill: async (service, signal = 'SIGKILL') => {
      const c = await container(service);
      await c.kill({ signal });
      await c.wait();
    },
    // The same container, environment and host port (published ports are fixed).
    restart: async (service) => {
      await (await container(service)).start();
      await untilReady(opsUrl(service));
    },
  };
  // Shared with the other specs of the run: they find it running again, on the same host ports.
  const infrastructure: InfrastructureControl = {
    kill: async (server) => {
      const c = await byId(infra.get(server)!.id);
      await c.kill({ signal: 'SIGKILL' });
      await c.wait();
    },
    start: async (server) => void (await (await byId(infra.get(server)!.id)).start()),
  };
  const ingestion = app('batch-ingestion').env;
  const summarizer = app('batch-summarizer').env;
  const aggregator = app('window-aggregator').env;
  const kafka = infra.get('kafka')!;
  const wire: StackWire = {
    // Kafka's HOST listener, advertised as 127.0.0.1 and the port it is published on.
    kafkaBrokers: [`127.0.0.1:${kafka.port(19092)}`],
    // The administrator, whose login the broker's container has.
    kafkaSasl: { mechanism: 'scram-sha-512', username: kafka.env.SASL_ADMIN_USER, password: kafka.env.SASL_ADMIN_PASSWORD },
    topics: {
      batchIngested: summarizer.TOPIC_BATCH_INGESTED,
      insightEvents: summarizer.TOPIC_INSIGHT_EVENTS,
      batchIngestedDlq: summarizer.TOPIC_BATCH_INGESTED_DLQ,
      insightEventsDlq: aggregator.TOPIC_INSIGHT_EVENTS_DLQ,
    },
    s3: {
      endpoint: `http://127.0.0.1:${infra.get('minio')!.port(9000)}`,
      region: ingestion.S3_REGION,
      bucket: ingestion.S3_BUCKET,
      accessKeyId: ingestion.S3_ACCESS_KEY_ID,
      secretAccessKey: ingestion.S3_SECRET_ACCESS_KEY,
    },
  };
  return {
    mode: 'containers',
    url,
    opsUrl,
    clickhouse: {
      url: `http://127.0.0.1:${infra.get('clickhouse')!.port(8123)}`,
      username: process.env.E2E_CLICKHOUSE_USER ?? aggregator.CLICKHOUSE_USER,
      password: process.env.E2E_CLICKHOUSE_PASSWORD ?? aggregator.CLICKHOUSE_PASSWORD,
      database: aggregator.CLICKHOUSE_DATABASE,
    },
    customerSuffix: o.customerSuffix,
    control,
    infrastructure,
    wire,
    describe: () =>
      [
        `containers stack (run ${run}, services ${servicesStack}${o.customerSuffix ? `, customer suffix ${o.customerSuffix}` : ''}; docker logs <name>):`,
        ...[...infra.values(), ...apps.values()].map((c) => `  ${c.name}`),
      ].join('\n'),
    stop: async () => {
      if (o.keep) {
        process.stderr.write(`[e2e] E2E_KEEP=1: containers of run ${run} kept (label ${LABELS.run}=${run})\n`);
        return;
      }
      if (o.standalone) await removeRun(run);
      else if (servicesStack !== SHARED_SERVICES) await removeRun(run, servicesStack);
    },
  };
}
