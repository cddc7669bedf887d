#!/usr/bin/env node
// Throughput of one batch-summarizer instance, from a backlog of batch-ingested events, against
// the local Kafka and MinIO (loopback only). Raw batches are stored and their events published
// before the service starts, so the measured span is pure consumption: S3 read, summarize,
// create-only summary write, partials acknowledged, offset committed.
//
//   (source infra/local/lib.sh; test_env; node infra/build/build-app.js batch-summarizer && node e2e/load/summarizer-throughput.js)
//
// Modes (MODES=small,large): `small` is scenario 001 (3,200 batches of 20 entries, 64,000 entries);
// `large` is LARGE_BATCHES batches (default 60) each just under 2 MiB. Prints one JSON line per
// mode with batches/s, entries/s, partials/s and the user-agent cache hit ratio. Bounded by
// DEADLINE_MS (default 600000); everything it creates (topics, bucket) is removed at the end.
'use strict';
const { createHash } = require('node:crypto');
const { S3Client, CreateBucketCommand, PutObjectCommand, ListObjectsV2Command, DeleteObjectsCommand, DeleteBucketCommand } = require('@aws-sdk/client-s3');
const { createTopics, credential, deleteTopics, envList, envNumber, kafkaClient, metricSums, requireLoopback, runScript, spawnService, uniqueId, waitFor } = require('./support');

const BROKERS = envList('KAFKA_BROKERS', '127.0.0.1:9092');
const S3_ENDPOINT = process.env.S3_ENDPOINT ?? 'http://127.0.0.1:9000';
const MODES = envList('MODES', 'small,large');
const PARTITIONS = envNumber('KAFKA_TOPIC_PARTITIONS', 6);
const CONCURRENCY = process.env.SUMMARIZER_PARTITIONS_CONCURRENCY ?? '4';
const LARGE_BATCHES = envNumber('LARGE_BATCHES', 60);
const DEADLINE_MS = envNumber('DEADLINE_MS', 600_000);
const MAX_BODY = 2 * 1024 * 1024;

requireLoopback({ brokers: BROKERS, urls: { 'S3 endpoint': S3_ENDPOINT } });

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

const s3 = new S3Client({ endpoint: S3_ENDPOINT, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: credential('S3_ACCESS_KEY_ID'), secretAccessKey: credential('S3_SECRET_ACCESS_KEY') } });
const kafka = kafkaClient('summarizer-throughput', BROKERS);
const created = { topics: [], buckets: [] };

async function pool(items, width, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

// Batches are counted per outcome.
const metrics = (url) => metricSums(url, 'summarizer_[a-z_]+', (name, labels) => name + (name === 'summarizer_batches_total' ? `:${/outcome="([^"]+)"/.exec(labels)[1]}` : ''));

async function runMode(mode) {
  const batches = mode === 'small' ? smallBatches() : largeBatches();
  const id = uniqueId(mode);
  const names = { input: `tp-batch-ingested-${id}`, insight: `tp-insight-events-${id}`, dlq: `tp-dlq-${id}`, bucket: `tp-${id}`, group: `tp-summarizer-${id}` };
  const customerId = 'cus-axon';

  await s3.send(new CreateBucketCommand({ Bucket: names.bucket }));
  created.buckets.push(names.bucket);
  await createTopics(kafka, [names.input, names.insight, names.dlq], PARTITIONS);
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

  const service = await spawnService('batch-summarizer', {
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
  });
  const url = service.url;
  // Ready = S3 and Kafka answer and the consumer has joined its group: consumption starts now.
  await service.ready();
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
  await service.stop();

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
    startupMs: start - service.spawnedAt,
  };
  console.log(JSON.stringify(result));
  return result;
}

async function cleanup() {
  await deleteTopics(kafka, created.topics);
  for (const Bucket of created.buckets) {
    for (;;) {
      const list = await s3.send(new ListObjectsV2Command({ Bucket, MaxKeys: 1000 })).catch(() => undefined);
      if (!list?.Contents?.length) break;
      await s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: list.Contents.map((o) => ({ Key: o.Key })) } })).catch(() => undefined);
    }
    await s3.send(new DeleteBucketCommand({ Bucket })).catch(() => undefined);
  }
}

runScript(
  async () => {
    for (const mode of MODES) await runMode(mode);
  },
  { deadlineMs: DEADLINE_MS, cleanup },
);
