import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(__dirname, '../../..');

/** Pinned versions and cache locations, read from the same file the stack scripts use. */
export function stackInstall() {
  const versions = Object.fromEntries(
    readFileSync(join(REPO_ROOT, 'infra/local/versions.env'), 'utf8')
      .split('\n')
      .filter((line) => /^[A-Z_]+=/.test(line))
      .map((line) => line.split('=', 2) as [string, string]),
  );
  const cache = process.env.LAP_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'log-analytics');
  return {
    chdbVersion: versions.CHDB_VERSION,
    /** Python of the chdb-core virtualenv (`install_chdb` in infra/local/lib.sh); CHDB_PYTHON overrides. */
    chdbPython: process.env.CHDB_PYTHON ?? join(cache, `chdb-${versions.CHDB_VERSION}`, 'bin', 'python'),
    kafkaLibs: join(cache, `kafka-${versions.KAFKA_VERSION}`, 'libs'),
    minioBin: join(cache, `minio-${versions.MINIO_VERSION}`, 'minio'),
    mcBin: join(cache, `mc-${versions.MC_VERSION}`, 'mc'),
    clickhouseBin:
      process.env.CLICKHOUSE_SERVER_BIN ??
      ['/usr/sbin/clickhouse-server', '/usr/bin/clickhouse-server', '/usr/bin/clickhouse'].find((p) => existsSync(p)) ??
      'clickhouse-server',
  };
}

/** Endpoints of the shared native stack, as the services see them. */
export function stackEndpoints() {
  return {
    kafkaBrokers: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092',
    s3Endpoint: process.env.S3_ENDPOINT ?? 'http://127.0.0.1:9000',
    clickhouseUrl: process.env.CLICKHOUSE_URL ?? 'http://127.0.0.1:8123',
  };
}

/** A name no other test run uses: topics, buckets (lower-case, dashes) and databases. */
export function uniqueName(prefix: string, separator = '-'): string {
  const suffix = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  return `${prefix}${separator}${suffix}`;
}

/**
 * The shared native stack's accounts (infra/local mints them into .stack/credentials.env and the
 * test environment names the file in LAP_CREDENTIALS_FILE): for tests that hold the services'
 * own accounts to their limits.
 */
export function stackCredentials(): Record<string, string> {
  const file = process.env.LAP_CREDENTIALS_FILE ?? join(REPO_ROOT, '.stack', 'credentials.env');
  if (!existsSync(file)) throw new Error(`no ${file}: start the native stack (infra/local/pipeline stack) or run the tests through infra/local/pipeline test`);
  return Object.fromEntries(
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => /^[A-Z][A-Z0-9_]*=/.test(line))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}
