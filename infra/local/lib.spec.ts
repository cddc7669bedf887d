import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const lib = join(__dirname, 'lib.sh');
/** Runs `script` in bash with lib.sh sourced, as infra/local/pipeline does (set -euo pipefail). */
const bash = (script: string, env: Record<string, string> = {}) =>
  spawnSync('bash', ['-c', `set -euo pipefail; source ${JSON.stringify(lib)}; ${script}`], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 });
const plain = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, '');

describe('infra/local/lib.sh', () => {
  it('hands each service only its own secrets, even when the caller exported them all', () => {
    const stack = mkdtempSync(join(tmpdir(), 'lap-stack-'));
    try {
      // Every secret exported, as after `set -a; . .stack/credentials.env` in the caller's shell.
      const secrets = bash('ensure_credentials >/dev/null; cat "$CREDENTIALS_FILE"', { LAP_STACK_DIR: stack }).stdout;
      const exported = Object.fromEntries(secrets.split('\n').filter((l) => /^[A-Z]/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
      // Which of the stack's secrets a service's environment carries, by the name in the file.
      const secretNames = Object.keys(exported).filter((k) => /PASSWORD|SECRET|TOKEN|ACCESS_KEY/.test(k));
      const seen = (service: string) => {
        const env = bash(`ensure_credentials >/dev/null; with_service_secrets ${service} env`, { ...exported, LAP_STACK_DIR: stack }).stdout.split('\n');
        return secretNames.filter((k) => env.some((l) => l.endsWith(`=${exported[k]}`))).sort();
      };
      expect(seen('batch-ingestion')).toEqual(['GATEWAY_TOKEN', 'INGESTION_KAFKA_PASSWORD', 'INGESTION_S3_ACCESS_KEY_ID', 'INGESTION_S3_SECRET_ACCESS_KEY']);
      expect(seen('batch-summarizer')).toEqual(['SUMMARIZER_KAFKA_PASSWORD', 'SUMMARIZER_S3_ACCESS_KEY_ID', 'SUMMARIZER_S3_SECRET_ACCESS_KEY']);
      expect(seen('window-aggregator')).toEqual(['AGGREGATOR_KAFKA_PASSWORD', 'CLICKHOUSE_WRITER_PASSWORD']);
      // Each service logs in to Kafka as its own user, under the variables every service reads.
      const kafkaLogin = (service: string) =>
        bash(`ensure_credentials >/dev/null; service_env; with_service_secrets ${service} env`, { ...exported, LAP_STACK_DIR: stack })
          .stdout.split('\n')
          .filter((l) => /^KAFKA_SASL_(MECHANISM|USERNAME)=/.test(l))
          .sort();
      expect(kafkaLogin('batch-ingestion')).toEqual(['KAFKA_SASL_MECHANISM=scram-sha-512', `KAFKA_SASL_USERNAME=${exported.INGESTION_KAFKA_USER}`]);
      expect(kafkaLogin('batch-summarizer')).toEqual(['KAFKA_SASL_MECHANISM=scram-sha-512', `KAFKA_SASL_USERNAME=${exported.SUMMARIZER_KAFKA_USER}`]);
      expect(kafkaLogin('window-aggregator')).toEqual(['KAFKA_SASL_MECHANISM=scram-sha-512', `KAFKA_SASL_USERNAME=${exported.AGGREGATOR_KAFKA_USER}`]);
      const shell = bash('ensure_credentials >/dev/null; env', { ...exported, LAP_STACK_DIR: stack }).stdout;
      expect(shell).not.toContain(exported.MINIO_ROOT_PASSWORD);
      expect(shell).not.toContain(exported.KAFKA_ADMIN_PASSWORD);
    } finally {
      rmSync(stack, { recursive: true, force: true });
    }
  });

  it('logs the tests in to Kafka as its administrator', () => {
    const stack = mkdtempSync(join(tmpdir(), 'lap-stack-'));
    try {
      const file = bash('ensure_credentials >/dev/null; cat "$CREDENTIALS_FILE"', { LAP_STACK_DIR: stack }).stdout;
      const admin = /^KAFKA_ADMIN_PASSWORD=(.+)$/m.exec(file)![1];
      const env = bash('test_env >/dev/null; env', { LAP_STACK_DIR: stack }).stdout.split('\n');
      expect(env.filter((l) => l.startsWith('KAFKA_SASL_')).sort()).toEqual(['KAFKA_SASL_MECHANISM=scram-sha-512', `KAFKA_SASL_PASSWORD=${admin}`, 'KAFKA_SASL_USERNAME=admin']);
    } finally {
      rmSync(stack, { recursive: true, force: true });
    }
  });

  it('adds the secrets a stack lacks to its existing credentials file and keeps the ones it has', () => {
    const stack = mkdtempSync(join(tmpdir(), 'lap-stack-'));
    try {
      // A file minted before the Kafka users existed.
      writeFileSync(join(stack, 'credentials.env'), 'GATEWAY_TOKEN=gw-kept\nKAFKA_ADMIN_USER=operator\n', { mode: 0o600 });
      const file = bash('ensure_credentials >/dev/null; cat "$CREDENTIALS_FILE"', { LAP_STACK_DIR: stack }).stdout;
      const values = Object.fromEntries(file.split('\n').filter((l) => /^[A-Z]/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
      expect([values.GATEWAY_TOKEN, values.KAFKA_ADMIN_USER]).toEqual(['gw-kept', 'operator']);
      for (const key of ['KAFKA_ADMIN_PASSWORD', 'INGESTION_KAFKA_PASSWORD', 'SUMMARIZER_KAFKA_PASSWORD', 'AGGREGATOR_KAFKA_PASSWORD']) expect(values[key]).toMatch(/^[A-Za-z0-9]{32}$/);
      expect([values.INGESTION_KAFKA_USER, values.SUMMARIZER_KAFKA_USER, values.AGGREGATOR_KAFKA_USER]).toEqual(['batch-ingestion', 'batch-summarizer', 'window-aggregator']);
      expect(file.match(/^KAFKA_ADMIN_USER=/gm)).toHaveLength(1);
    } finally {
      rmSync(stack, { recursive: true, force: true });
    }
  });

  it('says a long step is still at work, with the time spent, and passes its output and status through', () => {
    const run = bash('with_progress "building MinIO" bash -c "echo from-the-step; sleep 2.5"', { LAP_PROGRESS_SECONDS: '1' });
    expect(run.status).toBe(0);
    const lines = plain(run.stdout).trim().split('\n');
    expect(lines[0]).toBe('from-the-step');
    // One line a second while it runs (a loaded machine may stretch the seconds a little).
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines.slice(1)) expect(line).toMatch(/^==> still building MinIO \(0m0[1-5]s\)$/);
  });

  it('says nothing for a step that ends within the interval, and fails when the step fails', () => {
    const quick = bash('with_progress "x" true', { LAP_PROGRESS_SECONDS: '5' });
    expect([quick.status, quick.stdout]).toEqual([0, '']);
    const failed = bash('with_progress "x" bash -c "exit 3" || echo "status $?"', { LAP_PROGRESS_SECONDS: '5' });
    expect(failed.stdout.trim()).toBe('status 3');
  });

  it('keeps the cached fast path: installed MinIO, mc and Kafka are not touched again, and nothing is said', () => {
    const cache = mkdtempSync(join(tmpdir(), 'lap-cache-'));
    try {
      const versions = bash('echo "$MINIO_VERSION $MC_VERSION $KAFKA_VERSION"').stdout.trim().split(' ');
      const [minio, mc, kafka] = versions;
      for (const [dir, file] of [[`minio-${minio}`, 'minio'], [`mc-${mc}`, 'mc']]) {
        mkdirSync(join(cache, dir), { recursive: true });
        writeFileSync(join(cache, dir, file), '#!/bin/sh\n');
        chmodSync(join(cache, dir, file), 0o755);
      }
      mkdirSync(join(cache, `kafka-${kafka}`, 'libs'), { recursive: true });
      for (const jar of [`kafka_2.13-${kafka}.jar`, `kafka-tools-${kafka}.jar`]) writeFileSync(join(cache, `kafka-${kafka}`, 'libs', jar), '');
      // No go or mvn on PATH: any attempt to build or download would fail loudly.
      const run = bash('install_minio; install_mc; install_kafka; echo done', { LAP_CACHE_DIR: cache, PATH: '/usr/bin:/bin', LAP_PROGRESS_SECONDS: '1' });
      expect([run.status, plain(run.stdout), run.stderr]).toEqual([0, 'done\n', '']);
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });
});
