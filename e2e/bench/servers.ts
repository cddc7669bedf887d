import { execFile } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, REPO_ROOT, stackCredentials } from '@pipeline/testing';

const run = promisify(execFile);

/** Kafka, MinIO and ClickHouse of the benchmark's own: nothing else on the machine talks to them. */
export interface OwnServers {
  kafkaBrokers: string;
  s3Endpoint: string;
  clickhouseUrl: string;
  /** Listening ports, by which the benchmark finds the server processes in /proc. */
  ports: { kafka: number; minio: number; clickhouse: number };
  /** The administrators' logins the scripts minted for these servers (what the tests use). */
  login: Record<
    'S3_ACCESS_KEY_ID' | 'S3_SECRET_ACCESS_KEY' | 'CLICKHOUSE_USER' | 'CLICKHOUSE_PASSWORD' | 'KAFKA_SASL_MECHANISM' | 'KAFKA_SASL_USERNAME' | 'KAFKA_SASL_PASSWORD' | 'LAP_CREDENTIALS_FILE',
    string
  >;
  dir: string;
  stop(): Promise<void>;
}

const LIB = join(REPO_ROOT, 'infra/local/lib.sh');

/**
 * Starts the native stack's three servers with the native stack's own scripts (infra/local/lib.sh:
 * same binaries, configuration and JVM settings as `infra/local/pipeline up`), on free ports and
 * with a data folder of their own under .stack/, so the CPU the benchmark reads from them is the
 * benchmark's alone, and a developer's stack on the default ports is left alone.
 */
export async function startOwnServers(log: (line: string) => void): Promise<OwnServers> {
  const dir = join(REPO_ROOT, '.stack', 'bench', `servers-${Date.now().toString(36)}`);
  mkdirSync(dir, { recursive: true });
  const [kafka, controller, minio, minioConsole, clickhouse, clickhouseTcp] = await Promise.all(Array.from({ length: 6 }, () => freePort()));
  const env = {
    ...process.env,
    // The scripts' probes run on the Node.js that runs this benchmark.
    PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
    LAP_STACK_DIR: dir,
    KAFKA_PORT: String(kafka),
    KAFKA_CONTROLLER_PORT: String(controller),
    MINIO_PORT: String(minio),
    MINIO_CONSOLE_PORT: String(minioConsole),
    CLICKHOUSE_HTTP_PORT: String(clickhouse),
    CLICKHOUSE_TCP_PORT: String(clickhouseTcp),
  };
  const script = async (body: string) => {
    try {
      await run('bash', ['-c', `source "${LIB}" && ${body}`], { env, cwd: REPO_ROOT, timeout: 240_000, maxBuffer: 16 * 2 ** 20 });
    } catch (err) {
      const e = err as Error & { stdout?: string; stderr?: string };
      throw new Error(`${body} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}\n(logs in ${join(dir, 'logs')})`);
    }
  };
  const stop = async () => {
    await script('for n in clickhouse minio kafka; do stop_process "$n"; done').catch((err) => log(`stopping the servers: ${(err as Error).message}`));
    if (process.env.BENCH_KEEP !== '1') rmSync(dir, { recursive: true, force: true });
  };
  log(`starting Kafka, MinIO and ClickHouse of its own (infra/local/lib.sh) on ports ${kafka}, ${minio}, ${clickhouse}`);
  try {
    await script('start_servers');
  } catch (err) {
    await stop();
    throw err;
  }
  const credentialsFile = join(dir, 'credentials.env');
  process.env.LAP_CREDENTIALS_FILE = credentialsFile;
  const minted = stackCredentials();
  return {
    login: {
      S3_ACCESS_KEY_ID: minted.MINIO_ROOT_USER,
      S3_SECRET_ACCESS_KEY: minted.MINIO_ROOT_PASSWORD,
      CLICKHOUSE_USER: minted.CLICKHOUSE_ADMIN_USER,
      CLICKHOUSE_PASSWORD: minted.CLICKHOUSE_ADMIN_PASSWORD,
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: minted.KAFKA_ADMIN_USER,
      KAFKA_SASL_PASSWORD: minted.KAFKA_ADMIN_PASSWORD,
      LAP_CREDENTIALS_FILE: credentialsFile,
    },
    kafkaBrokers: `127.0.0.1:${kafka}`,
    s3Endpoint: `http://127.0.0.1:${minio}`,
    clickhouseUrl: `http://127.0.0.1:${clickhouse}`,
    ports: { kafka, minio, clickhouse },
    dir,
    stop,
  };
}
