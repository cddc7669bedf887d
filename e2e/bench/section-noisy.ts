import { ELDHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { ClickHouseGateway, sqlIdentifier, sqlString } from '@pipeline/clickhouse';
import { metricValue } from '@pipeline/testing';
import { JSON_CONTENT_TYPE, jsonBody, Send } from '../scenarios';
import { gatewayToken, IngestClient } from '../support/http';
import { formatCounts, Progress } from '../support/progress';
import { OTHER_PATH_KEY } from '../support/aggregates';
import { BenchContext, cpuFigures, sleep, waitQuiet } from './context';
import { CallTail, LABEL, LagPoint, LoopDelay, NoisyQuiet, NoisySection, PerProcess, PROCESSES } from './results';
import { cpuBetween, percentOfCore, slope, summarize } from './stats';

/** One distinct body of the flood: `paths` distinct paths (of this body alone) in one minute, repeated up to about `bytes`. */
export function floodBody(index: number, paths: number, bytes: number, minute: string): { body: Buffer; entries: number } {
  const list: Array<{ receivedAt: string; method: string; path: string; userAgent: string }> = [];
  let size = 2;
  for (let i = 0; ; i++) {
    const entry = {
      receivedAt: `${minute}:${String(i % 60).padStart(2, '0')}.${String(i % 1000).padStart(3, '0')}Z`,
      method: 'GET',
      path: `/flood/${index}/${String(i % paths).padStart(5, '0')}`,
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
    };
    const length = JSON.stringify(entry).length + 1;
    if (size + length > bytes && i >= paths) break;
    list.push(entry);
    size += length;
  }
  return { body: jsonBody(list), entries: list.length };
}

/** A latency histogram's calls between two scrapes (label sets containing `labels`), and the shares of them above 100 and 250 ms. */
export function callTail(before: string, after: string, name: string, labels: Record<string, string> = {}): CallTail {
  const delta = (metric: string, extra: Record<string, string> = {}) => metricValue(after, metric, { ...labels, ...extra }) - metricValue(before, metric, { ...labels, ...extra });
  const calls = delta(`${name}_count`);
  const over = (le: string) => (calls > 0 ? (calls - delta(`${name}_bucket`, { le })) / calls : null);
  return { calls, over100ms: over('0.1'), over250ms: over('0.25') };
}

/** Garbage collections between two scrapes of a Node.js service (prom-client's nodejs_gc_duration_seconds). */
export function gcBetween(before: string, after: string, labels: Record<string, string> = {}) {
  const name = 'nodejs_gc_duration_seconds';
  const delta = (metric: string, extra: Record<string, string> = {}) => metricValue(after, metric, { ...labels, ...extra }) - metricValue(before, metric, { ...labels, ...extra });
  const collections = delta(`${name}_count`);
  return {
    collections,
    seconds: delta(`${name}_sum`),
    over100ms: collections - delta(`${name}_bucket`, { le: '0.1' }),
    majorCollections: delta(`${name}_count`, { kind: 'major' }),
    majorSeconds: delta(`${name}_sum`, { kind: 'major' }),
  };
}

const scrapeText = (url: string) =>
  fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) }).then(
    (r) => (r.ok ? r.text() : ''),
    () => '',
  );

/** Minute `n` after the quiet customer's first, as `YYYY-MM-DDTHH:MM`, and its epoch seconds. */
const QUIET_BASE = Date.parse('2024-03-01T00:00:00Z');
const quietMinute = (n: number) => new Date(QUIET_BASE + n * 60_000).toISOString().slice(0, 16);

export interface NoisySettings {
  /** How long A floods. */
  seconds: number;
  /** B alone before the flood: its figures without a neighbour. */
  baselineSeconds: number;
  floodClients: number;
  floodBytes: number;
  floodPaths: number;
  quietPerSecond: number;
  quietEntries: number;
}

/** What B's sending thread is told: where to send, and how much. */
interface QuietSenderData {
  role: typeof QUIET_SENDER;
  url: string;
  token: string;
  customer: string;
  perSecond: number;
  entries: number;
}
/** What it tells: each answer (with the phase its request was sent in), and at the end its event-loop delay under the flood. */
type QuietSenderMessage =
  | { kind: 'answer'; n: number; phase: number; status: number | 'network'; ms: number; at: number }
  | { kind: 'ready' }
  | { kind: 'done'; floodLoop: LoopDelay | null };
const QUIET_SENDER = 'bench-noisy-quiet-sender';
/** An event-loop delay histogram's p99 and max, in ms. */
const loopDelay = (h: ELDHistogram): LoopDelay => ({ p99Ms: h.percentile(99) / 1e6, maxMs: h.max / 1e6 });
/** Milliseconds on a clock both threads share (performance.now() is per thread). */
const wallMs = () => performance.timeOrigin + performance.now();

/**
 * B's gateway: `perSecond` batches of `entries` entries, each batch a minute of its own, on a
 * fixed schedule whatever the answers take (as a gateway forwards its traffic). It runs on a thread
 * of its own, as B's gateway runs apart from A's: on the flood's thread, A's 1.6 MB sends would
 * delay B's timings.
 */
async function quietSender(d: QuietSenderData): Promise<void> {
  const client = new IngestClient(8, 30_000, d.token);
  let phase = 0;
  let running = true;
  // In a holder: the flood's start sets it from a message handler.
  const probe: { loop?: ELDHistogram } = {};
  parentPort!.on('message', (m: { phase?: number; stop?: boolean }) => {
    if (m.phase !== undefined) {
      phase = m.phase;
      probe.loop = monitorEventLoopDelay({ resolution: 10 });
      probe.loop.enable();
    }
    if (m.stop) running = false;
  });
  const inFlight = new Set<Promise<void>>();
  parentPort!.postMessage({ kind: 'ready' } satisfies QuietSenderMessage);
  const t0 = performance.now();
  for (let n = 0; running; n++) {
    const due = t0 + (n * 1000) / d.perSecond;
    if (due > performance.now()) await sleep(due - performance.now());
    if (!running) break;
    const minute = quietMinute(n);
    const list = Array.from({ length: d.entries }, (_, i) => ({ receivedAt: `${minute}:${String(i % 60).padStart(2, '0')}.000Z`, method: i % 3 ? 'GET' : 'POST', path: ['/', '/api/orders', '/api/users'][i % 3], userAgent: 'curl/8.5.0' }));
    const send: Send = { customerId: d.customer, idempotencyKey: `q-${n}`, body: jsonBody(list), contentType: JSON_CONTENT_TYPE, entries: [], expect: { kind: 'accepted' } };
    const sentIn = phase;
    const request = client.post(d.url, send).then(
      (a) => parentPort!.postMessage({ kind: 'answer', n, phase: sentIn, status: a.status, ms: a.ms, at: wallMs() } satisfies QuietSenderMessage),
      () => parentPort!.postMessage({ kind: 'answer', n, phase: sentIn, status: 'network', ms: 0, at: wallMs() } satisfies QuietSenderMessage),
    );
    inFlight.add(request);
    void request.finally(() => inFlight.delete(request));
  }
  await Promise.all(inFlight);
  probe.loop?.disable();
  parentPort!.postMessage({ kind: 'done', floodLoop: probe.loop ? loopDelay(probe.loop) : null } satisfies QuietSenderMessage);
  client.close();
}

// This bundle is also B's sending thread.
if (!isMainThread && (workerData as QuietSenderData | undefined)?.role === QUIET_SENDER) void quietSender(workerData as QuietSenderData);

/**
 * The quiet customer: its sending thread (quietSender), and a poller that sees each accepted
 * minute appear in minute_aggregates.
 */
class QuietCustomer {
  readonly phases: Array<{ name: 'baseline' | 'flood'; latencies: number[]; statuses: Record<string, number>; freshness: number[]; sent: number }> = [];
  /** Minute index -> when its 202 came (wallMs), and in which phase. */
  private readonly pending = new Map<number, { at: number; phase: number }>();
  private running = false;
  private poller: Promise<void> = Promise.resolve();
  private sender?: Worker;
  private senderDone?: Promise<LoopDelay | null>;
  /** The sending thread's event-loop delay under the flood. */
  senderLoop: LoopDelay | null = null;
  private readonly gateway: ClickHouseGateway;
  private readonly view: string;

  constructor(
    private readonly ctx: BenchContext,
    readonly customer: string,
    private readonly perSecond: number,
    private readonly entries: number,
  ) {
    const ch = ctx.stack.clickhouse;
    this.gateway = ClickHouseGateway.fromSettings({ url: ch.url, username: ch.username, password: ch.password, database: ch.database, requestTimeoutMs: 10_000 });
    this.view = `${sqlIdentifier(ch.database)}.minute_aggregates`;
  }

  phase(name: 'baseline' | 'flood'): void {
    this.phases.push({ name, latencies: [], statuses: {}, freshness: [], sent: 0 });
    this.sender?.postMessage({ phase: this.phases.length - 1 });
  }

  /** Resolves once the sending thread sends (its start-up is not B's time alone). */
  start(): Promise<void> {
    this.running = true;
    const data: QuietSenderData = { role: QUIET_SENDER, url: this.ctx.stack.url('batch-ingestion'), token: gatewayToken(), customer: this.customer, perSecond: this.perSecond, entries: this.entries };
    const sender = new Worker(__filename, { workerData: data });
    this.sender = sender;
    let ready: () => void;
    const started = new Promise<void>((resolve) => (ready = resolve));
    this.senderDone = new Promise((resolve, reject) => {
      sender.on('message', (m: QuietSenderMessage) => {
        if (m.kind === 'ready') return ready();
        if (m.kind === 'done') return resolve(m.floodLoop);
        const p = this.phases[m.phase];
        p.sent++;
        p.statuses[m.status] = (p.statuses[m.status] ?? 0) + 1;
        if (m.status === 202) {
          p.latencies.push(m.ms);
          this.pending.set(m.n, { at: m.at, phase: m.phase });
        }
      });
      sender.once('error', reject);
      sender.once('exit', (code) => reject(new Error(`the quiet customer's sending thread exited (${code}) before it was done`)));
    });
    this.poller = (async () => {
      while (this.running || this.pending.size > 0) {
        if (this.pending.size > 0) {
          const minutes = [...this.pending.keys()];
          const from = Math.min(...minutes);
          const to = Math.max(...minutes);
          try {
            const rows = await this.gateway.query<{ ts: number | string; total: number | string }>(
              `SELECT toUnixTimestamp(window_start) AS ts, total_requests AS total FROM ${this.view}
               WHERE customer_id = ${sqlString(this.customer)} AND window_start >= toDateTime(${(QUIET_BASE / 1000 + from * 60).toFixed(0)}) AND window_start <= toDateTime(${(QUIET_BASE / 1000 + to * 60).toFixed(0)})`,
            );
            const now = wallMs();
            for (const r of rows) {
              const n = (Number(r.ts) * 1000 - QUIET_BASE) / 60_000;
              const p = this.pending.get(n);
              if (p && Number(r.total) === this.entries) {
                this.phases[p.phase].freshness.push(now - p.at);
                this.pending.delete(n);
              }
            }
          } catch {
            /* read again */
          }
        }
        await sleep(100);
      }
    })();
    return Promise.race([started, this.senderDone.then(() => undefined)]);
  }

  /** Stops sending; waits for the answers and (bounded) for every accepted minute to show. */
  async stop(maxWaitMs = 30_000): Promise<number> {
    this.sender?.postMessage({ stop: true });
    this.senderLoop = (await this.senderDone) ?? null;
    this.running = false;
    await this.sender?.terminate();
    const deadline = Date.now() + maxWaitMs;
    while (this.pending.size > 0 && Date.now() < deadline) await sleep(100);
    const unseen = this.pending.size;
    this.pending.clear();
    await this.poller;
    await this.gateway.close();
    return unseen;
  }
}

/**
 * Noisy neighbour: customer A floods from `floodClients` clients with bodies of `floodPaths`
 * distinct paths in one minute (a different set in each of 8 bodies, so A's window outgrows the
 * aggregator's path cap), honouring Retry-After as a gateway does, while customer B sends small
 * batches on a fixed schedule through the same gateway token. What B sees (its 202 latency, the
 * time from its 202 until its minute shows, whether it was ever refused), first alone, then under
 * the flood; how A was throttled; where the CPU went.
 */
export async function noisySection(ctx: BenchContext, s: NoisySettings): Promise<Omit<NoisySection, 'meta'>> {
  const log = new Progress('bench noisy');
  // After the quiet customer's last minute: a window behind its partition's newest is counted as a
  // late correction (and logged), which B's minutes, 20 a second of event time, would make of A's.
  const floodMinute = '2024-03-03T12:00';
  const pool = Array.from({ length: 8 }, (_, i) => floodBody(i, s.floodPaths, s.floodBytes, floodMinute));
  const bodyBytes = Math.round(pool.reduce((a, p) => a + p.body.length, 0) / pool.length);
  log.line(`A: ${s.floodClients} clients, bodies of ${(bodyBytes / 1e6).toFixed(2)} MB, ${pool[0].entries} entries, ${s.floodPaths} distinct paths each (8 different sets), one minute; B: ${s.quietPerSecond} batches/s of ${s.quietEntries} entries; ${s.baselineSeconds} s of B alone, then ${s.seconds} s of both`);
  const a = `bench-noisy-a-${ctx.tag}${ctx.stack.customerSuffix}`;
  const b = `bench-noisy-b-${ctx.tag}${ctx.stack.customerSuffix}`;
  await waitQuiet(ctx);

  const quiet = new QuietCustomer(ctx, b, s.quietPerSecond, s.quietEntries);
  quiet.phase('baseline');
  await quiet.start();
  await sleep(s.baselineSeconds * 1000);

  const flood = new IngestClient(s.floodClients);
  const statuses: Record<string, number> = {};
  const refusedBy: Record<string, number> = {};
  const latencies: number[] = [];
  let acceptedEntries = 0;
  let acceptedBytes = 0;
  let acceptedBatches = 0;
  let seq = 0;
  const ingestionOpsUrl = ctx.stack.opsUrl('batch-ingestion');
  // Also resets the event-loop delay histogram: the scrape after the flood reads the flood's alone.
  const metricsBefore = await scrapeText(ingestionOpsUrl);
  const before = ctx.meter.read();
  const ownLoop = monitorEventLoopDelay({ resolution: 10 });
  ownLoop.enable();
  const t0 = performance.now();
  const timeline: LagPoint[] = [];
  let sampling = true;
  const sampler = (async () => {
    let prev = ctx.meter.read();
    while (sampling) {
      await sleep(1_000);
      const l = ctx.lag ? await ctx.lag.read() : { summarizer: null, aggregator: null };
      const now = ctx.meter.read();
      const use = cpuBetween(prev, now);
      const cores: PerProcess<number | null> = {};
      for (const p of PROCESSES) cores[p] = use.seconds[p] === null || use.seconds[p] === undefined ? null : use.seconds[p]! / use.wallSeconds;
      timeline.push({ t: Math.round((now.at - t0) / 100) / 10, ...l, cores });
      prev = now;
    }
  })();
  const progress = new Progress('bench noisy');
  progress.every(() => {
    const q = quiet.phases[quiet.phases.length - 1];
    return `A: ${formatCounts(statuses)}, ${(acceptedBytes / 1e6 / ((performance.now() - t0) / 1000)).toFixed(1)} MB/s accepted | B: ${formatCounts(q.statuses)}, freshness seen ${q.freshness.length}`;
  });
  quiet.phase('flood');
  const end = t0 + s.seconds * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      const item = pool[seq % pool.length];
      const send: Send = { customerId: a, idempotencyKey: `a-${seq++}`, body: item.body, contentType: JSON_CONTENT_TYPE, entries: [], expect: { kind: 'accepted' } };
      try {
        const answer = await flood.post(ctx.stack.url('batch-ingestion'), send);
        statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
        if (answer.status === 202) {
          latencies.push(answer.ms);
          acceptedEntries += item.entries;
          acceptedBytes += item.body.length;
          acceptedBatches++;
        } else if (answer.status === 429 || answer.status === 503) {
          let by = answer.status === 503 ? 'instance in_flight' : '429';
          try {
            const d = JSON.parse(answer.body).error?.details;
            if (d?.scope) by = `${d.scope} ${d.limit}`;
          } catch {
            /* an answer without details */
          }
          refusedBy[by] = (refusedBy[by] ?? 0) + 1;
          // A gateway waits as asked (bounded by the end of the flood).
          await sleep(Math.min((answer.retryAfter ?? 1) * 1000, Math.max(0, end - performance.now())));
        }
      } catch {
        statuses.network = (statuses.network ?? 0) + 1;
        await sleep(100);
      }
    }
  };
  await Promise.all(Array.from({ length: s.floodClients }, worker));
  const sendSeconds = (performance.now() - t0) / 1000;
  const afterFlood = ctx.meter.read();
  ownLoop.disable();
  const metricsAfter = await scrapeText(ingestionOpsUrl);
  flood.close();
  const unseen = await quiet.stop();
  progress.stop();

  // A's window: its total once every accepted entry is in, and how many keys it holds then.
  const ch = ctx.stack.clickhouse;
  const gateway = ClickHouseGateway.fromSettings({ url: ch.url, username: ch.username, password: ch.password, database: ch.database, requestTimeoutMs: 10_000 });
  let aExactSeconds: number | null = null;
  let aWindow: { total: number; keys: number; other: number } | null = null;
  let lastError = '';
  const deadline = performance.now() + ctx.exactTimeoutMs;
  while (performance.now() < deadline) {
    const [row] = await gateway
      .query<{ total: number | string; keys: number | string; other: number | string }>(
        `SELECT total_requests AS total, length(path_keys) AS keys, arraySum(arrayFilter((n, k) -> k = ${sqlString(OTHER_PATH_KEY)}, path_counts, path_keys)) AS other
         FROM ${sqlIdentifier(ch.database)}.minute_aggregates WHERE customer_id = ${sqlString(a)}`,
      )
      .catch((err: Error) => {
        lastError = err.message.split('\n')[0];
        return [] as Array<{ total: number; keys: number; other: number }>;
      });
    if (row) aWindow = { total: Number(row.total), keys: Number(row.keys), other: Number(row.other) };
    if (aWindow?.total === acceptedEntries) {
      aExactSeconds = (performance.now() - t0) / 1000 - sendSeconds;
      break;
    }
    await sleep(250);
  }
  await gateway.close();
  if (aExactSeconds === null) log.line(`A's window not exact within ${ctx.exactTimeoutMs / 1000} s: ${aWindow ? `total ${aWindow.total} of ${acceptedEntries}` : lastError || 'no row'}`);
  sampling = false;
  await sampler;

  const cpu = cpuFigures(before, afterFlood, ctx.idleCores);
  const cpuPercent: PerProcess<number | null> = {};
  for (const p of PROCESSES) cpuPercent[p] = percentOfCore(cpu.cpuSeconds[p] ?? null, cpu.cpuWallSeconds);
  const phase = (name: 'baseline' | 'flood'): NoisyQuiet => {
    const p = quiet.phases.find((x) => x.name === name)!;
    const throttled = (p.statuses['429'] ?? 0) + (p.statuses['503'] ?? 0);
    return { sent: p.sent, statuses: p.statuses, throttled, latencyMs: summarize(p.latencies), freshnessMs: summarize(p.freshness) };
  };
  const result: Omit<NoisySection, 'meta'> = {
    seconds: s.seconds,
    baselineSeconds: s.baselineSeconds,
    flood: {
      customer: a,
      clients: s.floodClients,
      bodyBytes,
      entriesPerBatch: pool[0].entries,
      pathsPerBatch: s.floodPaths,
      sendSeconds,
      statuses,
      refusedBy,
      acceptedBatches,
      acceptedEntriesPerSecond: acceptedEntries / sendSeconds,
      acceptedBytesPerSecond: acceptedBytes / sendSeconds,
      latencyMs: summarize(latencies),
      exactAfterSeconds: aExactSeconds,
      window: aWindow,
    },
    quiet: { customer: b, perSecond: s.quietPerSecond, entries: s.quietEntries, baseline: phase('baseline'), flood: phase('flood'), unseen },
    ...cpu,
    cpuPercent,
    loadGeneratorEventLoop: { flood: loopDelay(ownLoop), quiet: quiet.senderLoop },
    lagPeak: { summarizer: Math.max(0, ...timeline.map((l) => l.summarizer ?? 0)), aggregator: Math.max(0, ...timeline.map((l) => l.aggregator ?? 0)) },
    ingestion:
      metricsBefore && metricsAfter
        ? {
            s3Put: callTail(metricsBefore, metricsAfter, 'ingestion_s3_call_duration_seconds', { operation: 'PutObject' }),
            kafkaPublish: callTail(metricsBefore, metricsAfter, 'ingestion_kafka_publish_duration_seconds'),
            eventLoopDelayP99Ms: metricValue(metricsAfter, 'nodejs_eventloop_lag_p99_seconds') * 1000,
            eventLoopDelayMaxMs: metricValue(metricsAfter, 'nodejs_eventloop_lag_max_seconds') * 1000,
            gc: gcBetween(metricsBefore, metricsAfter),
          }
        : null,
    timeline,
  };
  for (const line of describeNoisy(result)) log.line(line);
  return result;
}

const f0 = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? '-' : Math.round(v).toLocaleString('en-US'));

/** What the run shows, in sentences: what B saw, how A was held back, where the CPU went. */
export function describeNoisy(r: Omit<NoisySection, 'meta'>): string[] {
  const q = r.quiet;
  const a = r.flood;
  const refused = Object.entries(a.refusedBy)
    .sort((x, y) => y[1] - x[1])
    .map(([k, n]) => `${n.toLocaleString('en-US')} by ${k}`)
    .join(', ');
  const shares = PROCESSES.map((p) => [p, r.cpuPercent[p]] as const)
    .filter((x): x is readonly [(typeof PROCESSES)[number], number] => x[1] !== null && x[1] !== undefined)
    .sort((x, y) => y[1] - x[1])
    .map(([p, v]) => `${LABEL[p]} ${f0(v)}`)
    .join(', ');
  return [
    `B alone: ${q.baseline.sent} batches, 202 p50 ${f0(q.baseline.latencyMs.p50)} / p99 ${f0(q.baseline.latencyMs.p99)} ms, freshness p50 ${f0(q.baseline.freshnessMs.p50)} / p95 ${f0(q.baseline.freshnessMs.p95)} ms, refused ${q.baseline.throttled}.`,
    `B under the flood: ${q.flood.sent} batches, 202 p50 ${f0(q.flood.latencyMs.p50)} / p99 ${f0(q.flood.latencyMs.p99)} ms, freshness p50 ${f0(q.flood.freshnessMs.p50)} / p95 ${f0(q.flood.freshnessMs.p95)} ms, refused ${q.flood.throttled}${q.unseen ? `; ${q.unseen} accepted minutes not visible within 30 s after the end` : ''}.`,
    `A: ${f0(a.acceptedBatches)} batches accepted in ${a.sendSeconds.toFixed(0)} s (${(a.acceptedBytesPerSecond / 2 ** 20).toFixed(1)} MiB/s, ${f0(a.acceptedEntriesPerSecond)} entries/s; 202 p50 ${f0(a.latencyMs.p50)} ms); refused ${refused || 'never'}; answers ${formatCounts(a.statuses)}. ${
      a.exactAfterSeconds === null ? 'Its window was not exact within the bound' : `Its window was exact ${a.exactAfterSeconds.toFixed(1)} s after the flood ended`
    }${a.window ? ` (${f0(a.window.keys)} path keys, ${f0(a.window.other)} requests under ${OTHER_PATH_KEY})` : ''}.`,
    `CPU over the flood, % of one core: ${shares}${r.loadGeneratorCpuSeconds !== null ? `, load generator ${f0((100 * r.loadGeneratorCpuSeconds) / r.cpuWallSeconds)}` : ''}${r.otherMachineCpuSeconds !== null ? `, other work on the machine ${f0((100 * r.otherMachineCpuSeconds) / r.cpuWallSeconds)}` : ''}; machine ${f0(r.machineBusyPercent)} % busy.`,
    whereTheTimeGoes(r),
    ...(r.loadGeneratorEventLoop ? [loadGeneratorLine(r.loadGeneratorEventLoop)] : []),
    ...(r.ingestion ? [ingestionLine(r.ingestion)] : []),
  ];
}

/** The load generator's own event loops: a held loop on B's thread would make B's latencies longer than the ingestion made them. */
function loadGeneratorLine(l: NonNullable<NoisySection['loadGeneratorEventLoop']>): string {
  const quiet = l.quiet ? `p99 ${f0(l.quiet.p99Ms)} ms, max ${f0(l.quiet.maxMs)} ms` : 'not measured';
  return `The load generator's event loops during the flood: B's sending thread (where its answers are timed) ${quiet}; A's p99 ${f0(l.flood.p99Ms)} ms, max ${f0(l.flood.maxMs)} ms.`;
}

const pct = (v: number | null) => (v === null ? '-' : `${(100 * v).toFixed(1)} %`);

/** Where a 202 waits in the ingestion: its S3 write, its announcement, or the event loop (A's bodies parsed and validated). */
function ingestionLine(i: NonNullable<NoisySection['ingestion']>): string {
  return `In the ingestion during the flood (A's and B's requests together): S3 writes ${f0(i.s3Put.calls)}, ${pct(i.s3Put.over100ms)} over 100 ms and ${pct(i.s3Put.over250ms)} over 250 ms; Kafka publishes ${f0(i.kafkaPublish.calls)}, ${pct(i.kafkaPublish.over100ms)} over 100 ms and ${pct(i.kafkaPublish.over250ms)} over 250 ms; event-loop delay p99 ${f0(i.eventLoopDelayP99Ms)} ms, max ${f0(i.eventLoopDelayMaxMs)} ms${
    i.gc ? `; garbage collection ${f0(i.gc.collections)} times, ${(i.gc.seconds * 1000).toFixed(0)} ms in all (major ${f0(i.gc.majorCollections)}, ${(i.gc.majorSeconds * 1000).toFixed(0)} ms), ${f0(i.gc.over100ms)} over 100 ms` : ''
  }.`;
}

/**
 * Where B's freshness went, read off the lag timeline: a consumer whose lag grows while A floods
 * holds B's work behind A's (both customers' events share every partition of batch-ingested, keyed
 * customer|batch, and a partition's events start in offset order; partials share insight-events'
 * partitions by customer|minute). Plain statements of what was measured.
 */
function whereTheTimeGoes(r: Omit<NoisySection, 'meta'>): string {
  const sending = r.timeline.filter((l) => l.t <= r.flood.sendSeconds);
  const trend = (k: 'summarizer' | 'aggregator') => slope(sending.filter((l) => l[k] !== null).map((l) => ({ x: l.t, y: l[k]! })));
  const growth = { summarizer: trend('summarizer'), aggregator: trend('aggregator') };
  const parts = [
    `Lag while A flooded: summarizer peaked at ${f0(r.lagPeak.summarizer)} batches${growth.summarizer === null ? '' : ` (${growth.summarizer >= 0 ? 'growing' : 'shrinking'} ${Math.abs(growth.summarizer).toFixed(2)} a second)`}, aggregator at ${f0(r.lagPeak.aggregator)} partials${growth.aggregator === null ? '' : ` (${growth.aggregator >= 0 ? 'growing' : 'shrinking'} ${Math.abs(growth.aggregator).toFixed(2)} a second)`}.`,
  ];
  const a = r.flood.acceptedBatches / r.flood.sendSeconds;
  const input = { summarizer: a + r.quiet.perSecond, aggregator: a + r.quiet.perSecond };
  const behind = (['summarizer', 'aggregator'] as const).filter((k) => (growth[k] ?? 0) > 0.05 * input[k]);
  if (behind.length) parts.push(`The ${behind.join(' and the ')} fell behind: B's ${behind.includes('summarizer') ? 'batches wait behind A\'s in the same partitions of batch-ingested' : 'partials wait behind A\'s in the same partitions of insight-events'}, and its freshness is that queue.`);
  else parts.push('Neither consumer fell behind: B\'s freshness is its own path through the pipeline, slowed by the CPU A\'s batches take.');
  const other = r.otherMachineCpuSeconds === null ? 0 : r.otherMachineCpuSeconds / r.cpuWallSeconds;
  if (other >= 0.25) parts.push(`Other work on the machine took ${other.toFixed(2)} cores meanwhile, out of 2.`);
  return parts.join(' ');
}
