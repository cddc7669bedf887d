#!/usr/bin/env node
// Throughput of one batch-summarizer instance, from a backlog of batch-ingested events, against
// the local Kafka and MinIO (loopback only). Raw batches are stored and their events published
// before the service starts, so the measured span is pure consumption: S3 read, summarize,
// create-only summary write, partials acknowledged, offset committed.
//
//   node infra/build/build-app.js batch-summarizer && node e2e/load/summarizer-throughput.js
//
// Modes (MODES=small,large): `small` is scenario 001 (3,200 batches of 20 entries, 64,000 entries);
// `large` is LARGE_BATCHES batches (default 60) each just under 2 MiB. Prints one JSON line per
// mode with batches/s, entries/s, partials/s and the user-agent cache hit ratio. Bounded by
// DEADLINE_MS (default 600000); everything it creates (topics, bucket) is removed at the end.
'use strict';
const { spawn } = require('node:child_process');
const { createHash, randomBytes } = require('node:crypto');
const net = require('node:net');
const path = require('node:path');
const { Kafka, logLevel } = require('kafkajs');
const { S3Client, CreateBucketCommand, PutObjectCommand, ListObjectsV2Command, DeleteObjectsCommand, DeleteBucketCommand } = require('@aws-sdk/client-s3');

const ROOT = path.resolve(__dirname, '../..');
const MAIN = path.join(ROOT, 'dist/apps/batch-summarizer/main.js');
const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const S3_ENDPOINT = process.env.S3_ENDPOINT ?? 'http://127.0.0.1:9000';
const MODES = (process.env.MODES ?? 'small,large').split(',');
const PARTITIONS = Number(process.env.KAFKA_TOPIC_PARTITIONS ?? 6);
const CONCURRENCY = process.env.SUMMARIZER_PARTITIONS_CONCURRENCY ?? '4';
const LARGE_BATCHES = Number(process.env.LARGE_BATCHES ?? 60);
const DEADLINE_MS = Number(process.env.DEADLINE_MS ?? 600_000);
const MAX_BODY = 2 * 1024 * 1024;

const loopback = (host) => ['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host);
for (const b of BROKERS) if (!loopback(b.replace(/:\d+$/, ''))) throw new Error(`refusing non-loopback broker ${b}`);
if (!loopback(new URL(S3_ENDPOINT).hostname)) throw new Error(`refusing non-loopback S3 endpoint ${S3_ENDPOINT}`);

const deadline = setTimeout(() => {
  console.error(`deadline of ${DEADLINE_MS} ms reached; giving up`);
  cleanupAndExit(1);
}, DEADLINE_MS);

// Scenario 001, entry k (see the scenario's definition).
const UAS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0',
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  'curl/7.88.1',
];
const pad = (n, w) => String(n).padStart(w, '0');
function entry001(k) {
  const bucket = k % 64;
  const round = Math.floor(k / 64);
  const minute = ['18:03', '18:04', '18:05', '18:06'][Math.floor(bucket / 16)];
  const p = ['/', '/about', '/careers', '/contact'][Math.floor((bucket % 16) / 4)];
  return { receivedAt: `2025-12-28T${minute}:${pad(round % 60, 2)}.${pad((bucket * 17 + round) % 1000, 3)}Z`, method: 'GET', path: p, userAgent: UAS[bucket % 4] };
}

function smallBatches() {
  const out = [];
  for (let b = 1; b <= 3200; b++) {
    const entries = Array.from({ length: 20 }, (_, i) => entry001(((b - 1) * 20 + i * 3201) % 64000));
    out.push({ batchId: `batch-${pad(b, 6)}`, body: Buffer.from(JSON.stringify(entries)), entries: entries.length });
  }
  return out;
}

/** Batches just under 2 MiB: consecutive scenario entries, so every batch spans the four minutes. */
function largeBatches() {
  const out = [];
  let k = 0;
  for (let b = 1; b <= LARGE_BATCHES; b++) {
    const parts = [];
    let size = 2;
    for (;;) {
      const text = JSON.stringify(entry001(k % 64000));
      if (size + text.length + 1 > MAX_BODY) break;
      parts.push(text);
      size += text.length + 1;
      k++;
    }
    const body = Buffer.from(`[${parts.join(',')}]`);
    out.push({ batchId: `large-${pad(b, 4)}`, body, entries: parts.length });
  }
  return out;
}

const s3 = new S3Client({ endpoint: S3_ENDPOINT, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: process.env.S3_ACCESS_KEY_ID ?? 'minioadmin', secretAccessKey: process.env.S3_SECRET_ACCESS_KEY ?? 'minioadmin' } });
const kafka = new Kafka({ clientId: 'summarizer-throughput', brokers: BROKERS, logLevel: logLevel.NOTHING });
const created = { topics: [], buckets: [] };
let child;

async function pool(items, width, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

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

async function metrics(url) {
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) });
  const values = {};
  for (const line of (await res.text()).split('\n')) {
    const m = /^(summarizer_[a-z_]+)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (!m) continue;
    const labels = m[2] ?? '';
    if (labels.includes('le=')) continue;
    const key = m[1] + (m[1] === 'summarizer_batches_total' ? `:${/outcome="([^"]+)"/.exec(labels)[1]}` : '');
    values[key] = (values[key] ?? 0) + Number(m[3]);
  }
  return values;
}

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

async function runMode(mode) {
  const batches = mode === 'small' ? smallBatches() : largeBatches();
  const id = `${mode}-${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const names = { input: `tp-batch-ingested-${id}`, insight: `tp-insight-events-${id}`, dlq: `tp-dlq-${id}`, bucket: `tp-${id}`, group: `tp-summarizer-${id}` };
  const customerId = 'cus-axon';

  await s3.send(new CreateBucketCommand({ Bucket: names.bucket }));
  created.buckets.push(names.bucket);
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [names.input, names.insight, names.dlq].map((topic) => ({ topic, numPartitions: PARTITIONS, replicationFactor: 1 })) });
  created.topics.push(names.input, names.insight, names.dlq);

  const events = [];
  await pool(batches, 32, async (b) => {
    const objectKey = `raw/${customerId}/${b.batchId}.json`;
    const sha256 = createHash('sha256').update(b.body).digest('hex');
    await s3.send(new PutObjectCommand({ Bucket: names.bucket, Key: objectKey, Body: b.body, ContentType: 'application/json', Metadata: { sha256, entries: String(b.entries) } }));
    events.push({ key: `${customerId}|${b.batchId}`, value: JSON.stringify({ v: 1, batchId: b.batchId, customerId, objectKey, entries: b.entries, sha256, ingestedAt: new Date().toISOString() }) });
  });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  for (let i = 0; i < events.length; i += 500) await producer.send({ topic: names.input, acks: -1, messages: events.slice(i, i + 500) });
  await producer.disconnect();

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  child = spawn(process.execPath, [MAIN], {
    cwd: path.dirname(MAIN),
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      KAFKA_BROKERS: BROKERS.join(','),
      S3_ENDPOINT,
      S3_BUCKET: names.bucket,
      TOPIC_BATCH_INGESTED: names.input,
      TOPIC_INSIGHT_EVENTS: names.insight,
      TOPIC_BATCH_INGESTED_DLQ: names.dlq,
      KAFKA_TOPIC_PARTITIONS: String(PARTITIONS),
      SUMMARIZER_GROUP_ID: names.group,
      SUMMARIZER_PARTITIONS_CONCURRENCY: CONCURRENCY,
    },
  });
  const spawned = Date.now();
  // Ready = S3 and Kafka answer and the consumer has joined its group: consumption starts now.
  await waitFor('the summarizer to be ready', async () => (await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(3_000) })).ok, 60_000, 20);
  const start = Date.now();
  const done = await waitFor(
    `${batches.length} batches summarized`,
    async () => {
      const m = await metrics(url);
      const handled = (m['summarizer_batches_total:summarized'] ?? 0) + (m['summarizer_batches_total:replayed'] ?? 0) + (m['summarizer_batches_total:dlq'] ?? 0);
      return handled >= batches.length ? m : undefined;
    },
    DEADLINE_MS,
    50,
  );
  const seconds = (Date.now() - start) / 1000;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  child = undefined;
  await admin.disconnect();

  const entries = batches.reduce((n, b) => n + b.entries, 0);
  const hits = done.summarizer_ua_cache_hits_total ?? 0;
  const misses = done.summarizer_ua_cache_misses_total ?? 0;
  const result = {
    mode,
    batches: batches.length,
    entriesPerBatch: Math.round(entries / batches.length),
    bytesPerBatch: Math.round(batches.reduce((n, b) => n + b.body.length, 0) / batches.length),
    partitions: PARTITIONS,
    partitionsConcurrency: Number(CONCURRENCY),
    seconds: Number(seconds.toFixed(2)),
    batchesPerSecond: Number((batches.length / seconds).toFixed(1)),
    entriesPerSecond: Math.round(entries / seconds),
    partialsPerSecond: Number(((done.summarizer_partials_emitted_total ?? 0) / seconds).toFixed(1)),
    meanBatchMs: Number((((done.summarizer_batch_duration_seconds_sum ?? 0) / (done.summarizer_batch_duration_seconds_count || 1)) * 1000).toFixed(2)),
    dlq: done['summarizer_batches_total:dlq'] ?? 0,
    uaCacheHits: hits,
    uaCacheMisses: misses,
    uaCacheHitRatio: Number((hits / (hits + misses || 1)).toFixed(6)),
    startupMs: start - spawned,
  };
  console.log(JSON.stringify(result));
  return result;
}

async function cleanup() {
  if (child) {
    child.kill('SIGKILL');
    child = undefined;
  }
  const admin = kafka.admin();
  await admin.connect().catch(() => undefined);
  if (created.topics.length) await admin.deleteTopics({ topics: created.topics }).catch(() => undefined);
  await admin.disconnect().catch(() => undefined);
  for (const Bucket of created.buckets) {
    for (;;) {
      const list = await s3.send(new ListObjectsV2Command({ Bucket, MaxKeys: 1000 })).catch(() => undefined);
      if (!list?.Contents?.length) break;
      await s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: list.Contents.map((o) => ({ Key: o.Key })) } })).catch(() => undefined);
    }
    await s3.send(new DeleteBucketCommand({ Bucket })).catch(() => undefined);
  }
}

function cleanupAndExit(code) {
  cleanup().finally(() => process.exit(code));
}

(async () => {
  for (const mode of MODES) await runMode(mode);
  clearTimeout(deadline);
  cleanupAndExit(0);
})().catch((err) => {
  console.error(err);
  cleanupAndExit(1);
});
