#!/usr/bin/env node
// Load figures for batch-ingestion (a measurement script, not a test).
//
// Sends unique batches (a fresh idempotency key per request, so every one is a real S3 write and
// Kafka publish, not a duplicate) to a running service for a fixed time per run, for each batch
// size and client concurrency, and prints batches/s, entries/s, MB/s and p50/p99 latency.
//
//   (set -a; . .stack/credentials.env; node e2e/load/ingestion-load.js [--url http://127.0.0.1:8080]
//        [--ops-url http://127.0.0.1:8090] [--seconds 15]
//        [--concurrency 1,4,16] [--sizes small,large] [--customer cus-load])
//   One customer is held to its own limits (RATE_LIMIT_PER_CUSTOMER_BYTES: 8 MiB/s): to measure the
//   instance, start it with CUSTOMER_LIMITS='cus-load:rps=100000,bps=1GiB,inflight=64MiB'.
//
// small = 20-entry batches; large = batches just under the 2 MiB limit. Only loopback targets
// are accepted: the script is for figures on one machine, never for loading a shared system.
// Every accepted batch stays in the stack's bucket: 2 MiB batches from 4 clients add about 1 GB
// every 20 s. When MinIO's disk is full it refuses writes (507) and the service answers 503;
// `infra/local/pipeline clean` removes the local stack's data.
const http = require('node:http');
const { performance } = require('node:perf_hooks');
const { cliArgs, credential, isLoopback, percentile, runScript } = require('./support');

const args = cliArgs();
const url = new URL(args.url ?? process.env.INGESTION_URL ?? 'http://127.0.0.1:8080');
// Health answers on the operations port, not on the intake's.
const opsUrl = new URL(args['ops-url'] ?? process.env.INGESTION_OPS_URL ?? `${url.protocol}//${url.hostname}:8090`);
const seconds = Math.min(Number(args.seconds ?? 15), 60);
const concurrencies = String(args.concurrency ?? '1,4,16').split(',').map(Number);
const sizes = String(args.sizes ?? 'small,large').split(',');
const customer = args.customer ?? 'cus-load';
const token = credential('GATEWAY_TOKEN');
const MAX_REQUESTS_PER_RUN = 200_000;
const LIMIT = 2 * 1024 * 1024;

if (!isLoopback(url.hostname)) {
  console.error(`refusing to load ${url.host}: loopback targets only`);
  process.exit(2);
}
if (concurrencies.some((c) => !Number.isInteger(c) || c < 1 || c > 64)) {
  console.error('concurrency must be integers in 1..64');
  process.exit(2);
}

const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0',
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  'curl/8.5.0',
];
const PATHS = ['/', '/api/users', '/api/users/42?expand=orders', '/static/app.js', '/login', '/api/orders/9f3c/items'];
const METHODS = ['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE'];

function entryAt(i) {
  const t = Date.UTC(2025, 11, 28, 18, 0, 0) + i * 137;
  return { receivedAt: new Date(t).toISOString(), method: METHODS[i % METHODS.length], path: PATHS[i % PATHS.length], userAgent: USER_AGENTS[i % USER_AGENTS.length] };
}

/** The body of one batch: 20 entries, or as many as fit just under the 2 MiB limit. */
function makeBody(size) {
  if (size === 'small') {
    const entries = Array.from({ length: 20 }, (_, i) => entryAt(i));
    return { body: Buffer.from(JSON.stringify(entries)), entries: entries.length };
  }
  const parts = [];
  let bytes = 2;
  for (let i = 0; ; i++) {
    const text = JSON.stringify(entryAt(i));
    if (bytes + text.length + 1 > LIMIT - 1024) break;
    parts.push(text);
    bytes += text.length + 1;
  }
  return { body: Buffer.from(`[${parts.join(',')}]`), entries: parts.length };
}

function post(agent, body, key) {
  return new Promise((resolve) => {
    const started = performance.now();
    const req = http.request(
      {
        host: url.hostname,
        port: url.port || 80,
        path: '/logs',
        method: 'POST',
        agent,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': body.length, 'x-customer-id': customer, 'idempotency-key': key },
        timeout: 30_000,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - started }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, ms: performance.now() - started }));
    req.end(body);
  });
}

async function run(size, concurrency, runId) {
  const { body, entries } = makeBody(size);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies = [];
  const statuses = {};
  let sent = 0;
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  const worker = async (w) => {
    for (let n = 0; performance.now() < deadline && sent < MAX_REQUESTS_PER_RUN; n++) {
      sent++;
      const r = await post(agent, body, `load-${runId}-${w}-${n}`);
      statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      if (r.status === 202) latencies.push(r.ms);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const accepted = statuses[202] ?? 0;
  return {
    size,
    concurrency,
    bodyBytes: body.length,
    entriesPerBatch: entries,
    seconds: Number(elapsed.toFixed(1)),
    statuses,
    batchesPerSec: accepted / elapsed,
    entriesPerSec: (accepted * entries) / elapsed,
    mbPerSec: (accepted * body.length) / elapsed / 1e6,
    p50ms: percentile(latencies, 50),
    p99ms: percentile(latencies, 99),
  };
}

async function main() {
  const ready = await fetch(new URL('/health/ready', opsUrl), { signal: AbortSignal.timeout(5_000) }).catch((err) => ({ ok: false, status: err.message }));
  if (!ready.ok) {
    console.error(`${opsUrl.origin}/health/ready is not ready (${ready.status})`);
    process.exit(1);
  }
  const runId = Date.now().toString(36);
  const results = [];
  for (const size of sizes) {
    for (const concurrency of concurrencies) {
      const r = await run(size, concurrency, `${runId}-${size}-${concurrency}`);
      results.push(r);
      console.log(JSON.stringify(r));
    }
  }
  const fmt = (n, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '-');
  console.log('\nsize   body bytes  entries  clients  batches/s  entries/s     MB/s   p50 ms   p99 ms  answers');
  for (const r of results) {
    console.log(
      [
        r.size.padEnd(6),
        String(r.bodyBytes).padStart(10),
        String(r.entriesPerBatch).padStart(8),
        String(r.concurrency).padStart(8),
        fmt(r.batchesPerSec).padStart(10),
        fmt(r.entriesPerSec, 0).padStart(10),
        fmt(r.mbPerSec, 2).padStart(8),
        fmt(r.p50ms).padStart(8),
        fmt(r.p99ms).padStart(8),
        ' ' + JSON.stringify(r.statuses),
      ].join(' '),
    );
  }
}

runScript(main);
