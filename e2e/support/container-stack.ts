import { ClickHouseContainer } from '@testcontainers/clickhouse';
import { MinioContainer } from '@testcontainers/minio';
import { GenericContainer, getContainerRuntimeClient, Network, StartedNetwork, StartedTestContainer, Wait } from 'testcontainers';
import { environmentOf, loadCompose, ROOT } from '../deploy/files';
import { gatewayToken } from './http';
import { ServiceControl, ServiceName, SERVICES, Stack, StackOptions } from './stack';

/**
 * The stack of docker-compose.yml, started with testcontainers on a network of its own: the same
 * images, the same environment, the three services built from their Dockerfile targets. Needs
 * a Docker engine. Everything is removed at stop(); images are kept so that the next run
 * builds from cache.
 */
export async function startContainerStack(options: StackOptions): Promise<Stack> {
  const compose = loadCompose();
  const def = (name: string) => {
    const service = compose.services[name];
    if (!service) throw new Error(`docker-compose.yml has no service ${name}`);
    return service;
  };
  const network: StartedNetwork = await new Network().start();
  const started: StartedTestContainer[] = [];
  const apps = new Map<ServiceName, StartedTestContainer>();
  const ports = new Map<ServiceName, number>();

  const stopAll = async () => {
    for (const c of [...started].reverse()) await c.stop({ timeout: 5_000 }).catch(() => undefined);
    await network.stop().catch(() => undefined);
  };

  try {
    const kafka = def('kafka');
    started.push(
      await new GenericContainer(kafka.image!)
        .withNetwork(network)
        .withNetworkAliases('kafka')
        .withHostname('kafka')
        .withEnvironment(environmentOf(kafka))
        .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
        .withStartupTimeout(180_000)
        .start(),
    );

    const minioEnv = environmentOf(def('minio'));
    started.push(
      await new MinioContainer(def('minio').image!)
        .withUsername(minioEnv.MINIO_ROOT_USER)
        .withPassword(minioEnv.MINIO_ROOT_PASSWORD)
        .withNetwork(network)
        .withNetworkAliases('minio')
        .start(),
    );

    const clickhouseEnv = environmentOf(def('clickhouse'));
    const clickhouse = await new ClickHouseContainer(def('clickhouse').image!)
      .withUsername(clickhouseEnv.CLICKHOUSE_USER)
      .withPassword(clickhouseEnv.CLICKHOUSE_PASSWORD)
      .withDatabase('default')
      .withNetwork(network)
      .withNetworkAliases('clickhouse')
      .start();
    started.push(clickhouse);

    // Downstream first, like the native stack: the aggregator owns the migrations.
    for (const app of [...SERVICES].reverse()) {
      const env: Record<string, string> = { ...environmentOf(def(app)), GATEWAY_TOKEN: gatewayToken(), ...options.env };
      const port = Number(env.PORT);
      const build = def(app).build!;
      const image = await GenericContainer.fromDockerfile(ROOT, build.dockerfile ?? 'Dockerfile')
        .withTarget(build.target ?? app)
        .build(`log-analytics/${app}:e2e`, { deleteOnExit: false });
      const container = await image
        .withNetwork(network)
        .withNetworkAliases(app)
        .withEnvironment(env)
        .withExposedPorts(port)
        .withWaitStrategy(Wait.forHttp('/health/ready', port).forStatusCode(200))
        .withStartupTimeout(120_000)
        .start();
      started.push(container);
      apps.set(app, container);
      ports.set(app, port);
    }

    const app = (service: ServiceName) => apps.get(service)!;
    const control: ServiceControl = {
      kill: async (service, signal = 'SIGKILL') => {
        const client = await getContainerRuntimeClient();
        const container = client.container.getById(app(service).getId());
        await container.kill({ signal });
        await container.wait();
      },
      // Same container, same environment; its host port may change, so URLs are read afresh.
      restart: (service) => app(service).restart(),
    };
    const aggregatorEnv = environmentOf(def('window-aggregator'));
    return {
      mode: 'containers',
      url: (service) => `http://${app(service).getHost()}:${app(service).getMappedPort(ports.get(service)!)}`,
      clickhouse: {
        url: clickhouse.getHttpUrl(),
        username: clickhouse.getUsername(),
        password: clickhouse.getPassword(),
        database: aggregatorEnv.CLICKHOUSE_DATABASE,
      },
      customerSuffix: '',
      control,
      describe: () => `containers stack on network ${network.getName()}: ${SERVICES.map((s) => `${s} ${app(s).getName()}`).join(', ')}`,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
