import { spawnSync } from 'node:child_process';
import { topicEnv } from '@pipeline/contract';
import { clickhouseEnv, kafkaEnv, loadConfig, s3Env, serviceEnv } from '@pipeline/platform';
import { App, appEnvironment, APPS, dockerStages, environmentOf, INFRASTRUCTURE, loadCompose, readRepoFile, repoPathExists, ROOT, splitImage } from './files';

/**
 * The deployment files checked the way this machine can (no Docker engine): docker-compose
 * validates the file offline, and the services, images and variables are cross-checked
 * against the apps' own configuration and the native build.
 */
const PLATFORM_SHAPES = { serviceEnv, kafkaEnv, topicEnv, s3Env, clickhouseEnv } as Record<string, Record<string, unknown>>;
/** Variables with safe defaults that only tune timing, or that are optional; a deployment may leave them out. */
const TUNING = /(_TIMEOUT_MS|_CLIENT_ID)$|^OPS_(PORT|HOST)$/;

const compose = loadCompose();
const env = (service: string) => environmentOf(compose.services[service]);
const hostPort = (url: string) => {
  const u = new URL(url.includes('://') ? url : `tcp://${url}`);
  return [u.hostname, u.port] as const;
};

describe('docker-compose.yml', () => {
  it('is valid for docker-compose (config -q)', () => {
    const run = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    if (run.error && (run.error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error('docker-compose is not installed: it validates docker-compose.yml offline (Debian: apt-get install docker-compose)');
    }
    expect({ status: run.status, stderr: run.stderr.trim() }).toEqual({ status: 0, stderr: '' });
  });

  it('runs Kafka, MinIO, ClickHouse and the three services', () => {
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining([...INFRASTRUCTURE, ...APPS]));
  });

  it('pins the official images: apache/kafka (KRaft), the last community MinIO, clickhouse-server', () => {
    const images = Object.fromEntries(INFRASTRUCTURE.map((s) => [s, splitImage(compose.services[s].image ?? '')]));
    expect(images.kafka[0]).toBe('apache/kafka');
    expect(images.kafka[1]).toMatch(/^4\.\d+\.\d+$/);
    expect(images.minio[0]).toBe('minio/minio');
    expect(images.minio[1]).toMatch(/^RELEASE\.\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z$/);
    expect(images.clickhouse[0]).toBe('clickhouse/clickhouse-server');
    expect(images.clickhouse[1]).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    for (const service of Object.values(compose.services)) if (service.image) expect(splitImage(service.image)[1]).not.toMatch(/^(latest)?$/);
    expect(env('kafka').KAFKA_PROCESS_ROLES).toBe('broker,controller');
  });

  it.each(APPS)('builds %s from its own target of the root Dockerfile', (app) => {
    expect(compose.services[app].build).toEqual({ context: '.', dockerfile: 'Dockerfile', target: app });
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
    const users = { minio: env('minio'), clickhouse: env('clickhouse') };
    const topics = ['TOPIC_BATCH_INGESTED', 'TOPIC_INSIGHT_EVENTS', 'TOPIC_BATCH_INGESTED_DLQ'];
    for (const app of APPS) {
      const vars = env(app);
      expect(vars.KAFKA_BROKERS.split(',').map(hostPort)).toEqual([['kafka', '9092']]);
      for (const t of topics) expect([app, t, vars[t]]).toEqual([app, t, env('batch-summarizer')[t]]);
      if (vars.S3_ENDPOINT) {
        expect(hostPort(vars.S3_ENDPOINT)).toEqual(['minio', '9000']);
        expect([vars.S3_ACCESS_KEY_ID, vars.S3_SECRET_ACCESS_KEY]).toEqual([users.minio.MINIO_ROOT_USER, users.minio.MINIO_ROOT_PASSWORD]);
      }
      if (vars.CLICKHOUSE_URL) {
        expect(hostPort(vars.CLICKHOUSE_URL)).toEqual(['clickhouse', '8123']);
        expect([vars.CLICKHOUSE_USER, vars.CLICKHOUSE_PASSWORD]).toEqual([users.clickhouse.CLICKHOUSE_USER, users.clickhouse.CLICKHOUSE_PASSWORD]);
      }
    }
    expect(env('batch-ingestion').S3_BUCKET).toBe(env('batch-summarizer').S3_BUCKET);
    expect(env('window-aggregator').CLICKHOUSE_URL).toBeDefined();
  });

  it.each(APPS)('publishes %s on its PORT and checks its readiness there', (app) => {
    const service = compose.services[app];
    const port = env(app).PORT;
    expect(service.ports).toEqual([`127.0.0.1:${port}:${port}`]);
    expect(JSON.stringify(service.healthcheck?.test)).toContain(`127.0.0.1:${port}/health/ready`);
  });

  it('starts each service after the servers it uses are healthy', () => {
    const uses = (app: App) => {
      const vars = env(app);
      return ['kafka', vars.S3_ENDPOINT && 'minio', vars.CLICKHOUSE_URL && 'clickhouse'].filter(Boolean).sort();
    };
    for (const app of APPS) {
      const deps = compose.services[app].depends_on as Record<string, { condition?: string }>;
      expect([app, Object.keys(deps).sort()]).toEqual([app, uses(app)]);
      for (const d of Object.values(deps)) expect(d.condition).toBe('service_healthy');
    }
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
    expect(source).toContain(`username: ${clickhouse.CLICKHOUSE_USER}`);
    expect(source).toContain('password: $CLICKHOUSE_PASSWORD');
    expect(env('grafana').CLICKHOUSE_PASSWORD).toBe(clickhouse.CLICKHOUSE_PASSWORD);
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

  it('starts from Node.js 24', () => {
    expect(args.NODE_IMAGE).toMatch(/^node:24\.\d+\.\d+-[a-z]+-slim$/);
    for (const s of stages) expect([s.name, s.from]).toEqual([s.name, expect.stringMatching(/^(\$\{NODE_IMAGE\}|prod-deps|build|runtime)$/)]);
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
    expect(stage('prod-deps').lines).toContain('RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force');
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
    const port = environmentOf(loadCompose().services[app]).PORT;
    expect(s.lines).toEqual(expect.arrayContaining([`ENV PORT=${port}`, `EXPOSE ${port}`, 'CMD ["node", "--enable-source-maps", "main.js"]']));
    expect(s.lines.some((l) => l.startsWith('HEALTHCHECK') && l.includes('/health/ready'))).toBe(true);
  });
});
