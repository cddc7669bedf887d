import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { ROOT } from '../deploy/files';
import { apiEntryStream, JSON_CONTENT_TYPE, jsonBody, Send } from '../scenarios';
import { AggregateReader } from '../support/aggregates';
import { IngestClient } from '../support/http';
import { Progress } from '../support/progress';
import { SERVICES, Stack, targetMode } from '../support/stack';
import { startStack } from '../support/start-stack';
import { BenchContext, currentCommit, ensureServices, LagReader, runSection, sleep, waitQuiet } from './context';
import { benchmarkChartPng } from './dashboard';
import { Meter } from './meter';
import { processesListeningOn } from './proc';
import { profileSection } from './profile';
import { compareFigures, generatedMarkdown, keyFigures, mergeGenerated } from './report';
import { BenchResults, LOAD_GENERATOR, mergeResults, PerProcess, PROCESSES, parseSections, SectionMeta, SectionName } from './results';
import { hotSection } from './section-hot';
import { idleSection } from './section-idle';
import { largeCustomer, largeSection } from './section-large';
import { noisySection } from './section-noisy';
import { s001Section } from './section-s001';
import { OwnServers, startOwnServers } from './servers';
import { cpuBetween } from './stats';
import { evaluateTargets } from './targets';

/*
 * The benchmark (`npm run bench`): measures what the performance targets speak of, on a stack it
 * starts for itself, and records the figures in docs/benchmarks.json and the generated part of
 * docs/benchmarks.md (with a chart). It prints figures; it asserts nothing. Settings are
 * environment variables (e2e/README.md).
 */

const num = (name: string, fallback: number) => {
  const v = Number(process.env[name]);
  return process.env[name] !== undefined && Number.isFinite(v) && v >= 0 ? v : fallback;
};
const list = (name: string, fallback: number[]) => (process.env[name] ? process.env[name]!.split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0) : fallback);

/** BENCH_* variables that change what is measured (not where it is written or which servers run it). */
export function changedSettings(env: NodeJS.ProcessEnv = process.env): string[] {
  const neutral = new Set(['BENCH_RECORD', 'BENCH_DOCS', 'BENCH_KEEP', 'BENCH_SERVERS', 'BENCH_REDRAW', 'BENCH_MACHINE_QUIET_WAIT_SECONDS']);
  return Object.keys(env).filter((k) => k.startsWith('BENCH_') && !neutral.has(k));
}

export const SETTINGS = {
  sections: parseSections(process.env.BENCH_SECTIONS),
  warmupSeconds: num('BENCH_WARMUP_SECONDS', 60),
  idlePosts: num('BENCH_IDLE_POSTS', 500),
  idleGapMs: num('BENCH_IDLE_GAP_MS', 20),
  s001InFlight: list('BENCH_S001_IN_FLIGHT', [2, 8]),
  largeClients: list('BENCH_LARGE_CLIENTS', [1, 4]),
  largeSeconds: num('BENCH_LARGE_SECONDS', 30),
  largeEntries: num('BENCH_LARGE_ENTRIES', 11_000),
  /** What the profile section runs: s001 (default) or large (one client, BENCH_LARGE_SECONDS of BENCH_LARGE_ENTRIES-entry batches). */
  profileWorkload: process.env.BENCH_PROFILE_WORKLOAD === 'large' ? ('large' as const) : ('s001' as const),
  hotPartials: num('BENCH_HOT_PARTIALS', 100_000),
  hotPerRevision: num('BENCH_HOT_PER_REVISION', 200),
  noisy: {
    seconds: num('BENCH_NOISY_SECONDS', 60),
    baselineSeconds: num('BENCH_NOISY_BASELINE_SECONDS', 10),
    floodClients: num('BENCH_NOISY_FLOOD_CLIENTS', 2),
    floodBytes: num('BENCH_NOISY_FLOOD_BYTES', 1_600_000),
    floodPaths: num('BENCH_NOISY_FLOOD_PATHS', 4_000),
    quietPerSecond: num('BENCH_NOISY_QUIET_PER_SECOND', 20),
    quietEntries: num('BENCH_NOISY_QUIET_ENTRIES', 20),
  },
  exactTimeoutSeconds: num('BENCH_EXACT_TIMEOUT_SECONDS', 180),
  /** On a shared machine: before each run, wait up to this long for other work to calm down. */
  machineQuietWaitSeconds: num('BENCH_MACHINE_QUIET_WAIT_SECONDS', 0),
  /** own (default): Kafka, MinIO, ClickHouse started for the run; shared: those at KAFKA_BROKERS, S3_ENDPOINT, CLICKHOUSE_URL. */
  servers: process.env.BENCH_SERVERS === 'shared' ? ('shared' as const) : ('own' as const),
  /** Record into the docs: by default only a run with the default settings (a shortened run is a trial). */
  record: process.env.BENCH_RECORD === undefined ? changedSettings().length === 0 : process.env.BENCH_RECORD === '1',
  docs: process.env.BENCH_DOCS ?? 'docs/benchmarks.md',
};

const CHART = 'benchmarks-chart.png';

function portOf(url: string): number {
  return Number(new URL(url.includes('://') ? url : `tcp://${url}`).port);
}

/** CUSTOMER_LIMITS for the large section's customers: as much as one instance takes. */
export function largeCustomerLimits(tag: string, clients: readonly number[]): string {
  return clients.map((c) => `${largeCustomer(c, tag)}:rps=100000,bps=1GiB,inflight=64MiB`).join(';');
}

/** Sends 20-entry batches (each twice, like scenario 001) at 2 in flight for a while: JIT, pools, connections warm. */
async function warmUp(stack: Stack, seconds: number, tag: string): Promise<void> {
  if (seconds <= 0) return;
  const client = new IngestClient(2);
  const next = apiEntryStream(7301, '2025-06-01T09:00', 10);
  const end = performance.now() + seconds * 1000;
  let seq = 0;
  const worker = async () => {
    while (performance.now() < end) {
      const entries = Array.from({ length: 20 }, next);
      const send: Send = { customerId: `bench-warm${stack.customerSuffix}`, idempotencyKey: `warm-${tag}-${seq++}`, body: jsonBody(entries), contentType: JSON_CONTENT_TYPE, entries, expect: { kind: 'accepted' } };
      for (let i = 0; i < 2; i++) await client.post(stack.url('batch-ingestion'), send).catch(() => undefined);
    }
  };
  await Promise.all([worker(), worker()]);
  client.close();
}

/** CPU of each of the six processes at rest, in cores, over `seconds`. */
async function idleCores(meter: Meter, seconds: number): Promise<PerProcess<number>> {
  const a = meter.read();
  await sleep(seconds * 1000);
  const use = cpuBetween(a, meter.read());
  const out: PerProcess<number> = {};
  for (const p of PROCESSES) if (use.seconds[p] !== null && use.seconds[p] !== undefined) out[p] = use.seconds[p]! / use.wallSeconds;
  return out;
}

function readJson(path: string): BenchResults | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as BenchResults;
  } catch {
    return undefined;
  }
}

/** Writes docs/benchmarks.json, the generated part of docs/benchmarks.md and the chart, from the recorded figures. */
export function writeDocs(results: BenchResults, docsPath: string): void {
  const dir = join(docsPath, '..');
  mkdirSync(dir, { recursive: true });
  // Three decimals are more than the figures' precision, and keep the file readable in a diff.
  const rounded = (_: string, v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 1000) / 1000 : v);
  writeFileSync(join(dir, 'benchmarks.json'), `${JSON.stringify(results, rounded, 1)}\n`);
  const metas = Object.values(results.sections).map((s) => s.meta);
  const commits = [...new Set(metas.map((m) => m.commit))].join(', ');
  const dates = [...new Set(metas.map((m) => m.measuredAt.slice(0, 10)))].join(', ');
  const load = metas.length ? `load average ${Math.min(...metas.map((m) => m.loadAverage[0])).toFixed(1)}-${Math.max(...metas.map((m) => m.loadAverage[1])).toFixed(1)}` : '';
  writeFileSync(join(dir, CHART), benchmarkChartPng(results, evaluateTargets(results), `npm run bench, native stack, ${metas[0]?.machine.cpus ?? '?'} cores; commit ${commits}; ${dates}; ${load}. Linear axes per panel; dashed lines are the targets; red boxes are missed targets.`));
  const existing = existsSync(docsPath) ? readFileSync(docsPath, 'utf8') : undefined;
  writeFileSync(docsPath, mergeGenerated(existing, generatedMarkdown(results, CHART)));
}

export async function main(): Promise<number> {
  const t0 = performance.now();
  const log = new Progress('bench');
  if (process.env.BENCH_REDRAW === '1') {
    // Only the docs, from the recorded figures: after a change to the report or the chart.
    const docsPath = resolve(ROOT, SETTINGS.docs);
    const recorded = readJson(join(docsPath, '..', 'benchmarks.json'));
    if (!recorded) throw new Error(`no ${join(docsPath, '..', 'benchmarks.json')} to redraw from`);
    writeDocs(recorded, docsPath);
    log.line(`rewrote ${relative(ROOT, docsPath)} and ${CHART} from benchmarks.json`);
    return 0;
  }
  const mode = targetMode();
  if (mode === 'containers') throw new Error('the benchmark reads CPU and memory from /proc of this machine: E2E_TARGET native (default) or external');
  const tag = Date.now().toString(36);
  const commit = currentCommit();
  // The services inherit this process' environment: the large section's customers (also the profile's)
  // get limits far above the defaults, since that section measures what one instance carries from
  // one customer; the noisy section measures the defaults.
  process.env.CUSTOMER_LIMITS = [process.env.CUSTOMER_LIMITS, largeCustomerLimits(tag, SETTINGS.largeClients)].filter(Boolean).join(';');
  log.line(`sections ${SETTINGS.sections.join(', ')}; commit ${commit}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

  const cleanups: Array<() => Promise<void>> = [];
  const cleanUp = async () => {
    while (cleanups.length) await cleanups.pop()!().catch((err) => log.line(`clean-up: ${(err as Error).message}`));
  };
  const onSignal = (signal: NodeJS.Signals) => {
    log.line(`${signal}: stopping what the benchmark started`);
    void cleanUp().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const run: BenchResults = { version: 1, sections: {} };
  const failed: SectionName[] = [];
  let servers: SectionMeta['servers'] = mode === 'external' ? 'external' : SETTINGS.servers;
  try {
    let own: OwnServers | undefined;
    if (mode === 'native' && servers === 'own') {
      own = await startOwnServers((line) => log.line(line));
      cleanups.push(() => own!.stop());
      process.env.KAFKA_BROKERS = own.kafkaBrokers;
      process.env.S3_ENDPOINT = own.s3Endpoint;
      process.env.CLICKHOUSE_URL = own.clickhouseUrl;
      // The servers' own logins, whatever the shell holds for another stack.
      Object.assign(process.env, own.login);
    } else if (mode === 'native') servers = 'shared';

    const groups = { summarizer: process.env.SUMMARIZER_GROUP_ID ?? `bench-${tag}-summarizer`, aggregator: process.env.AGGREGATOR_GROUP_ID ?? `bench-${tag}-aggregator` };
    log.line(mode === 'external' ? 'using the running stack' : 'building and starting the three services');
    const stack = await startStack({ name: 'bench', env: mode === 'native' ? { SUMMARIZER_GROUP_ID: groups.summarizer, AGGREGATOR_GROUP_ID: groups.aggregator } : {} });
    cleanups.push(() => stack.stop());
    if (mode === 'external') {
      groups.summarizer = process.env.SUMMARIZER_GROUP_ID ?? 'batch-summarizer';
      groups.aggregator = process.env.AGGREGATOR_GROUP_ID ?? 'window-aggregator';
    }
    log.line(stack.describe());

    // The servers and (external stack) the services, by the ports they listen on.
    const kafkaUrl = stack.wire?.kafkaBrokers[0] ?? process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
    const s3Url = stack.wire?.s3.endpoint ?? process.env.S3_ENDPOINT ?? 'http://127.0.0.1:9000';
    const serverPids = processesListeningOn({ kafka: portOf(kafkaUrl), minio: portOf(s3Url), clickhouse: portOf(stack.clickhouse.url) });
    const servicePids = stack.pid ? {} : processesListeningOn(Object.fromEntries(SERVICES.map((s) => [s, portOf(stack.url(s))])));
    const pidOf: Record<string, () => number | undefined> = { [LOAD_GENERATOR]: () => process.pid };
    for (const s of SERVICES) pidOf[s] = () => stack.pid?.(s) ?? servicePids[s];
    for (const s of ['kafka', 'minio', 'clickhouse'] as const) pidOf[s] = () => serverPids[s];
    const missing = PROCESSES.filter((p) => pidOf[p]() === undefined);
    if (missing.length) log.line(`not found on this machine (no CPU or memory figures for them): ${missing.join(', ')}`);
    const meter = new Meter(pidOf);
    meter.start(500);
    cleanups.push(async () => meter.stop());
    const reader = new AggregateReader(stack.clickhouse);
    cleanups.push(() => reader.close());
    const lag = stack.wire ? new LagReader(stack.wire.kafkaBrokers, stack.wire.topics, groups, stack.wire.kafkaSasl) : undefined;
    if (lag) cleanups.push(() => lag.close());

    const ctx: BenchContext = { stack, reader, meter, pidOf, log, servers, tag, lag, idleCores: {}, exactTimeoutMs: SETTINGS.exactTimeoutSeconds * 1000, commit, machineQuietWaitMs: SETTINGS.machineQuietWaitSeconds * 1000 };
    log.line(`warm-up: ${SETTINGS.warmupSeconds} s of 20-entry batches (each sent twice) at 2 in flight, not measured`);
    await warmUp(stack, SETTINGS.warmupSeconds, tag);
    await ensureServices(ctx);
    await waitQuiet(ctx);
    ctx.idleCores = await idleCores(meter, 5);
    log.line(`at rest, cores: ${PROCESSES.map((p) => `${p} ${ctx.idleCores[p]?.toFixed(3) ?? '-'}`).join(', ')}`);

    const s = SETTINGS;
    for (const section of s.sections) {
      log.line(`section ${section}`);
      try {
        await runOne(section);
      } catch (err) {
        failed.push(section);
        log.line(`section ${section} failed, not recorded: ${(err as Error).stack ?? err}`);
      }
    }
    async function runOne(section: SectionName): Promise<void> {
      if (section === 'idle') run.sections.idle = await runSection(ctx, { posts: s.idlePosts, gapMs: s.idleGapMs }, () => idleSection(ctx, s.idlePosts, s.idleGapMs));
      if (section === 's001') run.sections.s001 = await runSection(ctx, { inFlight: s.s001InFlight.join(',') }, () => s001Section(ctx, s.s001InFlight));
      if (section === 'large') run.sections.large = await runSection(ctx, { clients: s.largeClients.join(','), seconds: s.largeSeconds, entries: s.largeEntries }, () => largeSection(ctx, s.largeClients, s.largeSeconds, s.largeEntries));
      if (section === 'hot') run.sections.hot = await runSection(ctx, { partials: s.hotPartials, perRevision: s.hotPerRevision }, () => hotSection(ctx, s.hotPartials, s.hotPerRevision));
      if (section === 'noisy') run.sections.noisy = await runSection(ctx, { ...s.noisy }, () => noisySection(ctx, s.noisy));
      if (section === 'profile') {
        if (mode !== 'native') log.line('profile: native only, skipped');
        else {
          const workload = s.profileWorkload === 'large' ? { kind: 'large' as const, seconds: s.largeSeconds, entries: s.largeEntries } : { kind: 's001' as const };
          run.sections.profile = await runSection(ctx, { workload: s.profileWorkload }, () => profileSection(ctx, workload));
        }
      }
    }
  } finally {
    await cleanUp();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }

  // Every run is kept under .stack/bench; recorded runs also go into the docs.
  const runsDir = join(ROOT, '.stack', 'bench', 'runs');
  mkdirSync(runsDir, { recursive: true });
  const runFile = join(runsDir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${commit}.json`);
  writeFileSync(runFile, `${JSON.stringify(run, null, 1)}\n`);
  const docsPath = resolve(ROOT, SETTINGS.docs);
  const recorded = readJson(join(docsPath, '..', 'benchmarks.json'));
  const merged = mergeResults(recorded, run);

  const lines = ['', 'targets:', ...evaluateTargets(merged).map((t) => `  ${t.status.padEnd(12)} ${t.measured} | ${t.target}${t.status === 'missed' ? ` | ${t.margin}` : ''}`)];
  lines.push('', 'figures of this run:', ...keyFigures(run).map((f) => `  ${f.name}: ${f.value === null ? '-' : f.value.toFixed(2)} ${f.unit}`));
  if (recorded) {
    const diff = compareFigures(recorded, run);
    if (diff.length) lines.push('', `against the recorded figures (${relative(ROOT, join(docsPath, '..', 'benchmarks.json'))}):`, ...diff.map((d) => `  ${d}`));
  }
  if (SETTINGS.record) {
    writeDocs(merged, docsPath);
    lines.push('', `recorded into ${relative(ROOT, docsPath)}, benchmarks.json and ${CHART}`);
  } else lines.push('', `not recorded into the docs (settings changed: ${changedSettings().join(', ') || '-'}; BENCH_RECORD=1 records anyway); this run: ${relative(ROOT, runFile)}`);
  if (failed.length) lines.push(`FAILED sections (see above): ${failed.join(', ')}`);
  lines.push(`done in ${((performance.now() - t0) / 60_000).toFixed(1)} min`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return failed.length ? 1 : 0;
}
