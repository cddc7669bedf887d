import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { ClickHouseTarget } from './aggregates';
import { ContainerView } from './docker-inspect';
import { composeProject, instancesOf } from './external-stack';
import { opsPortOf, ServiceName, untilReady } from './stack';

const execFileAsync = promisify(execFile);
const docker = (args: string[]) => execFileAsync('docker', args, { timeout: 120_000 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The containers of a docker-compose project started with docker-compose.cluster.yml, one by one:
 * what the cluster scenarios kill, start and restart. Only containers of that project are touched.
 */
export interface ComposeCluster {
  readonly project: string;
  /** Every instance of a service, in order (`batch-ingestion` -> batch-ingestion-1, batch-ingestion-2). */
  instances(service: string): string[];
  /** `docker kill` (SIGKILL), then waits until the container is gone. */
  kill(name: string): Promise<void>;
  /** `docker start` of the same container, data kept; waits until it is healthy again. */
  start(name: string): Promise<void>;
  /** `docker restart` (SIGTERM, SIGKILL after `graceSeconds`), then waits until it is healthy again. */
  restart(name: string, graceSeconds?: number): Promise<void>;
  /** Whether the container is running now. */
  running(name: string): Promise<boolean>;
  /** ClickHouse's HTTP interface of one replica, with the aggregator's login (to check each replica's copy). */
  replica(name: string): ClickHouseTarget;
}

/** The cluster E2E_COMPOSE_PROJECT names, or undefined when it names none or a single-node project. */
export function composeCluster(env: NodeJS.ProcessEnv = process.env): ComposeCluster | undefined {
  const project = env.E2E_TARGET === 'external' ? env.E2E_COMPOSE_PROJECT : undefined;
  if (!project) return undefined;
  const containers = composeProject(project);
  if (!containers.has('balancer') || instancesOf(containers, 'kafka').length < 3) return undefined;
  const container = (name: string): ContainerView => {
    const c = containers.get(name);
    if (!c) throw new Error(`E2E_COMPOSE_PROJECT=${project}: no container for the service ${name}`);
    return c;
  };
  const state = async (name: string) => {
    const { stdout } = await docker(['inspect', '-f', '{{.State.Running}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}', container(name).id]);
    const [running, health] = stdout.trim().split(' ');
    return { running: running === 'true', health };
  };
  // A service is back when its own readiness says so (on its published operations port), a server
  // when Docker's health check passes (the same check compose waits for at start).
  const untilHealthy = async (name: string, timeoutMs = 180_000) => {
    const c = container(name);
    const service = /^(batch-ingestion|batch-summarizer|window-aggregator)-\d+$/.exec(name)?.[1] as ServiceName | undefined;
    if (service) {
      const port = c.port(opsPortOf(c.env));
      if (!port) throw new Error(`${name} publishes no operations port`);
      await untilReady(`http://127.0.0.1:${port}`, timeoutMs);
      return;
    }
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await state(name);
      if (s.running && (s.health === 'healthy' || s.health === 'none')) return;
      if (Date.now() > deadline) throw new Error(`${name} not healthy within ${timeoutMs / 1000} s (running ${s.running}, health ${s.health})`);
      await sleep(500);
    }
  };
  const aggregator = instancesOf(containers, 'window-aggregator')[0]?.env ?? {};
  return {
    project,
    instances: (service) => instancesOf(containers, service).map((c) => [...containers.entries()].find(([, v]) => v === c)![0]),
    kill: async (name) => {
      await docker(['kill', '--signal', 'SIGKILL', container(name).id]);
      await docker(['wait', container(name).id]);
    },
    start: async (name) => {
      await docker(['start', container(name).id]);
      await untilHealthy(name);
    },
    restart: async (name, graceSeconds = 10) => {
      await docker(['restart', '-t', String(graceSeconds), container(name).id]);
      await untilHealthy(name);
    },
    running: async (name) => (await state(name)).running,
    replica: (name) => {
      const port = container(name).port(8123);
      if (!port) throw new Error(`${name} publishes no HTTP port`);
      return { url: `http://127.0.0.1:${port}`, username: aggregator.CLICKHOUSE_USER, password: aggregator.CLICKHOUSE_PASSWORD, database: aggregator.CLICKHOUSE_DATABASE };
    },
  };
}
