import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, relative, resolve } from 'node:path';
import {
  Aggregates,
  apiEntryStream,
  expectedResults,
  FAMILY_OF,
  fillBody,
  JSON_CONTENT_TYPE,
  jsonBody,
  MAX_BODY_BYTES,
  minuteAggregates,
  scenario001,
  Send,
  WindowCounts,
} from '../scenarios';
import { ROOT } from '../deploy/files';
import { AggregateReader, diffAggregates, NotExactError, waitUntilExact } from '../support/aggregates';
import { drive } from '../support/driver';
import { IngestClient } from '../support/http';
import { formatCounts, Progress, textTable } from '../support/progress';
import { stackEndpoints } from '@pipeline/testing';
import { ServiceName, SERVICES, Stack, startStack, targetMode } from '../support/stack';
import { lineChartPng } from './chart';
import { percentile, processesListeningOn, ResourceSampler, ResourceUse, summarizeProfile } from './stats';

/*
 * The benchmark: drives a running pipeline (native: starts its own, like the e2e suite) with
 * 20-entry and ~2 MiB batches at several concurrencies for a bounded time each, measures what
 * is accepted and when ClickHouse is exact, ingest latency, freshness, CPU and memory, and
 * writes docs/benchmarks.md with a PNG chart. It prints figures; it asserts nothing.
 */

const num = (name: string, fallback: number) => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
};
const list = (name: string, fallback: number[]) => (process.env[name] ? process.env[name]!.split(',').map(Number).filter((n) => n > 0) : fallback);

const SETTINGS = {
  smallSeconds: num('BENCH_SMALL_SECONDS', 15),
  largeSeconds: num('BENCH_LARGE_SECONDS', 20),
  /** The 4-client 2 MiB run the targets speak of lasts 60 s. */
  sustainedSeconds: num('BENCH_SUSTAINED_SECONDS', 60),
  smallConcurrency: list('BENCH_SMALL_CONCURRENCY', [1, 4, 16]),
  largeConcurrency: list('BENCH_LARGE_CONCURRENCY', [1, 4, 8]),
  exactTimeoutSeconds: num('BENCH_EXACT_TIMEOUT_SECONDS', 240),
  scenario001: process.env.BENCH_SCENARIO_001 !== '0',
  profile: process.env.BENCH_PROFILE !== '0',
  out: process.env.BENCH_OUT ?? 'docs/benchmarks.md',
};

const TARGETS = {
  scenario001Seconds: 30,
  largeMBps: 20,
  largeEntriesPerSecond: 100_000,
  smallP99Ms: 100,
  largeP99Ms: 400,
  freshnessP95Ms: 2_000,
  rssMiB: 300,
};

type Kind = 'small' | 'large';
const KIND_LABEL: Record<Kind, string> = { small: '20-entry', large: '~2 MiB' };

interface PoolItem {
  body: Buffer;
  entries: number;
  /** Minute windows of the body, keyed by epoch seconds. */
  minutes: Map<number, WindowCounts>;
}

/** A few distinct bodies sent over and over under new idempotency keys: the client stays cheap. */
function makePool(kind: Kind): PoolItem[] {
  const next = apiEntryStream(kind === 'small' ? 7001 : 7002, '2025-06-01T10:00', 10);
  const items: PoolItem[] = [];
  for (let i = 0; i < (kind === 'small' ? 200 : 6); i++) {
    const { body, entries } = kind === 'small' ? (() => { const e = Array.from({ length: 20 }, next); return { body: jsonBody(e), entries: e }; })() : fillBody(next, MAX_BODY_BYTES, false);
    const minutes = new Map<number, WindowCounts>();
    for (const [id, w] of minuteAggregates([{ customerId: 'x', entries }], FAMILY_OF)) minutes.set(Number(id.slice(2)), w);
    items.push({ body, entries: entries.length, minutes });
  }
  return items;
}

function addInto(target: Aggregates, customer: string, minutes: Map<number, WindowCounts>): void {
  for (const [ts, w] of minutes) {
    const id = `${customer}|${ts}`;
    const t = target.get(id) ?? { total: 0, paths: {}, uas: {} };
    t.total += w.total;
    for (const [k, n] of Object.entries(w.paths)) t.paths[k] = (t.paths[k] ?? 0) + n;
    for (const [k, n] of Object.entries(w.uas)) t.uas[k] = (t.uas[k] ?? 0) + n;
    target.set(id, t);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Freshness: one single-entry batch a second for a minute of its own (a separate customer, event
 * time moving forward), and the time from its 202 until that minute shows in minute_aggregates.
 */
class FreshnessProbe {
  private readonly client = new IngestClient(1);
  private readonly acceptedAt = new Map<number, number>();
  readonly freshnessMs: number[] = [];
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly customer: string;

  constructor(
    private readonly stack: Stack,
    private readonly reader: AggregateReader,
    tag: string,
  ) {
    this.customer = `bench-probe-${tag}${stack.customerSuffix}`;
  }

  start(): void {
    this.running = true;
    const base = Date.parse('2024-01-01T00:00:00Z');
    let n = 0;
    const send = async () => {
      while (this.running) {
        const minute = n++;
        const entry = { receivedAt: new Date(base + minute * 60_000 + 1_000).toISOString(), method: 'GET', path: '/probe', userAgent: 'curl/7.88.1' };
        const probe: Send = { customerId: this.customer, idempotencyKey: `probe-${minute}`, body: jsonBody([entry]), contentType: JSON_CONTENT_TYPE, entries: [entry], expect: { kind: 'accepted' } };
        try {
          const answer = await this.client.post(this.stack.url('batch-ingestion'), probe);
          if (answer.status === 202) this.acceptedAt.set(Math.floor((base + minute * 60_000) / 1000), performance.now());
        } catch {
          /* a lost probe is just not measured */
        }
        await sleep(1_000);
      }
    };
    const poll = async () => {
      while (this.running || this.acceptedAt.size > 0) {
        if (this.acceptedAt.size > 0) {
          try {
            const visible = await this.reader.read('minute', [this.customer]);
            const now = performance.now();
            for (const id of visible.keys()) {
              const ts = Number(id.slice(id.lastIndexOf('|') + 1));
              const at = this.acceptedAt.get(ts);
              if (at !== undefined) {
                this.freshnessMs.push(now - at);
                this.acceptedAt.delete(ts);
              }
            }
          } catch {
            /* try again */
          }
        }
        // Every read of the view costs ClickHouse work on the same cores: a few reads a second.
        await sleep(250);
      }
    };
    this.loops = [send(), poll()];
  }

  /** Stops sending and waits (bounded) for the outstanding probes to become visible. */
  async stop(maxWaitMs = 30_000): Promise<void> {
    this.running = false;
    const deadline = Date.now() + maxWaitMs;
    while (this.acceptedAt.size > 0 && Date.now() < deadline) await sleep(100);
    this.acceptedAt.clear();
    await Promise.all(this.loops);
    this.client.close();
  }
}

interface RunResult {
  kind: Kind;
  concurrency: number;
  seconds: number;
  requests: number;
  statuses: Record<string, number>;
  entries: number;
  bytes: number;
  latencyP50: number | null;
  latencyP99: number | null;
  freshnessP50: number | null;
  freshnessP95: number | null;
  freshnessSamples: number;
  /** Seconds from the first send until minute_aggregates was exact (null: not within the bound). */
  exactAfterSeconds: number | null;
  exactProblem?: string;
  resources: ResourceUse;
}

async function loadRun(stack: Stack, reader: AggregateReader, sampler: ResourceSampler, kind: Kind, concurrency: number, seconds: number, pool: PoolItem[], tag: string): Promise<RunResult> {
  const label = `${KIND_LABEL[kind]} c=${concurrency}`;
  const progress = new Progress(`bench ${label}`);
  const customer = `bench-${kind}-c${concurrency}-${tag}${stack.customerSuffix}`;
  const client = new IngestClient(concurrency);
  const expected: Aggregates = new Map();
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let entries = 0;
  let bytes = 0;
  let seq = 0;
  const probe = new FreshnessProbe(stack, reader, `${kind}-c${concurrency}-${tag}`);
  const t0 = performance.now();
  const startedAt = Date.now();
  const end = t0 + seconds * 1000;
  progress.every(() => `accepted ${entries} entries (${(bytes / 1e6).toFixed(1)} MB) | answers ${formatCounts(statuses)} | ${(entries / ((performance.now() - t0) / 1000)).toFixed(0)} entries/s`);
  probe.start();

  const worker = async () => {
    while (performance.now() < end) {
      const item = pool[seq % pool.length];
      const send: Send = { customerId: customer, idempotencyKey: `b-${seq++}`, body: item.body, contentType: JSON_CONTENT_TYPE, entries: [], expect: { kind: 'accepted' } };
      // Retry a send until it is answered for good, as a client must (bounded past the end).
      for (let attempt = 0; performance.now() < end + 30_000; attempt++) {
        try {
          const answer = await client.post(stack.url('batch-ingestion'), send);
          statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
          if (answer.status === 503 || answer.status === 429) {
            await sleep(Math.min(2_000, (answer.retryAfter ?? 0.2) * 1000));
            continue;
          }
          if (answer.status === 202) {
            latencies.push(answer.ms);
            entries += item.entries;
            bytes += item.body.length;
            addInto(expected, customer, item.minutes);
          }
          break;
        } catch {
          statuses.network = (statuses.network ?? 0) + 1;
          await sleep(100 * 2 ** Math.min(attempt, 4));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const sendSeconds = (performance.now() - t0) / 1000;
  progress.stop();
  client.close();
  progress.line(`sent for ${sendSeconds.toFixed(1)} s: ${entries} entries accepted, ${(bytes / 1e6).toFixed(1)} MB | answers ${formatCounts(statuses)}; waiting for exact counts`);

  // Exact: every minute window of this run's customer as expected, polled (bounded).
  let exactAfterSeconds: number | null = null;
  let exactProblem: string | undefined;
  const deadline = Date.now() + SETTINGS.exactTimeoutSeconds * 1000;
  for (;;) {
    try {
      const diff = diffAggregates(expected, await reader.read('minute', [customer]), 3);
      if (diff.length === 0) {
        exactAfterSeconds = (Date.now() - startedAt) / 1000;
        break;
      }
      exactProblem = diff.join('; ');
    } catch (err) {
      exactProblem = (err as Error).message;
    }
    if (Date.now() > deadline) break;
    await sleep(1_000);
  }
  const exactAt = performance.now();
  await probe.stop();
  progress.line(exactAfterSeconds === null ? `NOT exact within ${SETTINGS.exactTimeoutSeconds} s: ${exactProblem}` : `exact ${exactAfterSeconds.toFixed(1)} s after the first send`);
  return {
    kind,
    concurrency,
    seconds: sendSeconds,
    requests: latencies.length,
    statuses,
    entries,
    bytes,
    latencyP50: percentile(latencies, 50),
    latencyP99: percentile(latencies, 99),
    freshnessP50: percentile(probe.freshnessMs, 50),
    freshnessP95: percentile(probe.freshnessMs, 95),
    freshnessSamples: probe.freshnessMs.length,
    exactAfterSeconds,
    exactProblem: exactAfterSeconds === null ? exactProblem : undefined,
    resources: sampler.between(t0, exactAt),
  };
}

interface Scenario001Result {
  sendSeconds: number;
  exactAfterSeconds: number | null;
  statuses: Record<string, number>;
  problem?: string;
  resources: ResourceUse;
}

async function runScenario001(stack: Stack, reader: AggregateReader, sampler: ResourceSampler): Promise<Scenario001Result> {
  const progress = new Progress('bench 001');
  const scenario = scenario001({ customerSuffix: stack.customerSuffix });
  const t0 = performance.now();
  const report = await drive(scenario.sends, { inFlight: scenario.inFlight, ingestUrl: () => stack.url('batch-ingestion'), progress });
  const statuses: Record<string, number> = {};
  for (const r of report.records) statuses[String(r.status)] = (statuses[String(r.status)] ?? 0) + 1;
  try {
    const exact = await waitUntilExact(reader, expectedResults(scenario), { customers: scenario.customers, since: report.startedAt, progress, settleMs: 1_000 });
    return { sendSeconds: (report.finishedAt - report.startedAt) / 1000, exactAfterSeconds: exact.exactAfterMs / 1000, statuses, resources: sampler.between(t0, performance.now()) };
  } catch (err) {
    if (!(err instanceof NotExactError)) throw err;
    return { sendSeconds: (report.finishedAt - report.startedAt) / 1000, exactAfterSeconds: null, statuses, problem: err.message, resources: sampler.between(t0, performance.now()) };
  }
}

// ---------------------------------------------------------------------------------------------
// Report

const f0 = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(0));
const f1 = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(1));
const mdTable = (headers: string[], rows: (string | number)[][]) =>
  [`| ${headers.join(' | ')} |`, `| ${headers.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

function verdict(ok: boolean | null, measured: string, detail: string): string {
  if (ok === null) return `not measured (${detail})`;
  return ok ? `met (${measured})` : `**missed** (${measured}; ${detail})`;
}

const SHORT: Record<ServiceName, string> = { 'batch-ingestion': 'ingestion', 'batch-summarizer': 'summarizer', 'window-aggregator': 'aggregator' };

interface Profiles {
  dir: string;
  summaries: Partial<Record<ServiceName, ReturnType<typeof summarizeProfile>>>;
}

function report(stack: Stack, runs: RunResult[], s001: Scenario001Result | null, peak: Partial<Record<ServiceName, number>>, profiles: Profiles | null, chartFile: string, startedAt: Date, seconds: number): string {
  const cpu = cpus();
  const throughputRows = runs.map((r) => {
    const exactSeconds = r.exactAfterSeconds;
    return [
      KIND_LABEL[r.kind],
      r.concurrency,
      f0(r.seconds),
      r.requests,
      r.entries,
      f0(r.entries / r.seconds),
      f1(r.bytes / 1e6 / r.seconds),
      exactSeconds === null ? 'not exact' : f0(r.entries / exactSeconds),
      exactSeconds === null ? '-' : f1(exactSeconds - r.seconds),
      f1(r.latencyP50),
      f1(r.latencyP99),
      `${f0(r.freshnessP50)} / ${f0(r.freshnessP95)} (${r.freshnessSamples})`,
      formatCounts(r.statuses),
    ];
  });
  const otherNames = [...new Set(runs.flatMap((r) => Object.keys(r.resources.otherCpuPercent)))];
  const resourceRows = runs.map((r) => [
    KIND_LABEL[r.kind],
    r.concurrency,
    ...SERVICES.map((s) => `${f0(r.resources.cpuPercent[s])} % / ${f0(r.resources.peakRssMiB[s])} MiB`),
    ...otherNames.map((n) => `${f0(r.resources.otherCpuPercent[n])} %`),
    `${f0(r.resources.machineBusyPercent)} %`,
  ]);

  const sustained = runs.find((r) => r.kind === 'large' && r.concurrency === 4);
  const smallAt4 = runs.find((r) => r.kind === 'small' && r.concurrency === 4);
  const fresh = runs.flatMap((r) => (r.freshnessP95 === null ? [] : [r.freshnessP95]));
  const worstFreshness = fresh.length ? Math.max(...fresh) : null;
  const peakRss = Math.max(...SERVICES.map((s) => peak[s] ?? 0));
  const sustainedMBps = sustained ? sustained.bytes / 1e6 / sustained.seconds : null;
  const sustainedEps = sustained ? sustained.entries / sustained.seconds : null;
  const sustainedExactMBps = sustained?.exactAfterSeconds ? sustained.bytes / 1e6 / sustained.exactAfterSeconds : null;
  const targetRows = [
    [
      `scenario 001 exact within ${TARGETS.scenario001Seconds} s of its first send`,
      s001 ? verdict(s001.exactAfterSeconds !== null && s001.exactAfterSeconds <= TARGETS.scenario001Seconds, `${f1(s001.exactAfterSeconds)} s`, s001.exactAfterSeconds === null ? 'not exact' : `${f1(s001.exactAfterSeconds - TARGETS.scenario001Seconds)} s over, ${f0((100 * s001.exactAfterSeconds) / TARGETS.scenario001Seconds - 100)} % more`) : 'not run',
    ],
    [
      `~2 MiB batches, 4 clients, ${SETTINGS.sustainedSeconds} s: >= ${TARGETS.largeMBps} MB/s accepted (~${TARGETS.largeEntriesPerSecond.toLocaleString('en')} entries/s)`,
      sustained ? verdict(sustainedMBps! >= TARGETS.largeMBps, `${f1(sustainedMBps)} MB/s, ${f0(sustainedEps)} entries/s`, `${f0(100 - (100 * sustainedMBps!) / TARGETS.largeMBps)} % short`) : 'not run',
    ],
    [
      `... and exact in ClickHouse at that rate`,
      sustained ? verdict(sustainedExactMBps !== null && sustainedExactMBps >= TARGETS.largeMBps, `${f1(sustainedExactMBps)} MB/s until exact`, sustainedExactMBps === null ? 'not exact' : `${f0(100 - (100 * sustainedExactMBps) / TARGETS.largeMBps)} % short`) : 'not run',
    ],
    [
      `ingest latency p99 < ${TARGETS.smallP99Ms} ms for 20-entry batches (4 clients)`,
      smallAt4 ? verdict(smallAt4.latencyP99! < TARGETS.smallP99Ms, `${f1(smallAt4.latencyP99)} ms`, `${f1(smallAt4.latencyP99! - TARGETS.smallP99Ms)} ms over`) : 'not run',
    ],
    [
      `ingest latency p99 < ${TARGETS.largeP99Ms} ms for 2 MiB batches (4 clients)`,
      sustained ? verdict(sustained.latencyP99! < TARGETS.largeP99Ms, `${f1(sustained.latencyP99)} ms`, `${f1(sustained.latencyP99! - TARGETS.largeP99Ms)} ms over`) : 'not run',
    ],
    [
      `freshness p95 < ${TARGETS.freshnessP95Ms / 1000} s (worst run)`,
      verdict(worstFreshness === null ? null : worstFreshness < TARGETS.freshnessP95Ms, `${f0(worstFreshness)} ms`, worstFreshness === null ? 'no probe became visible' : `${f0(worstFreshness - TARGETS.freshnessP95Ms)} ms over`),
    ],
    [
      `each service < ${TARGETS.rssMiB} MiB resident (peak)`,
      verdict(peakRss > 0 ? peakRss < TARGETS.rssMiB : null, SERVICES.map((s) => `${SHORT[s]} ${f0(peak[s])} MiB`).join(', '), `${f0(peakRss - TARGETS.rssMiB)} MiB over`),
    ],
  ];

  const busiest = (r: RunResult) => {
    const [service, pct] = SERVICES.map((s) => [s, r.resources.cpuPercent[s] ?? 0] as const).sort((a, b) => b[1] - a[1])[0];
    return `${KIND_LABEL[r.kind]} c=${r.concurrency}: busiest service ${SHORT[service]} at ${f0(pct)} % of a core, machine ${f0(r.resources.machineBusyPercent)} % busy`;
  };

  const lines = [
    '# Benchmarks',
    '',
    `Written by \`npm run bench\` (\`nx run e2e:bench\`) on ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC in ${f0(seconds / 60)} min. Everything runs on one machine: ${cpu.length} × ${cpu[0]?.model ?? 'CPU'}, ${f0(totalmem() / 2 ** 30)} GiB, Node.js ${process.version}, target \`${stack.mode}\` (Kafka, MinIO and ClickHouse on the same cores as the three services and this load generator). Traffic stays on loopback. The figures are measured, not asserted.`,
    '',
    '## Targets',
    '',
    mdTable(['target', 'result'], targetRows),
    '',
    '## Throughput, latency, freshness',
    '',
    `Each run sends distinct batches (new idempotency keys, bodies from a pool of ${makePoolSizes()}) from N concurrent clients for a fixed time, then polls \`minute_aggregates\` until every window of the run's customer is exact. *Until exact* is the accepted entries divided by the time from the first send to exactness. Latency is the time to a 202 as the client sees it. Freshness is measured by a probe that sends one single-entry batch a second (for a minute of its own) during the run: the time from its 202 until that minute is visible in \`minute_aggregates\`.`,
    '',
    mdTable(
      ['batch', 'clients', 'sending s', 'batches', 'entries', 'accepted entries/s', 'accepted MB/s', 'entries/s until exact', 'exact s after last send', 'latency p50 ms', 'latency p99 ms', 'freshness p50 / p95 ms (probes)', 'answers'],
      throughputRows,
    ),
    '',
    `![throughput against concurrency](${chartFile})`,
    '',
    '## CPU and memory',
    '',
    `Average CPU (in % of one core) and peak resident memory of each service over each run (from sending to exactness), read from the services' own \`/metrics\` (\`process_cpu_seconds_total\`, \`process_resident_memory_bytes\`)${otherNames.length ? `; the CPU of ${otherNames.join(', ')} from /proc` : ''}; *machine* is the busy share of both cores (every process on the machine).`,
    '',
    mdTable(['batch', 'clients', ...SERVICES.map((s) => `${SHORT[s]} CPU / RSS`), ...otherNames.map((n) => `${n} CPU`), 'machine busy'], resourceRows),
    '',
    ...runs.map((r) => `- ${busiest(r)}`),
    '',
    '## What bounds it',
    '',
    ...observations(runs, peak).map((o) => `- ${o}`),
    '',
  ];
  if (s001) {
    lines.push(
      '## Scenario 001',
      '',
      `The reference scenario (5,200 sends, 2 in flight): sending took ${f1(s001.sendSeconds)} s, answers ${formatCounts(s001.statuses)}; exact in all three views ${s001.exactAfterSeconds === null ? `never within the bound (${s001.problem})` : `${f1(s001.exactAfterSeconds)} s after the first send`}. CPU over the run: ${SERVICES.map((s) => `${SHORT[s]} ${f0(s001.resources.cpuPercent[s])} %`).join(', ')}; machine ${f0(s001.resources.machineBusyPercent)} % busy.`,
      '',
    );
  }
  if (profiles && Object.keys(profiles.summaries).length) {
    lines.push(
      '## Where the time goes (CPU profiles)',
      '',
      `V8 CPU profiles (\`--cpu-prof\`, files in \`${profiles.dir}\`) of a separate short stack, so that the profiler weighs on none of the figures above: ${PROFILE_RUNS.map((r) => `${KIND_LABEL[r.kind]} batches at ${r.concurrency} clients for ${r.seconds} s`).join(', then ')}. Self time by owner of the code, and the hottest functions, in % of each service's busy time.`,
      '',
    );
    for (const s of SERVICES) {
      const p = profiles.summaries[s];
      if (!p) continue;
      lines.push(`**${s}** (${f1(p.totalMs / 1000)} s of CPU): ${p.byOwner.map((o) => `${o.owner} ${f0(o.percent)} %`).join(', ')}.`, '');
      lines.push(mdTable(['function', 'self %'], p.byFunction.map((fn) => [`\`${fn.fn.replace(/\|/g, '\\|')}\``, f1(fn.percent)])), '');
    }
  }
  lines.push(
    '## Reproduce',
    '',
    '```sh',
    'npm run bench                                  # native: starts the three services on the local stack',
    'E2E_TARGET=external E2E_INGEST_URL=http://127.0.0.1:8080 npm run bench   # a running stack (docker-compose up)',
    '```',
    '',
    `Settings of this run: 20-entry runs ${SETTINGS.smallSeconds} s at ${SETTINGS.smallConcurrency.join(', ')} clients; ~2 MiB runs ${SETTINGS.largeSeconds} s at ${SETTINGS.largeConcurrency.join(', ')} clients (${SETTINGS.sustainedSeconds} s at 4); exactness bounded at ${SETTINGS.exactTimeoutSeconds} s. Environment variables: BENCH_SMALL_SECONDS, BENCH_LARGE_SECONDS, BENCH_SUSTAINED_SECONDS, BENCH_SMALL_CONCURRENCY, BENCH_LARGE_CONCURRENCY, BENCH_EXACT_TIMEOUT_SECONDS, BENCH_SCENARIO_001=0, BENCH_PROFILE=0, BENCH_OUT.`,
    '',
  );
  return lines.join('\n');
}

/** Plain statements read off the figures: where the backlog forms and what the machine had left. */
function observations(runs: RunResult[], peak: Partial<Record<ServiceName, number>>): string[] {
  const out: string[] = [];
  for (const kind of ['small', 'large'] as Kind[]) {
    const mine = runs.filter((r) => r.kind === kind);
    if (!mine.length) continue;
    const top = mine.reduce((a, b) => (b.entries / b.seconds > a.entries / a.seconds ? b : a));
    const accepted = top.entries / top.seconds;
    const exact = top.exactAfterSeconds ? top.entries / top.exactAfterSeconds : null;
    const processing = SERVICES.filter((s) => s !== 'batch-ingestion')
      .map((s) => `${SHORT[s]} ${f0(top.resources.cpuPercent[s])} %`)
      .join(', ');
    if (exact !== null && exact < accepted * 0.9) {
      out.push(
        `${KIND_LABEL[kind]} batches: the ingestion accepts up to ${f0(accepted)} entries/s (${top.concurrency} clients) while the pipeline behind it makes ${f0(exact)} entries/s exact: the consumers (${processing} of a core) fall behind, a backlog builds in Kafka for the length of the run, and freshness grows with it (p95 ${f0(top.freshnessP95)} ms). Freshness under the 2 s target needs a sending rate the consumers keep up with.`,
      );
    } else {
      out.push(`${KIND_LABEL[kind]} batches: the consumers keep up with the ingestion (${f0(accepted)} entries/s accepted, ${f0(exact)} exact).`);
    }
    const otherCpu = Object.entries(top.resources.otherCpuPercent);
    if (otherCpu.length) {
      const services = SERVICES.reduce((a, s) => a + (top.resources.cpuPercent[s] ?? 0), 0);
      out.push(
        `${KIND_LABEL[kind]} c=${top.concurrency}, where the CPU went (in % of one core; the machine has ${cpus().length} cores): the three services ${f0(services)} %, ${otherCpu.map(([n, v]) => `${n} ${f0(v)} %`).join(', ')}; machine ${f0(top.resources.machineBusyPercent)} % busy.`,
      );
    }
    const first = mine[0];
    const last = mine[mine.length - 1];
    if (mine.length > 1) {
      const gain = last.entries / last.seconds / (first.entries / first.seconds);
      out.push(
        `${KIND_LABEL[kind]} batches from ${first.concurrency} to ${last.concurrency} clients: ${f1(gain)}× the accepted rate, latency p50 ${f1(first.latencyP50)} -> ${f1(last.latencyP50)} ms; the machine was ${f0(last.resources.machineBusyPercent)} % busy (two cores shared by Kafka, MinIO, ClickHouse, the three services and the load generator).`,
      );
    }
  }
  const heavy = SERVICES.filter((s) => (peak[s] ?? 0) >= TARGETS.rssMiB);
  if (heavy.length) {
    out.push(
      `Memory: ${heavy.map((s) => `${SHORT[s]} peaks at ${f0(peak[s])} MiB`).join(', ')}. ~2 MiB batches are held whole in memory (body, parsed entries, the S3 object) by each concurrent request or consumed batch; ${runs.map((r) => `${KIND_LABEL[r.kind]} c=${r.concurrency}: ${SERVICES.map((s) => f0(r.resources.peakRssMiB[s])).join('/')}`).join('; ')} MiB (ingestion/summarizer/aggregator).`,
    );
  }
  return out;
}

let poolSizes = '';
const makePoolSizes = () => poolSizes;

/**
 * CPU profiles come from a second, short stack started with `--cpu-prof`, so that the profiler
 * (its samples stay in memory until exit) weighs on none of the figures of the main runs.
 */
async function profileServices(pools: Record<Kind, PoolItem[]>, tag: string): Promise<Profiles | null> {
  const dir = join(ROOT, 'dist', 'bench', 'profiles');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const log = new Progress('bench profile');
  log.line(`profiling: a fresh stack with --cpu-prof, ${PROFILE_RUNS.map((r) => `${KIND_LABEL[r.kind]} c=${r.concurrency} ${r.seconds} s`).join(', ')}`);
  const stack = await startStack({ name: 'benchprof', env: { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${dir}` } });
  const pids = Object.fromEntries(SERVICES.map((s) => [s, stack.pid?.(s)]));
  const reader = new AggregateReader(stack.clickhouse);
  const sampler = new ResourceSampler((s) => stack.url(s));
  try {
    for (const r of PROFILE_RUNS) await loadRun(stack, reader, sampler, r.kind, r.concurrency, r.seconds, pools[r.kind], `prof${tag}`);
  } finally {
    await reader.close();
    await stack.stop();
  }
  const profiles: Profiles = { dir: relative(ROOT, dir), summaries: {} };
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    // CPU.<date>.<time>.<pid>.<thread>.<sequence>.cpuprofile
    const pid = Number(/\.(\d+)\.\d+\.\d+\.cpuprofile$/.exec(file)?.[1]);
    const service = SERVICES.find((s) => pids[s] === pid);
    if (service) profiles.summaries[service] = summarizeProfile(join(dir, file));
  }
  return profiles;
}

const PROFILE_RUNS: ReadonlyArray<{ kind: Kind; concurrency: number; seconds: number }> = [
  { kind: 'small', concurrency: 4, seconds: 10 },
  { kind: 'large', concurrency: 4, seconds: 20 },
];

export async function main(): Promise<number> {
  const startedAt = new Date();
  const t0 = performance.now();
  const mode = targetMode();
  const log = new Progress('bench');
  log.line(`target ${mode}; ${mode === 'external' ? 'using the running stack' : 'starting the stack'}`);
  const stack = await startStack({ name: 'bench' });
  const reader = new AggregateReader(stack.clickhouse);
  // The stack's servers when they run on this machine (native, or an external stack on loopback), and this process.
  const port = (url: string) => Number(new URL(url.includes('://') ? url : `tcp://${url}`).port);
  const endpoints = stackEndpoints();
  const others =
    mode === 'containers'
      ? {}
      : processesListeningOn({ Kafka: port(endpoints.kafkaBrokers.split(',')[0]), MinIO: port(endpoints.s3Endpoint), ClickHouse: port(stack.clickhouse.url) });
  others['load generator'] = process.pid;
  const sampler = new ResourceSampler((s) => stack.url(s), others);
  sampler.start();
  const tag = Date.now().toString(36);
  const runs: RunResult[] = [];
  let s001: Scenario001Result | null = null;
  const pools = { small: makePool('small'), large: makePool('large') };
  poolSizes = `${pools.small.length} 20-entry bodies and ${pools.large.length} bodies of ${f1(pools.large.reduce((a, p) => a + p.body.length, 0) / pools.large.length / 2 ** 20)} MiB (${f0(pools.large.reduce((a, p) => a + p.entries, 0) / pools.large.length)} entries) on average`;
  try {
    log.line('warm-up: 5 s of 20-entry batches at 4 clients (not reported)');
    await loadRun(stack, reader, sampler, 'small', 4, 5, pools.small, `warm${tag}`);
    if (SETTINGS.scenario001) s001 = await runScenario001(stack, reader, sampler);
    for (const c of SETTINGS.smallConcurrency) runs.push(await loadRun(stack, reader, sampler, 'small', c, SETTINGS.smallSeconds, pools.small, tag));
    for (const c of SETTINGS.largeConcurrency) runs.push(await loadRun(stack, reader, sampler, 'large', c, c === 4 ? SETTINGS.sustainedSeconds : SETTINGS.largeSeconds, pools.large, tag));
  } finally {
    sampler.stop();
    await reader.close();
    await stack.stop();
  }
  const peak = sampler.peakRssOverall();
  const profiles = SETTINGS.profile && mode === 'native' ? await profileServices(pools, tag) : null;

  const out = resolve(ROOT, SETTINGS.out);
  const chartName = 'benchmarks-throughput.png';
  const series = (['small', 'large'] as Kind[]).flatMap((kind, i) => {
    const mine = runs.filter((r) => r.kind === kind);
    const color = ['#1f77b4', '#d62728'][i];
    return [
      { label: `${KIND_LABEL[kind]} accepted`, color, points: mine.map((r) => ({ x: r.concurrency, y: r.entries / r.seconds })) },
      { label: `${KIND_LABEL[kind]} until exact`, color, dashed: true, points: mine.map((r) => ({ x: r.concurrency, y: r.exactAfterSeconds ? r.entries / r.exactAfterSeconds : null })) },
    ];
  });
  mkdirSync(join(out, '..'), { recursive: true });
  writeFileSync(join(out, '..', chartName), lineChartPng('Throughput against concurrency (entries/s, log scale)', 'concurrent clients', 'entries per second', series));
  const seconds = (performance.now() - t0) / 1000;
  writeFileSync(out, report(stack, runs, s001, peak, profiles, chartName, startedAt, seconds));

  process.stdout.write(
    `\n${textTable(
      ['batch', 'clients', 'entries/s', 'MB/s', 'until exact entries/s', 'p50 ms', 'p99 ms', 'fresh p50/p95 ms', 'CPU % ingest/summ/aggr', 'RSS MiB ingest/summ/aggr'],
      runs.map((r) => [
        KIND_LABEL[r.kind],
        r.concurrency,
        f0(r.entries / r.seconds),
        f1(r.bytes / 1e6 / r.seconds),
        r.exactAfterSeconds ? f0(r.entries / r.exactAfterSeconds) : 'not exact',
        f1(r.latencyP50),
        f1(r.latencyP99),
        `${f0(r.freshnessP50)}/${f0(r.freshnessP95)}`,
        SERVICES.map((s) => f0(r.resources.cpuPercent[s])).join('/'),
        SERVICES.map((s) => f0(r.resources.peakRssMiB[s])).join('/'),
      ]),
    )}\n${s001 ? `\nscenario 001: exact ${f1(s001.exactAfterSeconds)} s after the first send (sending ${f1(s001.sendSeconds)} s)\n` : ''}\nwrote ${relative(ROOT, out)} and ${chartName} in ${f0(seconds)} s\n`,
  );
  return 0;
}
