import { spawnSync } from 'node:child_process';
import { parse } from 'yaml';
import { topicEnv } from '@pipeline/contract';
import { clickhouseEnv, kafkaEnv, loadConfig, retentionEnv, s3Env, serviceEnv } from '@pipeline/platform';
import { topicSettingsFromEnv } from '@pipeline/kafka';
import { App, appEnvironment, APPS, ComposeFile, environmentOf, loadComposeRaw, parseEnvFile, readRepoFile, requiredVariables, ROOT, variableOf } from './files';

/**
 * docker-compose.cluster.yml checked without a Docker engine: the file docker-compose makes of it and
 * docker-compose.yml (`config`), cross-checked against the apps' configuration, the balancer's and
 * the replicas' configuration files and the pinned versions.
 */
const PLATFORM_SHAPES = { serviceEnv, kafkaEnv, topicEnv, s3Env, clickhouseEnv, retentionEnv } as Record<string, Record<string, unknown>>;
const FILES = ['docker-compose.yml', 'docker-compose.cluster.yml'];
const SECRETS = Object.fromEntries([...new Set(FILES.flatMap((f) => requiredVariables(f)))].map((name) => [name, `dummy-${name.toLowerCase()}`]));
const versions = parseEnvFile(readRepoFile('infra/local/versions.env'));

function dockerCompose(files: string[], args: string[], env: Record<string, string>) {
  const run = spawnSync('docker-compose', [...files.flatMap((f) => ['-f', f]), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
  });
  if (run.error && (run.error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('docker-compose is not installed (Debian: apt-get install docker-compose)');
  return run;
}

/** The merged file docker-compose runs, for the given environment. */
function merged(env: Record<string, string> = SECRETS, files = FILES): ComposeFile {
  const run = dockerCompose(files, ['config'], env);
  expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
  return parse(run.stdout) as ComposeFile;
}

const cluster = merged();
const env = (service: string) => environmentOf(cluster.services[service]);
const instances = (app: string) => Object.keys(cluster.services).filter((s) => new RegExp(`^${app}-\\d+$`).test(s)).sort();
/** A published port as `config` prints it: `127.0.0.1:8124:8123/tcp`. */
const portsOf = (service: string) =>
  (cluster.services[service].ports ?? []).map((p) => {
    const [hostIp, published, target] = p.replace(/\/tcp$/, '').split(':');
    return { hostIp, published: Number(published), target: Number(target) };
  });
/** Bind mounts as `source:target` relative to the repository (`config` prints absolute sources). */
const mountsOf = (service: string) => (cluster.services[service].volumes ?? []).map((v) => v.split(':').slice(0, 2).join(':').replace(`${ROOT}/`, ''));
/** The services that run (the single-node ones are in a profile the cluster does not start). */
const running = () => Object.entries(cluster.services).filter(([, s]) => !s.profiles?.length);
const BROKERS = ['kafka', 'kafka-2', 'kafka-3'];
const REPLICAS = ['clickhouse-1', 'clickhouse-2'];

describe('docker-compose.cluster.yml', () => {
  it('is valid over docker-compose.yml with official images, the local ones and the e2e settings, and refuses to start without the credentials', () => {
    const offline = parseEnvFile(spawnSync('bash', ['infra/docker/offline-images', '--print-env'], { cwd: ROOT, encoding: 'utf8' }).stdout);
    const local = merged({ ...SECRETS, ...offline });
    for (const [service, variable] of Object.entries({ balancer: 'HAPROXY_IMAGE', zookeeper: 'ZOOKEEPER_IMAGE', 'clickhouse-1': 'CLICKHOUSE_IMAGE', 'kafka-3': 'KAFKA_IMAGE' })) {
      expect([service, local.services[service].image]).toEqual([service, offline[variable]]);
    }
    merged(SECRETS, [...FILES, 'e2e/compose/e2e-cluster.yml']);
    const without = dockerCompose(FILES, ['config', '-q'], { ...SECRETS, KAFKA_ADMIN_PASSWORD: '' });
    expect(without.status).not.toBe(0);
    expect(without.stderr).toContain('KAFKA_ADMIN_PASSWORD');
  });

  it('takes the balancer and the coordinator from variables whose defaults are the pinned official images', () => {
    const raw = loadComposeRaw('docker-compose.cluster.yml');
    expect(variableOf(raw.services.balancer.image ?? '')).toEqual({ name: 'HAPROXY_IMAGE', fallback: `haproxy:${versions.HAPROXY_IMAGE_TAG}` });
    expect(variableOf(raw.services.zookeeper.image ?? '')).toEqual({ name: 'ZOOKEEPER_IMAGE', fallback: `zookeeper:${versions.ZOOKEEPER_IMAGE_TAG}` });
    expect(cluster.services['clickhouse-2'].image).toBe(`clickhouse/clickhouse-server:${versions.CLICKHOUSE_IMAGE_TAG}`);
  });

  it('runs three Kafka nodes in one quorum, each telling host clients its own published port', () => {
    const ports = new Set<string>();
    for (const [i, broker] of BROKERS.entries()) {
      const e = env(broker);
      expect([broker, e.KAFKA_NODE_ID, e.KAFKA_CONTROLLER_QUORUM_VOTERS]).toEqual([broker, String(i + 1), '1@kafka:9093,2@kafka-2:9093,3@kafka-3:9093']);
      const published = portsOf(broker).find((p) => p.target === 19092)!;
      expect(e.KAFKA_ADVERTISED_LISTENERS).toBe(`INTERNAL://${broker}:9092,HOST://127.0.0.1:${published.published}`);
      ports.add(String(published.published));
      // Kafka's own topics survive a broker too; nothing is allowed without a login.
      expect([e.KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR, e.KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR, e.KAFKA_MIN_INSYNC_REPLICAS]).toEqual(['3', '3', '2']);
      expect(e.KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND).toBe('false');
      expect(e.KAFKA_LISTENER_SECURITY_PROTOCOL_MAP.split(',').every((p) => p.endsWith(':SASL_PLAINTEXT'))).toBe(true);
    }
    expect(ports.size).toBe(3);
    expect(env('kafka-access').KAFKA_BROKERS).toBe('kafka:9092,kafka-2:9092,kafka-3:9092');
  });

  it('runs two instances of every service, each configured as its single-node self but for the cluster\'s addresses and replication', () => {
    const single = loadComposeRaw('docker-compose.yml');
    for (const app of APPS) {
      expect([app, cluster.services[app].profiles]).toEqual([app, ['single-node']]);
      expect([app, instances(app)]).toEqual([app, [`${app}-1`, `${app}-2`]]);
      const { known, shapes } = appEnvironment(app as App, PLATFORM_SHAPES);
      const [a, b] = instances(app).map(env);
      // The same variables as in docker-compose.yml; only the values listed here differ.
      expect([app, Object.keys(a).sort()]).toEqual([app, Object.keys(environmentOf(single.services[app])).sort()]);
      expect(Object.keys(a).filter((k) => !known.has(k))).toEqual([]);
      expect(Object.keys(a).filter((k) => a[k] !== b[k])).toEqual(app === 'window-aggregator' ? ['CLICKHOUSE_URL'] : []);
      for (const shape of shapes) expect(() => loadConfig(PLATFORM_SHAPES[shape] as never, a)).not.toThrow();
      expect(a.KAFKA_BROKERS).toBe('kafka:9092,kafka-2:9092,kafka-3:9092');
      expect(topicSettingsFromEnv(loadConfig(kafkaEnv, a))).toMatchObject({ replicationFactor: 3, minInSyncReplicas: 2 });
      for (const broker of BROKERS) expect(cluster.services[`${app}-1`].depends_on).toHaveProperty(broker);
    }
  });

  it('gives each aggregator instance a replica of its own, on replicated tables, and makes every write wait for both replicas', () => {
    expect(instances('window-aggregator').map((s) => [env(s).CLICKHOUSE_URL, env(s).CLICKHOUSE_REPLICATED])).toEqual(REPLICAS.map((r) => [`http://${r}:8123`, 'true']));
    expect(cluster.services.clickhouse.profiles).toEqual(['single-node']);
    const replicaXml = readRepoFile('infra/clickhouse/cluster/replica.xml');
    for (const replica of REPLICAS) {
      const e = env(replica);
      expect([e.CLICKHOUSE_REPLICA, e.CLICKHOUSE_INTERSERVER_HOST, cluster.services[replica].hostname]).toEqual([replica, replica, replica]);
      expect(mountsOf(replica)).toEqual(
        expect.arrayContaining([
          'infra/clickhouse/cluster/replica.xml:/etc/clickhouse-server/config.d/replica.xml',
          'infra/clickhouse/cluster/quorum.xml:/etc/clickhouse-server/users.d/quorum.xml',
          'infra/clickhouse/users.d/pipeline-users.xml:/etc/clickhouse-server/users.d/pipeline-users.xml',
        ]),
      );
      expect(cluster.services[replica].depends_on).toHaveProperty('zookeeper');
    }
    // The replica's name and address come from the variables compose sets; the coordinator is the compose service.
    expect(replicaXml).toContain('<replica from_env="CLICKHOUSE_REPLICA"/>');
    expect(replicaXml).toContain('<interserver_http_host from_env="CLICKHOUSE_INTERSERVER_HOST"/>');
    expect(replicaXml).toMatch(/<host>zookeeper<\/host>\s*<port>2181<\/port>/);
    expect(/<insert_quorum>(\d+)<\/insert_quorum>/.exec(readRepoFile('infra/clickhouse/cluster/quorum.xml'))?.[1]).toBe(String(REPLICAS.length));
  });

  it('balances the ingestion\'s port over its instances (checked on their operations port) and readers over the replicas, on the ports docker-compose.yml uses', () => {
    const cfg = readRepoFile('infra/haproxy/haproxy.cfg');
    const servers = (backend: string) => [...cfg.split(/^backend /m).find((b) => b.startsWith(`${backend}\n`))!.matchAll(/^\s*server (\S+) (\S+)(.*)$/gm)].map((m) => [m[1], m[2], m[3].trim()]);
    expect(servers('ingestion')).toEqual(instances('batch-ingestion').map((s) => [s, `${s}:${env(s).PORT}`, `check port ${env(s).OPS_PORT}`]));
    expect(servers('clickhouse')).toEqual(REPLICAS.map((r) => [r, `${r}:8123`, 'check']));
    expect(cfg).toMatch(/backend ingestion[\s\S]*option httpchk GET \/health\/ready/);
    expect(portsOf('balancer').map((p) => [p.hostIp, p.published, p.target])).toEqual([
      ['127.0.0.1', 8080, 8080],
      ['127.0.0.1', 8123, 8123],
    ]);
    // Nothing else takes those host ports: the single-node ingestion and ClickHouse do not run.
    for (const service of instances('batch-ingestion')) {
      expect(portsOf(service).map((p) => p.target)).toEqual([8090]);
    }
  });

  it('gives every container of the cluster one short try per name lookup, so that a killed peer\'s name fails fast', () => {
    expect(running().filter(([, s]) => JSON.stringify((s as { dns_opt?: string[] }).dns_opt) !== JSON.stringify(['timeout:1', 'attempts:1'])).map(([name]) => name)).toEqual([]);
  });

  it('publishes every port on 127.0.0.1 only, each host port from a variable of its own across both files', () => {
    const seen = new Map<string, string>();
    for (const file of FILES) {
      for (const [name, service] of Object.entries(loadComposeRaw(file).services)) {
        for (const mapping of service.ports ?? []) {
          const m = /^127\.0\.0\.1:\$\{([A-Z0-9_]+_HOST_PORT):-(\d+)\}:(\d+)$/.exec(mapping);
          expect([name, mapping, m !== null]).toEqual([name, mapping, true]);
          const owner = seen.get(m![1]);
          // A variable names one host port: the cluster's service that takes over a single-node one's may reuse it.
          if (owner !== undefined && file === FILES[0]) expect([m![1], owner]).toEqual([m![1], undefined]);
          seen.set(m![1], name);
        }
      }
    }
    const hostPorts = running().flatMap(([name]) => portsOf(name).map((p) => p.published));
    expect(hostPorts.length).toBe(new Set(hostPorts).size);
  });
});
