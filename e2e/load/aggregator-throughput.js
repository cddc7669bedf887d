#!/usr/bin/env node
// Throughput and freshness of one window-aggregator instance against the local Kafka and
// ClickHouse (loopback only).
//
//   (source infra/local/lib.sh; test_env; node infra/build/build-app.js window-aggregator && node e2e/load/aggregator-throughput.js)
//
// 1. Throughput (MODES=mixed,scenario001): a backlog of partials is produced before the service
//    starts; the span from the moment its consumer group is stable to the last partial written is
//    pure consumption (load states, merge, one insert per fetched batch, commit). `mixed`: 200 customers x
//    MIXED_BATCHES (default 300) batches x 3 of 5 minutes = 180,000 partials over 1,000 windows; `scenario001`: 3,200 batches x 4
//    minutes = 12,800 partials into 4 hot windows that end up holding 3,200 batch ids each (each
//    revision row carries the ids merged since the previous one; npm run bench's `hot` section
//    measures a window of 100,000).
// 2. Freshness (RATE_FRACTIONS=0.1,0.25,0.5 of the measured `mixed` throughput, or RATES=n,m partials/s):
//    partials are produced at a steady rate for FRESHNESS_SECONDS (default 15) while a poller reads
//    the windows' totals every POLL_MS (default 25); a partial is visible once its window's
//    total_requests includes it. Prints p50/p95/max of production -> visible (the poll interval
//    and the poll query's own time are included, so the figures are slightly pessimistic).
//
// SERVICE_LOG=<file> keeps the service's log (SERVICE_LOG_LEVEL, default debug: per-batch timings).
// One JSON line per measurement. Bounded by DEADLINE_MS (default 600000); topics and the database
// it creates are removed at the end.
'use strict';
const fs = require('node:fs');
const readline = require('node:readline');
const { clickhouseAuth, createTopics, deleteTopics, envList, envNumber, kafkaClient, metricSums, percentile, requireLoopback, runScript, spawnService, uniqueId, waitFor } = require('./support');

const BROKERS = envList('KAFKA_BROKERS', '127.0.0.1:9092');
const CLICKHOUSE_URL = process.env.CLICKHOUSE_URL ?? 'http://127.0.0.1:8123';
const MODES = envList('MODES', 'mixed,scenario001');
const RATE_FRACTIONS = envList('RATE_FRACTIONS', '0.1,0.25,0.5').map(Number);
const RATES = process.env.RATES ? process.env.RATES.split(',').map(Number) : undefined;
const PARTITIONS = envNumber('KAFKA_TOPIC_PARTITIONS', 6);
const CONCURRENCY = process.env.AGGREGATOR_PARTITIONS_CONCURRENCY ?? '3';
const FRESHNESS_SECONDS = envNumber('FRESHNESS_SECONDS', 15);
const POLL_MS = envNumber('POLL_MS', 25);
const MIXED_BATCHES = envNumber('MIXED_BATCHES', 300);
const DEADLINE_MS = envNumber('DEADLINE_MS', 600_000);
// The service's own log lines (e.g. per-batch timings at debug) go to SERVICE_LOG when it is set.
const SERVICE_LOG = process.env.SERVICE_LOG;
const SERVICE_LOG_LEVEL = process.env.SERVICE_LOG_LEVEL ?? 'debug';

requireLoopback({ brokers: BROKERS, urls: { ClickHouse: CLICKHOUSE_URL } });

const kafka = kafkaClient('aggregator-throughput', BROKERS);
const created = { topics: [], databases: [] };
let service;
let joinedAt;

const pad = (n, w) => String(n).padStart(w, '0');
const minuteOf = (base, m) => new Date(Date.parse(base) + m * 60_000).toISOString().slice(0, 16) + 'Z';
const PATHS = ['GET /', 'GET /about', 'GET /careers', 'GET /contact'];
const UAS = ['Chrome', 'Firefox', 'Googlebot', 'curl'];

function partial(customerId, batchId, windowStart, n, salt) {
  const byPath = {};
  const byUa = {};
  for (let i = 0; i < n; i++) {
    const p = PATHS[(i + salt) % 4];
    const u = UAS[(i * 3 + salt) % 4];
    byPath[p] = (byPath[p] ?? 0) + 1;
    byUa[u] = (byUa[u] ?? 0) + 1;
  }
  const sorted = (r) => Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : 1)));
  return { v: 1, batchId, customerId, windowStart, windowSize: 'minute', total: n, requestsByPath: sorted(byPath), requestsByUserAgent: sorted(byUa) };
}

function mixedPartials(tag = 'b') {
  const out = [];
  for (let b = 0; b < MIXED_BATCHES; b++) {
    for (let c = 0; c < 200; c++) {
      for (let k = 0; k < 3; k++) out.push(partial(`cus-${pad(c, 4)}`, `${tag}-${pad(b, 6)}`, minuteOf('2025-12-28T18:00Z', (b + k + c) % 5), 3 + ((b + c + k) % 5), b + c));
    }
  }
  return out;
}

function scenario001Partials() {
  const out = [];
  for (let b = 1; b <= 3200; b++) {
    for (let m = 0; m < 4; m++) out.push(partial('cus-axon', `batch-${pad(b, 6)}`, minuteOf('2025-12-28T18:03Z', m), 5, b + m));
  }
  return out;
}

const message = (p) => ({ key: `${p.customerId}|${p.windowStart}`, value: JSON.stringify(p) });

async function clickhouse(sql) {
  const res = await fetch(CLICKHOUSE_URL, { method: 'POST', body: sql, headers: clickhouseAuth(), signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`ClickHouse: ${text.slice(0, 300)}`);
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

const metrics = (url) => metricSums(url, '(?:aggregator|late)_[a-z_]+');

async function setup(label) {
  const id = uniqueId(label);
  const names = { topic: `tp-insight-events-${id}`, dlq: `tp-insight-dlq-${id}`, group: `tp-aggregator-${id}`, database: `tp_${id.replaceAll('-', '_')}` };
  await createTopics(kafka, [names.topic, names.dlq], PARTITIONS);
  created.topics.push(names.topic, names.dlq);
  created.databases.push(names.database);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  return { names, producer };
}

async function startService(names) {
  service = await spawnService(
    'window-aggregator',
    {
      LOG_LEVEL: SERVICE_LOG ? SERVICE_LOG_LEVEL : 'info',
      KAFKA_BROKERS: BROKERS.join(','),
      CLICKHOUSE_URL,
      CLICKHOUSE_DATABASE: names.database,
      TOPIC_INSIGHT_EVENTS: names.topic,
      TOPIC_INSIGHT_EVENTS_DLQ: names.dlq,
      KAFKA_TOPIC_PARTITIONS: String(PARTITIONS),
      AGGREGATOR_GROUP_ID: names.group,
      AGGREGATOR_PARTITIONS_CONCURRENCY: CONCURRENCY,
    },
    { stdout: 'pipe' },
  );
  joinedAt = undefined;
  const log = SERVICE_LOG ? fs.createWriteStream(SERVICE_LOG, { flags: 'a' }) : undefined;
  readline.createInterface({ input: service.child.stdout }).on('line', (line) => {
    if (joinedAt === undefined && line.includes('joined the consumer group')) joinedAt = Date.now();
    log?.write(line + '\n');
  });
  await service.ready();
  return service.url;
}

async function stopService() {
  const s = service;
  service = undefined;
  await s?.stop();
}

async function throughput(mode) {
  const partials = mode === 'scenario001' ? scenario001Partials() : mixedPartials();
  const { names, producer } = await setup(mode);
  for (let i = 0; i < partials.length; i += 1000) await producer.send({ topic: names.topic, acks: -1, messages: partials.slice(i, i + 1000).map(message) });
  await producer.disconnect();

  const url = await startService(names);
  // Consumption starts when the service has joined its group (it logs that line as it happens).
  const first = await waitFor('the service to join its consumer group', async () => joinedAt, 60_000, 5);
  const done = await waitFor(`${partials.length} partials merged`, async () => {
    const m = await metrics(url);
    return m.aggregator_partials_merged_total >= partials.length ? m : undefined;
  }, DEADLINE_MS, 20);
  const seconds = (Date.now() - first) / 1000;
  await stopService();

  const [check] = await clickhouse(`SELECT count() AS windows, sum(total_requests) AS total FROM ${names.database}.minute_aggregates FORMAT JSONEachRow`);
  const expectedTotal = partials.reduce((n, p) => n + p.total, 0);
  const result = {
    measure: 'throughput',
    mode,
    partials: partials.length,
    windows: Number(check.windows),
    late: done.late_events_total,
    exact: Number(check.total) === expectedTotal,
    partitions: PARTITIONS,
    partitionsConcurrency: Number(CONCURRENCY),
    seconds: Number(seconds.toFixed(2)),
    partialsPerSecond: Math.round(partials.length / seconds),
    rowsWritten: done.aggregator_rows_written_total,
    inserts: done.aggregator_write_duration_seconds_count,
    meanInsertMs: Number(((done.aggregator_write_duration_seconds_sum / done.aggregator_write_duration_seconds_count) * 1000).toFixed(1)),
  };
  console.log(JSON.stringify(result));
  return result;
}

async function freshness(rate) {
  const { names, producer } = await setup(`fresh${rate}`);
  const url = await startService(names);
  const source = mixedPartials(`r${rate}`);
  const count = Math.min(source.length, Math.round(rate * FRESHNESS_SECONDS));
  // Per window: the running total after each partial, and when that partial was produced.
  const pending = new Map();
  const latencies = [];
  let polling = true;
  let stopBy = Infinity;
  const poller = (async () => {
    while (polling || pending.size > 0) {
      const started = Date.now();
      // Totals only grow from one revision to the next, so max(total_requests) over the revision rows
      // is the total minute_aggregates shows, read without its argMax over arrays.
      const rows = await clickhouse(
        `SELECT customer_id, toString(window_start) AS ws, max(total_requests) AS total_requests FROM ${names.database}.window_revisions GROUP BY customer_id, window_start FORMAT JSONEachRow`,
      ).catch(() => []);
      const seenAt = Date.now();
      for (const r of rows) {
        const key = `${r.customer_id}|${r.ws.slice(0, 10)}T${r.ws.slice(11, 16)}Z`;
        const list = pending.get(key);
        if (!list) continue;
        while (list.length > 0 && list[0].cumulative <= Number(r.total_requests)) latencies.push(seenAt - list.shift().producedAt);
        if (list.length === 0) pending.delete(key);
      }
      if (!polling && Date.now() > stopBy) break;
      await new Promise((res) => setTimeout(res, Math.max(0, POLL_MS - (seenAt - started))));
    }
  })();

  const totals = new Map();
  const tickMs = 20;
  const begin = Date.now();
  let sent = 0;
  while (sent < count) {
    // At most 2,000 per send: a send that catches up after a slow tick stays under Kafka's size limit.
    const due = Math.min(count, sent + 2_000, Math.floor(((Date.now() - begin) / 1000) * rate) + 1);
    if (due > sent) {
      const slice = source.slice(sent, due);
      const producedAt = Date.now();
      for (const p of slice) {
        const key = `${p.customerId}|${p.windowStart}`;
        const cumulative = (totals.get(key) ?? 0) + p.total;
        totals.set(key, cumulative);
        if (!pending.has(key)) pending.set(key, []);
        pending.get(key).push({ cumulative, producedAt });
      }
      await producer.send({ topic: names.topic, acks: -1, messages: slice.map(message) });
      sent = due;
    }
    if (due >= Math.floor(((Date.now() - begin) / 1000) * rate)) await new Promise((res) => setTimeout(res, tickMs));
  }
  const achieved = sent / ((Date.now() - begin) / 1000);
  stopBy = Date.now() + 60_000;
  polling = false;
  await poller;
  await producer.disconnect();
  await stopService();

  latencies.sort((a, b) => a - b);
  const result = {
    measure: 'freshness',
    targetRate: rate,
    achievedRate: Math.round(achieved),
    partials: sent,
    seen: latencies.length,
    pollMs: POLL_MS,
    p50Ms: percentile(latencies, 50),
    p95Ms: percentile(latencies, 95),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies[latencies.length - 1],
  };
  console.log(JSON.stringify(result));
  return result;
}

async function cleanup() {
  await deleteTopics(kafka, created.topics);
  for (const db of created.databases) await clickhouse(`DROP DATABASE IF EXISTS ${db}`).catch(() => undefined);
}

runScript(
  async () => {
    const results = {};
    for (const mode of MODES) results[mode] = await throughput(mode);
    const base = results.mixed?.partialsPerSecond;
    const rates = RATES ?? (base ? RATE_FRACTIONS.map((f) => Math.max(1, Math.round(base * f))) : []);
    for (const rate of rates) await freshness(rate);
  },
  { deadlineMs: DEADLINE_MS, cleanup },
);
