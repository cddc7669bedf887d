// One readiness probe of a native server, used by the stack scripts and the test helpers:
// exits 0 when the server really answers (a Kafka metadata request, an S3 call, SELECT 1).
//   node infra/local/probe.js kafka 127.0.0.1:9092        (KAFKA_SASL_MECHANISM / _USERNAME / _PASSWORD: its login)
//   node infra/local/probe.js s3 http://127.0.0.1:9000
//   node infra/local/probe.js clickhouse http://127.0.0.1:8123
//   node infra/local/probe.js http http://127.0.0.1:8080/health/ready
const [kind, target] = process.argv.slice(2);
const timeout = (ms) => AbortSignal.timeout(ms);

async function kafka(brokers) {
  const { Kafka, logLevel } = require('kafkajs');
  const { KAFKA_SASL_MECHANISM: mechanism, KAFKA_SASL_USERNAME: username, KAFKA_SASL_PASSWORD: password } = process.env;
  const sasl = mechanism ? { mechanism, username, password } : undefined;
  const admin = new Kafka({ brokers: brokers.split(','), sasl, logLevel: logLevel.NOTHING, connectionTimeout: 2000, requestTimeout: 3000, retry: { retries: 0 } }).admin();
  try {
    await admin.connect();
    await admin.fetchTopicMetadata({ topics: [] });
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

async function s3(endpoint) {
  const { S3Client, ListBucketsCommand } = require('@aws-sdk/client-s3');
  const client = new S3Client({
    endpoint,
    region: process.env.S3_REGION ?? 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: process.env.S3_ACCESS_KEY_ID ?? 'minioadmin', secretAccessKey: process.env.S3_SECRET_ACCESS_KEY ?? 'minioadmin' },
    maxAttempts: 1,
  });
  try {
    await client.send(new ListBucketsCommand({}), { abortSignal: timeout(3000) });
  } finally {
    client.destroy();
  }
}

async function clickhouse(url) {
  const user = process.env.CLICKHOUSE_USER ?? 'default';
  const headers = { authorization: `Basic ${Buffer.from(`${user}:${process.env.CLICKHOUSE_PASSWORD ?? ''}`).toString('base64')}` };
  const res = await fetch(`${url}/?query=${encodeURIComponent('SELECT 1')}`, { signal: timeout(3000), headers });
  const text = await res.text();
  if (!res.ok || text.trim() !== '1') throw new Error(`SELECT 1 answered ${res.status} ${text.slice(0, 200)}`);
}

async function http(url) {
  const res = await fetch(url, { signal: timeout(3000) });
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
}

const probes = { kafka, s3, clickhouse, http };
if (!probes[kind] || !target) {
  console.error('usage: probe.js kafka|s3|clickhouse|http <address>');
  process.exit(2);
}
probes[kind](target).then(
  () => process.exit(0),
  (err) => {
    if (process.env.PROBE_VERBOSE) console.error(`${kind} ${target}: ${err.message}`);
    process.exit(1);
  },
);
