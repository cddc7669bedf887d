import { spawnSync } from 'node:child_process';
import { parse } from 'yaml';
import { topicEnv } from '@pipeline/contract';
import { clickhouseEnv, kafkaEnv, loadConfig, retentionEnv, s3Env, serviceEnv } from '@pipeline/platform';
import {
  App,
  appEnvironment,
  APPS,
  dockerStages,
  environmentOf,
  INFRASTRUCTURE,
  loadCompose,
  loadComposeRaw,
  parseEnvFile,
  readRepoFile,
  repoPathExists,
  requiredVariables,
  ROOT,
  splitImage,
  variableOf,
} from './files';

/**
 * The deployment files checked without a Docker engine: docker-compose validates the file
 * offline, and the services, images and variables are cross-checked against the apps' own
 * configuration, the native build, the pinned versions and the locally built images
 * (infra/docker/offline-images).
 */
const PLATFORM_SHAPES = { serviceEnv, kafkaEnv, topicEnv, s3Env, clickhouseEnv, retentionEnv } as Record<string, Record<string, unknown>>;
/** Variables with safe defaults that only tune timing, or that are optional; a deployment may leave them out. */
const TUNING = /(_TIMEOUT_MS|_CLIENT_ID)$|^OPS_(PORT|HOST)$|^KAFKA_(SASL_[A-Z]+|SSL)$/;

const raw = loadComposeRaw();
/** The secrets compose refuses to start without (`${NAME:?...}`), each given a distinct dummy value. */
const SECRETS = Object.fromEntries(requiredVariables().map((name) => [name, `dummy-${name.toLowerCase()}`]));
// Checked with only the secrets set: what users get.
const compose = loadCompose('docker-compose.yml', SECRETS);
const env = (service: string) => environmentOf(compose.services[service]);
const hostPort = (url: string) => {
  const u = new URL(url.includes('://') ? url : `tcp://${url}`);
  return [u.hostname, u.port] as const;
};
const versions = parseEnvFile(readRepoFile('infra/local/versions.env'));
const dockerfileArgs = dockerStages(readRepoFile('Dockerfile')).args;
/** Image variables with the official images users get by default. */
const OFFICIAL_IMAGES: Record<string, [variable: string, image: string | RegExp]> = {
  kafka: ['KAFKA_IMAGE', `apache/kafka:${versions.KAFKA_VERSION}`],
  minio: ['MINIO_IMAGE', `quay.io/minio/minio:${versions.MINIO_IMAGE_TAG}`],
  clickhouse: ['CLICKHOUSE_IMAGE', `clickhouse/clickhouse-server:${versions.CLICKHOUSE_IMAGE_TAG}`],
  prometheus: ['PROMETHEUS_IMAGE', `prom/prometheus:${versions.PROMETHEUS_IMAGE_TAG}`],
  grafana: ['GRAFANA_IMAGE', /^grafana\/grafana:\d+\.\d+\.\d+$/],
};
const APP_IMAGE_VARIABLES: Record<App, string> = {
  'batch-ingestion': 'BATCH_INGESTION_IMAGE',
  'batch-summarizer': 'BATCH_SUMMARIZER_IMAGE',
  'window-aggregator': 'WINDOW_AGGREGATOR_IMAGE',
};

function dockerCompose(args: string[], extraEnv: Record<string, string> = {}) {
  const run = spawnSync('docker-compose', ['-f', 'docker-compose.yml', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...extraEnv },
  });
  if (run.error && (run.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error('docker-compose is not installed: it validates docker-compose.yml offline (Debian: apt-get install docker-compose)');
  }
  return run;
}

/** What infra/docker/offline-images writes into offline.env (computed without building). */
function offlineEnv() {
  const run = spawnSync('bash', ['infra/docker/offline-images', '--print-env'], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
  return parseEnvFile(run.stdout);
}

describe('docker-compose.yml', () => {
  it('is valid for docker-compose (config -q), with official images and with the local ones', () => {
    for (const extraEnv of [{}, offlineEnv()]) {
      const run = dockerCompose(['config', '-q'], { ...SECRETS, ...extraEnv });
      expect({ status: run.status, stderr: run.stderr.trim() }).toEqual({ status: 0, stderr: '' });
    }
  });

  it('refuses to start without the credentials, naming where they are explained', () => {
    expect(Object.keys(SECRETS).sort()).toEqual(
      [
        'CLICKHOUSE_ADMIN_PASSWORD',
        'CLICKHOUSE_READER_PASSWORD',
        'CLICKHOUSE_WRITER_PASSWORD',
        'GATEWAY_TOKEN',
        'GRAFANA_ADMIN_PASSWORD',
        'INGESTION_S3_ACCESS_KEY_ID',
        'INGESTION_S3_SECRET_ACCESS_KEY',
        'MINIO_ROOT_PASSWORD',
        'MINIO_ROOT_USER',
        'SUMMARIZER_S3_ACCESS_KEY_ID',
        'SUMMARIZER_S3_SECRET_ACCESS_KEY',
        'KAFKA_ADMIN_PASSWORD',
        'INGESTION_KAFKA_PASSWORD',
        'SUMMARIZER_KAFKA_PASSWORD',
        'AGGREGATOR_KAFKA_PASSWORD',
      ].sort(),
    );
    const run = dockerCompose(['config', '-q'], { ...SECRETS, GATEWAY_TOKEN: '' });
    expect([run.status, run.stderr]).toEqual([1, expect.stringMatching(/GATEWAY_TOKEN.*set the credentials \(docs\/security\.md\)/)]);
    for (const missing of Object.keys(SECRETS)) {
      expect(() => loadCompose('docker-compose.yml', { ...SECRETS, [missing]: '' })).toThrow(`${missing}: set the credentials (docs/security.md)`);
    }
    expect(repoPathExists('docs/security.md')).toBe(true);
  });

  it('runs Kafka, MinIO, ClickHouse and the three services', () => {
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining([...INFRASTRUCTURE, ...APPS]));
  });

  it('takes every image from a variable whose default is the pinned official image', () => {
    for (const [service, [variable, image]] of Object.entries(OFFICIAL_IMAGES)) {
      expect([service, variableOf(raw.services[service].image ?? '')]).toEqual([service, { name: variable, fallback: expect.stringMatching(image) }]);
      if (typeof image === 'string') expect(compose.services[service].image).toBe(image);
    }
    for (const app of APPS) {
      expect([app, variableOf(raw.services[app].image ?? '')]).toEqual([app, { name: APP_IMAGE_VARIABLES[app], fallback: `log-analytics/${app}:local` }]);
    }
    // ClickHouse LTS lines are x.3 and x.8; the community MinIO images end in 2025.
    expect(versions.CLICKHOUSE_IMAGE_TAG).toMatch(/^\d+\.[38]$/);
    expect(versions.MINIO_IMAGE_TAG).toMatch(/^RELEASE\.2025-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z$/);
    expect(versions.PROMETHEUS_IMAGE_TAG).toMatch(/^v3\.\d+\.\d+$/);
    for (const service of Object.values(compose.services)) expect(splitImage(service.image ?? '')[1]).not.toMatch(/^(latest)?$/);
    expect(env('kafka').KAFKA_PROCESS_ROLES).toBe('broker,controller');
  });

  it('runs with the images infra/docker/offline-images builds, named in offline.env by the same variables', () => {
    const offline = offlineEnv();
    const imageVariables = [...Object.entries(OFFICIAL_IMAGES).filter(([s]) => s !== 'grafana'), ...APPS.map((a) => [a, [APP_IMAGE_VARIABLES[a]]] as const)].map(
      ([, [variable]]) => variable,
    );
    // Plus the base of the services' images and the cluster's balancer and coordinator (docker-compose.cluster.yml).
    expect(Object.keys(offline).filter((k) => k.endsWith('_IMAGE')).sort()).toEqual([...imageVariables, 'NODE_IMAGE', 'HAPROXY_IMAGE', 'ZOOKEEPER_IMAGE'].sort());
    // --print-env names images only (the open-file limit is measured on the engine at build time).
    expect(Object.keys(offline).filter((k) => !k.endsWith('_IMAGE'))).toEqual([]);
    const local = loadCompose('docker-compose.yml', { ...SECRETS, ...offline });
    for (const variable of imageVariables) expect(offline[variable]).toMatch(/^log-analytics\/[a-z-]+:[A-Za-z0-9_.-]+$/);
    expect(local.services.kafka.image).toBe(`log-analytics/kafka:${versions.KAFKA_VERSION}`);
    expect(local.services.minio.image).toBe(`log-analytics/minio:${versions.MINIO_VERSION}`);
    expect(splitImage(offline.NODE_IMAGE)[1]).toMatch(new RegExp(`^${versions.NODE_VERSION.replace(/\./g, '\\.')}-`));
    for (const app of APPS) {
      expect(local.services[app].image).not.toBe(compose.services[app].image);
      expect(local.services[app].build?.args?.NODE_IMAGE).toBe(offline.NODE_IMAGE);
    }
  });

  it.each(APPS)('builds %s from its own target of the root Dockerfile, on the Node image of NODE_IMAGE', (app) => {
    expect(raw.services[app].build).toEqual({ context: '.', dockerfile: 'Dockerfile', target: app, args: { NODE_IMAGE: `\${NODE_IMAGE:-${dockerfileArgs.NODE_IMAGE}}` } });
  });

  it('publishes every port on 127.0.0.1 only, each host port from a variable of its own', () => {
    const seen = new Map<string, string>();
    for (const [name, service] of Object.entries(raw.services)) {
      for (const mapping of service.ports ?? []) {
        const m = /^127\.0\.0\.1:\$\{([A-Z_]+_HOST_PORT):-(\d+)\}:(\d+)$/.exec(mapping);
        expect([name, mapping, m !== null]).toEqual([name, mapping, true]);
        expect([m![1], seen.get(m![1])]).toEqual([m![1], undefined]);
        seen.set(m![1], name);
      }
    }
    // Kafka tells clients on the host the address they reach it by: the published host port.
    const published = /\$\{(KAFKA_HOST_PORT):-(\d+)\}:19092/.exec(raw.services.kafka.ports![0])!;
    expect(environmentOf(raw.services.kafka).KAFKA_ADVERTISED_LISTENERS).toContain(`HOST://127.0.0.1:\${${published[1]}:-${published[2]}}`);
    expect(env('kafka').KAFKA_LISTENERS).toContain('HOST://:19092');
  });

  it.each(APPS)('gives %s every variable it needs, all known to its configuration and valid', (app) => {
    const vars = env(app);
    const { known, shapes, own } = appEnvironment(app, PLATFORM_SHAPES);
    expect(shapes).toEqual(expect.arrayContaining(['serviceEnv', 'kafkaEnv']));
    const needed = [...shapes.flatMap((s) => Object.keys(PLATFORM_SHAPES[s])), ...own.filter((k) => k === 'PORT' || /_GROUP_ID$|^TOPIC_/.test(k))].filter((k) => !TUNING.test(k));
    expect(needed.filter((k) => !(k in vars))).toEqual([]);
    expect(Object.keys(vars).filter((k) => !known.has(k))).toEqual([]);
    // The shared part parses with the very schema the app uses.
    for (const shape of shapes) expect(() => loadConfig(PLATFORM_SHAPES[shape] as never, vars)).not.toThrow();
    expect(vars.HOST).toBe('0.0.0.0');
  });

  it('points the services at the containers of the stack, with the same names and credentials', () => {
    const account = env('minio-account');
    const clickhouse = env('clickhouse');
    // Each service uses the account minio-account made for it, never the root keys.
    const own = { 'batch-ingestion': 'INGESTION', 'batch-summarizer': 'SUMMARIZER' } as Record<string, string>;
    for (const prefix of Object.values(own)) {
      expect([account[`${prefix}_S3_ACCESS_KEY_ID`], account[`${prefix}_S3_SECRET_ACCESS_KEY`]]).toEqual([SECRETS[`${prefix}_S3_ACCESS_KEY_ID`], SECRETS[`${prefix}_S3_SECRET_ACCESS_KEY`]]);
    }
    // The bucket's retention is the provisioning step's, not the services'.
    expect([account.S3_RAW_RETENTION_DAYS, account.S3_SUMMARY_RETENTION_DAYS]).toEqual(['0', '0']);
    expect([account.MINIO_ROOT_USER, account.MINIO_ROOT_PASSWORD]).toEqual([env('minio').MINIO_ROOT_USER, env('minio').MINIO_ROOT_PASSWORD]);
    expect(account.S3_BUCKET).toBe(env('batch-ingestion').S3_BUCKET);
    expect(hostPort(account.MINIO_URL)).toEqual(['minio', '9000']);
    // The scanner only applies retention (days): its default one-minute cycle re-reads every stored batch.
    expect(env('minio').MINIO_SCANNER_SPEED).toBe('slowest');
    const topics = ['TOPIC_BATCH_INGESTED', 'TOPIC_INSIGHT_EVENTS', 'TOPIC_BATCH_INGESTED_DLQ'];
    for (const app of APPS) {
      const vars = env(app);
      expect(vars.KAFKA_BROKERS.split(',').map(hostPort)).toEqual([['kafka', '9092']]);
      for (const t of topics) expect([app, t, vars[t]]).toEqual([app, t, env('batch-summarizer')[t]]);
      if (vars.S3_ENDPOINT) {
        expect(hostPort(vars.S3_ENDPOINT)).toEqual(['minio', '9000']);
        expect([vars.S3_ACCESS_KEY_ID, vars.S3_SECRET_ACCESS_KEY]).toEqual([account[`${own[app]}_S3_ACCESS_KEY_ID`], account[`${own[app]}_S3_SECRET_ACCESS_KEY`]]);
        expect(vars.S3_ACCESS_KEY_ID).not.toBe(account.MINIO_ROOT_USER);
        expect(Object.keys(vars).filter((k) => /RETENTION_DAYS$/.test(k) && k.startsWith('S3_'))).toEqual([]);
      }
      if (vars.CLICKHOUSE_URL) {
        expect(hostPort(vars.CLICKHOUSE_URL)).toEqual(['clickhouse', '8123']);
        // The writer of infra/clickhouse/users.d, not the administrator.
        expect([vars.CLICKHOUSE_USER, vars.CLICKHOUSE_PASSWORD]).toEqual(['pipeline_writer', clickhouse.CLICKHOUSE_WRITER_PASSWORD]);
        expect(vars.CLICKHOUSE_USER).not.toBe(clickhouse.CLICKHOUSE_USER);
        expect(readRepoFile('infra/clickhouse/users.d/pipeline-users.xml')).toContain(`<${vars.CLICKHOUSE_USER}>`);
      }
    }
    expect(env('batch-ingestion').S3_BUCKET).toBe(env('batch-summarizer').S3_BUCKET);
    expect(env('window-aggregator').CLICKHOUSE_URL).toBeDefined();
  });

  it('logs each service in to Kafka as the user kafka-access made for it, on the topics and groups it was granted', () => {
    const access = env('kafka-access');
    const own: Record<App, string> = { 'batch-ingestion': 'INGESTION', 'batch-summarizer': 'SUMMARIZER', 'window-aggregator': 'AGGREGATOR' };
    for (const app of APPS) {
      const vars = env(app);
      expect([app, vars.KAFKA_SASL_MECHANISM, vars.KAFKA_SASL_USERNAME, vars.KAFKA_SASL_PASSWORD]).toEqual([
        app,
        'scram-sha-512',
        access[`${own[app]}_KAFKA_USER`],
        SECRETS[`${own[app]}_KAFKA_PASSWORD`],
      ]);
      expect(vars.KAFKA_SASL_USERNAME).not.toBe(access.SASL_ADMIN_USER);
      // The ACLs follow the names the services use.
      for (const [k, v] of Object.entries(vars)) if (/^TOPIC_|_GROUP_ID$/.test(k)) expect([app, k, access[k]]).toEqual([app, k, v]);
    }
    expect(hostPort(access.KAFKA_BROKERS)).toEqual(['kafka', '9092']);
    expect([access.SASL_ADMIN_USER, access.SASL_ADMIN_PASSWORD]).toEqual([env('kafka').SASL_ADMIN_USER, SECRETS.KAFKA_ADMIN_PASSWORD]);
    // The same provisioning step as the native stack's, mounted from the repository.
    expect(compose.services['kafka-access'].entrypoint).toEqual(['/bin/bash', '/etc/kafka/pipeline/provision-access.sh']);
    expect(raw.services['kafka-access'].volumes).toEqual(['./infra/kafka:/etc/kafka/pipeline:ro']);
    expect(repoPathExists('infra/kafka/provision-access.sh')).toBe(true);
  });

  it('gives Kafka no listener without a login and allows nothing no ACL allows, the administrator its only super user', () => {
    const kafka = env('kafka');
    const protocols = Object.fromEntries(kafka.KAFKA_LISTENER_SECURITY_PROTOCOL_MAP.split(',').map((p) => p.split(':')));
    const listeners = kafka.KAFKA_LISTENERS.split(',').map((l) => /^([A-Z_]+):\/\/([^:]*):(\d+)$/.exec(l)!.slice(1));
    for (const [name] of listeners) expect([name, protocols[name]]).toEqual([name, 'SASL_PLAINTEXT']);
    // The controller's listener answers inside the container only.
    expect(listeners.find(([name]) => name === kafka.KAFKA_CONTROLLER_LISTENER_NAMES)).toEqual(['CONTROLLER', '127.0.0.1', '9093']);
    expect([kafka.KAFKA_AUTHORIZER_CLASS_NAME, kafka.KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND]).toEqual(['org.apache.kafka.metadata.authorizer.StandardAuthorizer', 'false']);
    expect(kafka.KAFKA_SUPER_USERS).toBe(`User:${kafka.SASL_ADMIN_USER}`);
    expect(kafka.SASL_ADMIN_PASSWORD).toBe(SECRETS.KAFKA_ADMIN_PASSWORD);
    // The password reaches the broker's configuration from its environment, never written into it.
    for (const [k, v] of Object.entries(kafka)) if (/_JAAS_CONFIG$/.test(k)) expect([k, v.includes(SECRETS.KAFKA_ADMIN_PASSWORD)]).toEqual([k, false]);
    expect(kafka.KAFKA_LISTENER_NAME_INTERNAL_SCRAM___SHA___512_SASL_JAAS_CONFIG).toContain('password="${env:SASL_ADMIN_PASSWORD}"');
    // The image's own start, after the storage is formatted with the administrator in it.
    expect(compose.services.kafka.entrypoint).toEqual(['/bin/bash', '/etc/kafka/pipeline/format-storage.sh']);
    expect(readRepoFile('infra/kafka/format-storage.sh')).toMatch(/--add-scram "SCRAM-SHA-512=\[name=\$SASL_ADMIN_USER,password=\$SASL_ADMIN_PASSWORD\]"[\s\S]*exec \/etc\/kafka\/docker\/run/);
  });

  it.each(APPS)('publishes %s on its PORT (and OPS_PORT) and checks its readiness where health answers', (app) => {
    const service = compose.services[app];
    const { PORT: port, OPS_PORT: ops } = env(app);
    expect(service.ports).toEqual(ops ? [`127.0.0.1:${port}:${port}`, `127.0.0.1:${ops}:${ops}`] : [`127.0.0.1:${port}:${port}`]);
    expect(JSON.stringify(service.healthcheck?.test)).toContain(`127.0.0.1:${ops ?? port}/health/ready`);
  });

  it('keeps the ingestion\'s metrics and health off its client-facing port, as its default does', () => {
    expect(env('batch-ingestion').OPS_PORT).toBe('8090');
    expect(readRepoFile('apps/batch-ingestion/src/config.ts')).toMatch(/^\s+OPS_PORT: port\(8090\),$/m);
    for (const app of ['batch-summarizer', 'window-aggregator'] as const) expect([app, env(app).OPS_PORT]).toEqual([app, undefined]);
  });

  it('checks the health of Kafka, MinIO, ClickHouse and Prometheus with what both the official and the local images carry', () => {
    const test = (service: string) => JSON.stringify(compose.services[service].healthcheck?.test);
    const image = (name: string) => readRepoFile(`infra/docker/images/${name}/Dockerfile`);
    // apache/kafka: /opt/kafka/bin/*.sh; the local image makes one script per line of its tools list.
    const tool = /\/opt\/kafka\/bin\/([a-z-]+)\.sh/.exec(test('kafka'))![1];
    const tools = readRepoFile('infra/docker/images/kafka/docker/tools').split('\n').map((l) => l.split(' ')[0]);
    expect(tools).toContain(tool);
    // It logs in as the administrator, from the broker container's environment (admin.properties holds no secret).
    expect(test('kafka')).toContain('--command-config /etc/kafka/pipeline/admin.properties');
    expect(readRepoFile('infra/kafka/admin.properties')).toContain('password="${env:SASL_ADMIN_PASSWORD}"');
    // The provisioning step's commands, in both images.
    for (const t of ['kafka-acls', 'kafka-configs']) expect(tools).toContain(t);
    // minio/minio carries mc; the local image builds it.
    expect(compose.services.minio.healthcheck?.test).toEqual(['CMD', 'mc', 'ready', 'local']);
    expect(image('minio')).toMatch(/^COPY minio mc \/usr\/bin\/$/m);
    // clickhouse-server and prom/prometheus carry wget; the local images install it.
    for (const service of ['clickhouse', 'prometheus']) {
      expect(test(service)).toMatch(/"?wget"?/);
      expect(image(service)).toMatch(/apt-get install [^\n]*\\\n[^\n]*\bwget\b/);
    }
  });

  it('starts each service after the servers it uses are healthy', () => {
    const uses = (app: App) => {
      const vars = env(app);
      // Kafka and MinIO through the users and accounts made once they are healthy.
      return ['kafka', 'kafka-access', vars.S3_ENDPOINT && 'minio-account', vars.CLICKHOUSE_URL && 'clickhouse'].filter(Boolean).sort();
    };
    for (const app of APPS) {
      const deps = compose.services[app].depends_on as Record<string, { condition?: string }>;
      expect([app, Object.keys(deps).sort()]).toEqual([app, uses(app)]);
      for (const [name, d] of Object.entries(deps)) {
        expect([name, d.condition]).toEqual([name, name === 'minio-account' || name === 'kafka-access' ? 'service_completed_successfully' : 'service_healthy']);
      }
    }
    expect(compose.services['minio-account'].depends_on).toEqual({ minio: { condition: 'service_healthy' } });
    expect(compose.services['kafka-access'].depends_on).toEqual({ kafka: { condition: 'service_healthy' } });
    for (const name of [...INFRASTRUCTURE, ...APPS]) expect([name, compose.services[name].healthcheck?.test]).toEqual([name, expect.anything()]);
  });

  it('keeps the data of Kafka, MinIO and ClickHouse in named volumes', () => {
    const mounts = { kafka: '/var/lib/kafka/data', minio: '/data', clickhouse: '/var/lib/clickhouse' };
    for (const [service, path] of Object.entries(mounts)) {
      const volume = (compose.services[service].volumes ?? []).map((v) => v.split(':')).find(([, target]) => target === path);
      expect([service, volume && Object.keys(compose.volumes ?? {}).includes(volume[0])]).toEqual([service, true]);
    }
    expect(env('kafka').KAFKA_LOG_DIRS).toBe(mounts.kafka);
  });

  it('offers Prometheus in its own profile, scraping /metrics of the three services', () => {
    const prometheus = compose.services.prometheus;
    expect(prometheus.profiles).toEqual(['monitoring', 'grafana']);
    const mount = (prometheus.volumes ?? []).map((v) => v.split(':')).find(([, target]) => target === '/etc/prometheus/prometheus.yml')!;
    expect(repoPathExists(mount[0])).toBe(true);
    expect(prometheus.command).toEqual(['--config.file=/etc/prometheus/prometheus.yml', '--storage.tsdb.path=/prometheus']);
    expect((prometheus.volumes ?? []).some((v) => v.endsWith(':/prometheus') && Object.keys(compose.volumes ?? {}).includes(v.split(':')[0]))).toBe(true);
    const config = parse(readRepoFile(mount[0])) as { scrape_configs: { job_name: string; metrics_path?: string; static_configs: { targets: string[] }[] }[] };
    const targets = config.scrape_configs.flatMap((c) => {
      expect(c.metrics_path ?? '/metrics').toBe('/metrics');
      return c.static_configs.flatMap((t) => t.targets);
    });
    expect(targets.sort()).toEqual(APPS.map((a) => `${a}:${env(a).OPS_PORT ?? env(a).PORT}`).sort());
  });

  it('offers Grafana in its own profile with the provisioning files of the repository', () => {
    const grafana = compose.services.grafana;
    expect(grafana.profiles).toEqual(['grafana']);
    for (const v of grafana.volumes ?? []) {
      const source = v.split(':')[0];
      if (source.startsWith('./')) expect([source, repoPathExists(source)]).toEqual([source, true]);
    }
    expect(env('grafana').GF_INSTALL_PLUGINS).toMatch(/^grafana-clickhouse-datasource \d+\.\d+\.\d+$/);
  });

  it('provisions a ClickHouse data source for the stack and a dashboard that reads the analyst views', () => {
    const source = readRepoFile('infra/grafana/provisioning/datasources/clickhouse.yml');
    const clickhouse = env('clickhouse');
    expect(source).toContain('type: grafana-clickhouse-datasource');
    expect(source).toMatch(/host: clickhouse\n\s+port: 8123\n\s+protocol: http/);
    // The read-only user, never the administrator.
    expect(source).toContain('username: $CLICKHOUSE_READER_USER');
    expect(source).toContain('password: $CLICKHOUSE_READER_PASSWORD');
    expect(env('grafana').CLICKHOUSE_READER_USER).toBe('analyst');
    expect(env('grafana').CLICKHOUSE_READER_PASSWORD).toBe(clickhouse.CLICKHOUSE_READER_PASSWORD);
    expect(readRepoFile('infra/clickhouse/users.d/pipeline-users.xml')).toMatch(/<analyst>[\s\S]*<profile>reader<\/profile>/);
    // The reader is read-only for good (no table functions, no settings) but for the deadline the
    // data source sends, which current releases let it set within the profile's bound; 18.16, which
    // knows no constraints, has them removed by the file installed after this one.
    const users = readRepoFile('infra/clickhouse/users.d/pipeline-users.xml');
    expect(users).toMatch(/<reader>\s*<readonly>1<\/readonly>/);
    expect(users).toMatch(/<constraints>\s*<max_execution_time>[\s\S]*<changeable_in_readonly\/>/);
    expect(readRepoFile('infra/local/clickhouse/users-18.16.xml')).toMatch(/<reader>\s*<constraints remove="remove"\/>/);
    expect(readRepoFile('infra/docker/images/clickhouse/Dockerfile')).toContain('COPY users-18.16.xml /etc/clickhouse-server/users.d/zz-18.16.xml');
    // Both users log in from loopback and private networks only.
    expect(users).not.toMatch(/::\/0|0\.0\.0\.0\/0/);
    expect([...users.matchAll(/<networks>/g)]).toHaveLength(2);
    const uid = /uid: (\S+)/.exec(source)![1];
    const dashboard = JSON.parse(readRepoFile('infra/grafana/dashboards/requests-per-minute.json'));
    const queries: string[] = dashboard.panels.flatMap((p: { targets: { rawSql: string; datasource: { uid: string } }[] }) =>
      p.targets.map((t) => {
        expect(t.datasource.uid).toBe(uid);
        return t.rawSql;
      }),
    );
    expect(queries.some((q) => /ARRAY JOIN path_keys/.test(q))).toBe(true);
    expect(queries.some((q) => /ARRAY JOIN ua_keys/.test(q))).toBe(true);
    for (const q of queries) expect(q).toMatch(/FROM log_analytics\.(minute|hourly|daily)_aggregates/);
  });
});

describe('Dockerfile', () => {
  const { args, stages } = dockerStages(readRepoFile('Dockerfile'));
  const stage = (name: string) => stages.find((s) => s.name === name)!;
  const ignored = readRepoFile('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

  it('starts from Node.js 24, the official image unless NODE_IMAGE names another', () => {
    expect(args.NODE_IMAGE).toBe(`node:${versions.NODE_VERSION}-bookworm-slim`);
    expect(versions.NODE_VERSION).toMatch(/^24\.\d+\.\d+$/);
    for (const s of stages) expect([s.name, s.from]).toEqual([s.name, expect.stringMatching(/^(\$\{NODE_IMAGE\}|prod-deps|build|runtime)$/)]);
  });

  it('needs no frontend image (no syntax line) and keeps the build certificates out of the images', () => {
    const text = readRepoFile('Dockerfile');
    expect(text).not.toMatch(/^#\s*syntax\s*=/im);
    const npmRuns = stages.flatMap((s) => s.lines.filter((l) => l.startsWith('RUN') && l.includes('npm ci')));
    expect(npmRuns).toHaveLength(2);
    for (const run of npmRuns) {
      expect(run).toMatch(/^RUN --mount=type=secret,id=ca-certificates,required=false /);
      expect(run).toContain('NODE_EXTRA_CA_CERTS=/run/secrets/ca-certificates');
    }
    expect(text).not.toMatch(/ENV NODE_EXTRA_CA_CERTS|COPY .*ca-certificates/);
  });

  it.each(APPS)('builds %s with the command of its Nx build target', (app) => {
    const project = JSON.parse(readRepoFile(`apps/${app}/project.json`));
    const command: string = project.targets.build.command ?? project.targets.build.options?.command;
    expect(command).toBe(`node infra/build/build-app.js ${app}`);
    expect(stage('build').lines.join('\n')).toContain(command);
  });

  it('copies into the build stage everything the build script reads, none of it excluded by .dockerignore', () => {
    const copied = stage('build')
      .lines.filter((l) => l.startsWith('COPY '))
      .flatMap((l) => l.split(' ').slice(1, -1));
    const needed = ['package.json', 'package-lock.json', 'tsconfig.base.json', 'infra/build', 'apps', 'libs'];
    for (const app of APPS) {
      if (repoPathExists(`apps/${app}/assets.json`)) needed.push(...JSON.parse(readRepoFile(`apps/${app}/assets.json`)).map((a: { from: string }) => a.from));
    }
    for (const path of needed) {
      expect([path, copied.some((c) => path === c || path.startsWith(`${c}/`))]).toEqual([path, true]);
      expect([path, repoPathExists(path)]).toEqual([path, true]);
      expect([path, ignored.filter((p) => path === p || path.startsWith(`${p}/`))]).toEqual([path, []]);
    }
    expect(ignored).toEqual(expect.arrayContaining(['**/node_modules', 'dist']));
  });

  it('installs production dependencies only into the images and runs them as a non-root user', () => {
    expect(stage('prod-deps').lines.find((l) => l.includes('npm ci'))).toMatch(/ && npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force$/);
    const runtime = stage('runtime').lines;
    expect(runtime).toContain('COPY --from=prod-deps /app/node_modules ./node_modules');
    const user = runtime.filter((l) => l.startsWith('USER ')).pop();
    expect(user).toMatch(/^USER (?!root\b|0\b)\S+$/);
  });

  it.each(APPS)('has a %s target that runs the bundle on the port compose publishes', (app) => {
    const s = stage(app);
    expect(s.from).toBe('runtime');
    expect(s.lines).toContain(`COPY --from=build /src/dist/apps/${app} ./`);
    expect(s.lines.filter((l) => l.startsWith('USER '))).toEqual([]);
    const { PORT: port, OPS_PORT: ops } = environmentOf(compose.services[app]);
    const ports = ops ? [`ENV PORT=${port} OPS_PORT=${ops}`, `EXPOSE ${port} ${ops}`] : [`ENV PORT=${port}`, `EXPOSE ${port}`];
    expect(s.lines).toEqual(expect.arrayContaining([...ports, 'CMD ["node", "--enable-source-maps", "main.js"]']));
    expect(s.lines.some((l) => l.startsWith('HEALTHCHECK') && l.includes('(process.env.OPS_PORT || process.env.PORT)') && l.includes('/health/ready'))).toBe(true);
  });
});
