import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GiveUp, ManagedProcess, backgroundNice, freePort, isBackgroundStage, waitFor } from './process';
import { REPO_ROOT, stackInstall, uniqueName } from './paths';
import { stackLogins } from './run-resources';

const run = promisify(execFile);
const PROBE = join(REPO_ROOT, 'infra/local/probe.js');

async function probe(kind: 'kafka' | 's3' | 'clickhouse' | 'http', target: string, env: Record<string, string> = {}): Promise<boolean> {
  try {
    await run(process.execPath, [PROBE, kind, target], { cwd: REPO_ROOT, timeout: 10_000, env: { ...process.env, ...env } });
    return true;
  } catch {
    return false;
  }
}

/**
 * A real server owned by one test: its own data folder and ports, so a test may stop, kill and
 * restart it without disturbing the shared stack. Data survives stop/start; dispose deletes it.
 */
export interface PrivateServer {
  /** `host:port` for Kafka, a URL for MinIO and ClickHouse. */
  readonly endpoint: string;
  /** The login it requires, where it is not the default one. */
  readonly credentials?: { username: string; password: string };
  start(): Promise<void>;
  stop(): Promise<void>;
  kill(): Promise<void>;
  dispose(): Promise<void>;
}

class ProcessServer implements PrivateServer {
  constructor(
    readonly endpoint: string,
    private readonly process: ManagedProcess,
    private readonly ready: () => Promise<boolean>,
    private readonly dataDir: string,
    private readonly startTimeoutMs: number,
    readonly credentials?: { username: string; password: string },
  ) {}

  async start(): Promise<void> {
    this.process.start();
    await waitFor(`${this.process.name} to answer`, async () => {
      if (!this.process.running) throw new GiveUp(`${this.process.name} exited; see ${this.process.logFile}`);
      return this.ready();
    }, this.startTimeoutMs);
  }

  stop(): Promise<void> {
    return this.process.stop();
  }

  kill(): Promise<void> {
    return this.process.kill();
  }

  async dispose(): Promise<void> {
    await this.process.kill();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

function serverDir(kind: string): string {
  const dir = join(REPO_ROOT, '.stack', 'test-servers', uniqueName(kind));
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** The administrator's S3 keys of the shared stack (the test environment's), as private MinIO servers use them too. */
export function adminS3(): { accessKeyId: string; secretAccessKey: string } {
  return stackLogins().s3;
}

export async function privateMinio(): Promise<PrivateServer> {
  const dir = serverDir('minio');
  const [port, consolePort] = [await freePort(), await freePort()];
  const endpoint = `http://127.0.0.1:${port}`;
  const proc = new ManagedProcess(`minio-${port}`, stackInstall().minioBin, ['server', join(dir, 'data'), '--address', `127.0.0.1:${port}`, '--console-address', `127.0.0.1:${consolePort}`, '--quiet'], {
    // The same administrator as the shared stack's, so the tests' clients need nothing else.
    env: { MINIO_ROOT_USER: adminS3().accessKeyId, MINIO_ROOT_PASSWORD: adminS3().secretAccessKey, MINIO_BROWSER: 'off', MINIO_UPDATE: 'off' },
  });
  const server = new ProcessServer(endpoint, proc, () => probe('s3', endpoint), dir, 60_000);
  await server.start();
  return server;
}

/** The administrator's Kafka login of the shared stack (the test environment's), as private brokers use it too. */
export function adminKafka(): { username: string; password: string } {
  const { username, password } = stackLogins().kafka;
  return { username, password };
}

/**
 * A broker of a test's own, configured as the native stack's (infra/local/kafka/server.properties):
 * SASL/SCRAM-SHA-512 only, nothing allowed that no ACL allows, the shared stack's administrator as
 * its super user, so the tests' clients need nothing else. `users` are further SCRAM users, made
 * when the storage is formatted; what they may do is for the test to grant.
 */
export async function privateKafka(options: { users?: { username: string; password: string }[] } = {}): Promise<PrivateServer> {
  const dir = serverDir('kafka');
  const [port, controllerPort] = [await freePort(), await freePort()];
  const { kafkaLibs } = stackInstall();
  const admin = adminKafka();
  const config = readFileSync(join(REPO_ROOT, 'infra/local/kafka/server.properties'), 'utf8')
    .replaceAll('@DATA@', join(dir, 'data'))
    .replaceAll('@CONTROLLER_PORT@', String(controllerPort))
    .replaceAll('@PORT@', String(port))
    .replaceAll('@ADMIN_USER@', admin.username);
  const configFile = join(dir, 'server.properties');
  writeFileSync(configFile, config);
  const classpath = `${kafkaLibs}/*`;
  // The broker reads the administrator's password from its environment, never from a file.
  const brokerEnv = { SASL_ADMIN_PASSWORD: admin.password };
  const { stdout: clusterId } = await run('java', ['-cp', classpath, 'kafka.tools.StorageTool', 'random-uuid']);
  // As infra/local/lib.sh formats: the passwords reach Java in an argument file, not in its arguments.
  const argsFile = join(dir, 'format.args');
  const scram = [admin, ...(options.users ?? [])].flatMap((u) => ['--add-scram', `SCRAM-SHA-512=[name=${u.username},password=${u.password}]`]);
  writeFileSync(argsFile, ['kafka.tools.StorageTool', 'format', '-t', clusterId.trim(), '-c', configFile, ...scram].join('\n'), { mode: 0o600 });
  try {
    await run('java', ['-cp', classpath, `@${argsFile}`], { env: { ...process.env, ...brokerEnv } });
  } finally {
    rmSync(argsFile, { force: true });
  }
  const proc = new ManagedProcess(
    `kafka-${port}`,
    'java',
    ['-Xms128m', '-Xmx512m', `-Dlog4j2.configurationFile=${join(REPO_ROOT, 'infra/local/kafka/log4j2.yaml')}`, '-cp', classpath, 'kafka.Kafka', configFile],
    { env: brokerEnv },
  );
  const endpoint = `127.0.0.1:${port}`;
  const login = { KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: admin.username, KAFKA_SASL_PASSWORD: admin.password };
  const server = new ProcessServer(endpoint, proc, () => probe('kafka', endpoint, login), dir, 90_000, admin);
  await server.start();
  return server;
}

export interface PrivateClickHouse extends PrivateServer {
  /**
   * Puts `xml` (a `<yandex>` document) into the server's users.d, or removes it (null): the server
   * reloads its users within seconds, as it does when an operator edits them (a profile made
   * read-only, a grant taken away).
   */
  setUsersOverride(xml: string | null): void;
}

export async function privateClickHouse(): Promise<PrivateClickHouse> {
  const dir = serverDir('clickhouse');
  const [httpPort, tcpPort] = [await freePort(), await freePort()];
  for (const sub of ['log', 'data', 'tmp', 'user_files', 'format_schemas']) mkdirSync(join(dir, sub), { recursive: true });
  const config = readFileSync(join(REPO_ROOT, 'infra/local/clickhouse/config.xml'), 'utf8')
    .replaceAll('@DATA@', dir)
    .replaceAll('@HTTP_PORT@', String(httpPort))
    .replaceAll('@TCP_PORT@', String(tcpPort));
  writeFileSync(join(dir, 'config.xml'), config);
  // The shared stack's administrator (a password of its own where the tests run without one).
  const credentials = { username: process.env.CLICKHOUSE_USER || 'admin', password: process.env.CLICKHOUSE_PASSWORD || randomBytes(12).toString('hex') };
  writeFileSync(join(dir, 'users.xml'), readFileSync(join(REPO_ROOT, 'infra/local/clickhouse/users.xml'), 'utf8').replaceAll('@ADMIN_USER@', credentials.username));
  const proc = new ManagedProcess(`clickhouse-${httpPort}`, stackInstall().clickhouseBin, [`--config-file=${join(dir, 'config.xml')}`], {
    cwd: dir,
    env: { CLICKHOUSE_ADMIN_PASSWORD: credentials.password },
    nice: isBackgroundStage('clickhouse') ? backgroundNice() : 0,
  });
  const endpoint = `http://127.0.0.1:${httpPort}`;
  const login = { CLICKHOUSE_USER: credentials.username, CLICKHOUSE_PASSWORD: credentials.password };
  const server = new ProcessServer(endpoint, proc, () => probe('clickhouse', endpoint, login), dir, 60_000, credentials);
  await server.start();
  const override = join(dir, 'users.d', 'override.xml');
  return Object.assign(server, {
    setUsersOverride(xml: string | null) {
      mkdirSync(join(dir, 'users.d'), { recursive: true });
      if (xml === null) rmSync(override, { force: true });
      else writeFileSync(override, xml);
    },
  });
}

/**
 * Current ClickHouse (chdb-core, the engine in process) behind ClickHouse's HTTP interface
 * (infra/clickhouse/chdb/http_bridge.py), so the project's own client reaches it as it reaches a
 * server. It requires a login: a user and a password made up for this server.
 *
 * With `as`, the login is that user of the project's users file (infra/clickhouse/users.d), and
 * every statement runs with the rights that file gives it; without, with every right. `dir` reuses
 * the data of an earlier such server (stopped first: one engine at a time owns a folder).
 */
export async function privateChdb(options: { as?: string; dir?: string } = {}): Promise<PrivateServer & { dir: string }> {
  const { chdbPython, chdbVersion } = stackInstall();
  if (!existsSync(chdbPython)) {
    throw new Error(
      `chdb-core ${chdbVersion} is not installed (no ${chdbPython}): run infra/local/pipeline install, or point CHDB_PYTHON at a Python that has chdb-core ${chdbVersion}`,
    );
  }
  const dir = options.dir ?? serverDir('chdb');
  const port = await freePort();
  const credentials = { username: options.as ?? 'writer', password: randomBytes(12).toString('hex') };
  const rights = options.as ? ['--users-file', join(REPO_ROOT, 'infra/clickhouse/users.d/pipeline-users.xml')] : [];
  const proc = new ManagedProcess(
    `chdb-${port}`,
    chdbPython,
    [join(REPO_ROOT, 'infra/clickhouse/chdb/http_bridge.py'), '--port', String(port), '--data-dir', join(dir, 'data'), '--user', credentials.username, ...rights],
    { env: { CHDB_BRIDGE_PASSWORD: credentials.password } },
  );
  const endpoint = `http://127.0.0.1:${port}`;
  const server = new ProcessServer(endpoint, proc, () => probe('http', `${endpoint}/ping`), dir, 60_000, credentials);
  await server.start();
  return Object.assign(server, { dir });
}
