'use strict';
// What the load scripts share: settings, the loopback-only rule, the service under measurement as
// a child process, its metrics, throwaway topics, percentiles, and a bounded run with clean-up.
const { spawn } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const net = require('node:net');
const path = require('node:path');
const { Kafka, logLevel } = require('kafkajs');

const ROOT = path.resolve(__dirname, '../..');

/** `--name value` pairs of the command line, by name. */
function cliArgs(argv = process.argv.slice(2)) {
  return Object.fromEntries(argv.reduce((pairs, arg, i, all) => (arg.startsWith('--') ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []));
}

/** A comma-separated environment variable as a list, without empty items. */
const envList = (name, fallback) => (process.env[name] ?? fallback).split(',').filter(Boolean);
const envNumber = (name, fallback) => Number(process.env[name] ?? fallback);

const isLoopback = (host) => ['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host);

/** The scripts measure one machine and never load a shared system: anything else is refused. */
function requireLoopback({ brokers = [], urls = {} }) {
  for (const b of brokers) if (!isLoopback(b.replace(/:\d+$/, ''))) throw new Error(`refusing non-loopback broker ${b}`);
  for (const [what, url] of Object.entries(urls)) if (!isLoopback(new URL(url).hostname)) throw new Error(`refusing non-loopback ${what} ${url}`);
}

/**
 * A credential from the environment. The stack has no default login, so a missing one is an error
 * that says where it comes from.
 */
function credential(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set: run the script with the stack's credentials, as its first lines show`);
    process.exit(2);
  }
  return value;
}

/** ClickHouse HTTP headers naming the user of CLICKHOUSE_USER / CLICKHOUSE_PASSWORD. */
const clickhouseAuth = () => ({ 'X-ClickHouse-User': credential('CLICKHOUSE_USER'), 'X-ClickHouse-Key': credential('CLICKHOUSE_PASSWORD') });

/** A name part no other run uses. */
const uniqueId = (label) => `${label}-${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Polls `check` until it returns something truthy (errors count as "not yet"); returns that value. */
async function waitFor(what, check, timeoutMs, intervalMs = 100) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch {
      /* not yet */
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Nearest-rank percentile of an ascending list (NaN when it is empty). */
const percentile = (sorted, p) => (sorted.length === 0 ? NaN : sorted[Math.max(0, Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1))]);

/**
 * The service's samples whose names match `names` (a RegExp source), summed over their label
 * sets; histogram buckets are left out. `keyOf(name, labels)` may keep a label apart.
 */
async function metricSums(url, names, keyOf = (name) => name) {
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) });
  const pattern = new RegExp(`^(${names})(\\{[^}]*\\})?\\s+(\\S+)$`);
  const values = {};
  for (const line of (await res.text()).split('\n')) {
    const m = pattern.exec(line);
    if (!m) continue;
    const labels = m[2] ?? '';
    if (labels.includes('le=')) continue;
    const key = keyOf(m[1], labels);
    values[key] = (values[key] ?? 0) + Number(m[3]);
  }
  return values;
}

/** A client on the brokers with the login of KAFKA_SASL_* (the services under measurement inherit the same). */
const kafkaClient = (clientId, brokers) => {
  const { KAFKA_SASL_MECHANISM: mechanism, KAFKA_SASL_USERNAME: username, KAFKA_SASL_PASSWORD: password } = process.env;
  return new Kafka({ clientId, brokers, sasl: mechanism ? { mechanism, username, password } : undefined, logLevel: logLevel.NOTHING });
};

async function createTopics(kafka, topics, partitions) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ waitForLeaders: true, topics: topics.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 })) });
  } finally {
    await admin.disconnect();
  }
}

/** Clean-up of throwaway topics: failures are ignored. */
async function deleteTopics(kafka, topics) {
  const admin = kafka.admin();
  await admin.connect().catch(() => undefined);
  if (topics.length) await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.disconnect().catch(() => undefined);
}

const running = new Set();

/**
 * Starts the bundle of `app` (node infra/build/build-app.js <app>) on a free loopback port, with
 * `env` over this process's environment. `ready()` waits for /health/ready; `stop()` is SIGTERM.
 */
async function spawnService(app, env, { stdout = 'ignore' } = {}) {
  const main = path.join(ROOT, 'dist/apps', app, 'main.js');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // The ingestion's operations port has a fixed default that two instances cannot share.
  const opsPort = app === 'batch-ingestion' ? await freePort() : port;
  const opsUrl = `http://127.0.0.1:${opsPort}`;
  // Started as the services are deployed (Dockerfile, infra/local/lib.sh): V8's young generation
  // capped, which decides much of their memory and some of their CPU.
  const child = spawn(process.execPath, ['--max-semi-space-size=16', main], {
    cwd: path.dirname(main),
    stdio: ['ignore', stdout, 'inherit'],
    env: { ...process.env, PORT: String(port), OPS_PORT: String(opsPort), HOST: '127.0.0.1', ...env },
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const service = {
    url,
    opsUrl,
    child,
    spawnedAt: Date.now(),
    ready: () => waitFor(`${app} to be ready`, async () => (await fetch(`${opsUrl}/health/ready`, { signal: AbortSignal.timeout(3_000) })).ok, 60_000, 20),
    stop: async () => {
      running.delete(service);
      child.kill('SIGTERM');
      await exited;
    },
  };
  running.add(service);
  return service;
}

/**
 * Runs `main`, then `cleanup` (after killing any service still running) and exits: 0 when main
 * succeeded, 1 when it failed or `deadlineMs` passed first.
 */
function runScript(main, { deadlineMs, cleanup = async () => undefined } = {}) {
  const finish = (code) => {
    for (const service of running) service.child.kill('SIGKILL');
    running.clear();
    cleanup()
      .catch((err) => console.error(err))
      .finally(() => process.exit(code));
  };
  const deadline =
    deadlineMs === undefined
      ? undefined
      : setTimeout(() => {
          console.error(`deadline of ${deadlineMs} ms reached; giving up`);
          finish(1);
        }, deadlineMs);
  main().then(
    () => {
      clearTimeout(deadline);
      finish(0);
    },
    (err) => {
      console.error(err);
      finish(1);
    },
  );
}

module.exports = {
  clickhouseAuth,
  credential,
  cliArgs,
  envList,
  envNumber,
  isLoopback,
  requireLoopback,
  uniqueId,
  waitFor,
  percentile,
  metricSums,
  kafkaClient,
  createTopics,
  deleteTopics,
  spawnService,
  runScript,
};
