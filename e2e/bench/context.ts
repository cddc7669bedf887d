import { execFileSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import type { Admin } from 'kafkajs';
import { consumerLag, createKafka, KafkaSettings } from '@pipeline/kafka';
import { REPO_ROOT } from '@pipeline/testing';
import type { AggregateReader } from '../support/aggregates';
import type { Progress } from '../support/progress';
import { SERVICES, Stack } from '../support/stack';
import type { Meter } from './meter';
import { CpuFigures, LOAD_GENERATOR, PerProcess, PROCESSES, SectionMeta } from './results';
import { cpuBetween, CpuReading, otherMachineSeconds, sumCpu } from './stats';

/** What every section works with. */
export interface BenchContext {
  stack: Stack;
  reader: AggregateReader;
  meter: Meter;
  /** How the meter finds each process (a stack of other services reuses the servers'). */
  pidOf: Record<string, () => number | undefined>;
  log: Progress;
  servers: SectionMeta['servers'];
  /** Makes names (customers, keys) of this run unique where the stack is shared. */
  tag: string;
  /** Consumer lag of the two consumers, when the stack's Kafka and groups are known. */
  lag?: LagReader;
  idleCores: PerProcess<number>;
  exactTimeoutMs: number;
  commit: string;
  /** Longest wait, before each run, for other work on the machine to calm down (0: none). */
  machineQuietWaitMs: number;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The commit of the measured code; `-dirty` when files other than the benchmark's output differ. */
export function currentCommit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', '.', ':!docs/benchmarks*'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim() !== '';
    return `${sha}${dirty ? '-dirty' : ''}`;
  } catch {
    return 'unknown';
  }
}

/** CPU figures between two readings: the six processes, the load generator, everything else. */
export function cpuFigures(before: CpuReading, after: CpuReading, idleCores: PerProcess<number>): CpuFigures {
  const use = cpuBetween(before, after);
  const cpuSeconds: PerProcess<number | null> = {};
  for (const p of PROCESSES) cpuSeconds[p] = use.seconds[p] ?? null;
  const idle = PROCESSES.every((p) => idleCores[p] !== undefined) ? PROCESSES.reduce((a, p) => a + idleCores[p]!, 0) * use.wallSeconds : null;
  return {
    cpuSeconds,
    cpuTotalSeconds: sumCpu(use, PROCESSES),
    cpuWallSeconds: use.wallSeconds,
    loadGeneratorCpuSeconds: use.seconds[LOAD_GENERATOR] ?? null,
    otherMachineCpuSeconds: otherMachineSeconds(use, [...PROCESSES, LOAD_GENERATOR]),
    machineBusyPercent: use.machineBusyPercent,
    idleCpuSeconds: idle,
  };
}

/** Lag (messages not yet committed) of the summarizer on batch-ingested and of the aggregator on insight-events. */
export class LagReader {
  private admin?: Promise<Admin>;

  constructor(
    private readonly brokers: string[],
    private readonly topics: { batchIngested: string; insightEvents: string },
    private readonly groups: { summarizer: string; aggregator: string },
    private readonly sasl?: KafkaSettings['sasl'],
  ) {}

  private client(): Promise<Admin> {
    this.admin ??= (async () => {
      const admin = createKafka({ brokers: this.brokers, sasl: this.sasl, clientId: 'bench-lag', requestTimeoutMs: 5_000 }).admin();
      await admin.connect();
      return admin;
    })().catch((err) => {
      this.admin = undefined;
      throw err;
    });
    return this.admin;
  }

  async read(): Promise<{ summarizer: number | null; aggregator: number | null }> {
    const sum = async (group: string, topic: string) => {
      try {
        return (await consumerLag(await this.client(), group, topic)).reduce((a, p) => a + p.lag, 0);
      } catch {
        return null;
      }
    };
    const [summarizer, aggregator] = await Promise.all([sum(this.groups.summarizer, this.topics.batchIngested), sum(this.groups.aggregator, this.topics.insightEvents)]);
    return { summarizer, aggregator };
  }

  /** The aggregator group's committed offset on one partition of insight-events (-1: none yet). */
  async aggregatorCommitted(partition: number): Promise<number> {
    const [t] = await (await this.client()).fetchOffsets({ groupId: this.groups.aggregator, topics: [this.topics.insightEvents] });
    return Number(t.partitions.find((p) => p.partition === partition)?.offset ?? -1);
  }

  async close(): Promise<void> {
    if (this.admin) await (await this.admin.catch(() => undefined))?.disconnect().catch(() => undefined);
  }
}

/**
 * Waits (bounded) until the pipeline has nothing left to do: both consumers without lag and the
 * six processes near their CPU at rest, so one run's tail does not count against the next.
 */
export async function waitQuiet(ctx: BenchContext, maxMs = 30_000): Promise<boolean> {
  const deadline = Date.now() + maxMs;
  // Before the CPU at rest is known, a bound that a stack at rest stays under.
  const known = PROCESSES.every((p) => ctx.idleCores[p] !== undefined);
  const bound = known ? PROCESSES.reduce((a, p) => a + ctx.idleCores[p]!, 0) + 0.1 : 0.35;
  let last = '';
  while (Date.now() < deadline) {
    const lag = ctx.lag ? await ctx.lag.read() : { summarizer: 0, aggregator: 0 };
    const a = ctx.meter.read();
    await sleep(1_000);
    const use = cpuBetween(a, ctx.meter.read());
    const busy = sumCpu(use, PROCESSES);
    const cores = busy === null ? null : busy / use.wallSeconds;
    if (lag.summarizer === 0 && lag.aggregator === 0 && cores !== null && cores <= bound) {
      await waitForQuietMachine(ctx);
      return true;
    }
    last = `lag summarizer ${lag.summarizer ?? '-'}, aggregator ${lag.aggregator ?? '-'}; six processes ${cores?.toFixed(2) ?? '-'} cores (at rest: under ${bound.toFixed(2)})`;
  }
  ctx.log.line(`the pipeline did not come to rest within ${maxMs / 1000} s (${last}); measuring anyway`);
  await waitForQuietMachine(ctx);
  return false;
}

/** Cores other work may take while a run starts: the machine counts as quiet below it. */
const QUIET_OTHER_CORES = 0.25;

/**
 * On a shared machine, waits (up to BENCH_MACHINE_QUIET_WAIT_SECONDS) until the processes outside
 * the pipeline and the load generator take less than a quarter of a core for 5 s in a row. What
 * other work took during the run is reported with it either way.
 */
export async function waitForQuietMachine(ctx: BenchContext): Promise<void> {
  if (ctx.machineQuietWaitMs <= 0) return;
  const started = Date.now();
  let other: number | null = null;
  while (Date.now() - started < ctx.machineQuietWaitMs) {
    const a = ctx.meter.read();
    await sleep(5_000);
    const b = ctx.meter.read();
    const use = cpuBetween(a, b);
    const s = otherMachineSeconds(use, [...PROCESSES, LOAD_GENERATOR]);
    other = s === null ? null : s / use.wallSeconds;
    if (other === null || other < QUIET_OTHER_CORES) break;
  }
  const waited = (Date.now() - started) / 1000;
  if (waited > 6) ctx.log.line(`waited ${waited.toFixed(0)} s for other work on the machine to calm down (now ${other?.toFixed(2) ?? '-'} cores)`);
}

export function machine(): SectionMeta['machine'] {
  const c = cpus();
  return { cpus: c.length, model: c[0]?.model?.trim() ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30) };
}

/**
 * Starts again any service that is no longer running (on a shared machine a process may be
 * ended from outside): the section then runs on a fresh process, which its figures say.
 */
export async function ensureServices(ctx: BenchContext): Promise<string[]> {
  const restarted: string[] = [];
  for (const service of SERVICES) {
    const alive = await fetch(`${ctx.stack.opsUrl(service)}/health/live`, { signal: AbortSignal.timeout(3_000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (alive) continue;
    if (!ctx.stack.control) throw new Error(`${service} does not answer at ${ctx.stack.opsUrl(service)}`);
    ctx.log.line(`${service} is not running (ended from outside?): starting it again`);
    await ctx.stack.control.restart(service);
    restarted.push(service);
  }
  return restarted;
}

/**
 * Runs one section and adds what every section records: when, on which commit, how busy the
 * machine was, and the peak memory of each process while it ran.
 */
export async function runSection<T extends object>(ctx: BenchContext, settings: SectionMeta['settings'], body: () => Promise<T>): Promise<T & { meta: SectionMeta }> {
  const restarted = await ensureServices(ctx);
  const measuredAt = new Date().toISOString();
  const load0 = loadavg()[0];
  const before = ctx.meter.read();
  const figures = await body();
  const after = ctx.meter.read();
  const use = cpuFigures(before, after, ctx.idleCores);
  const peaks = ctx.meter.peakRssMiB(before.at, after.at);
  const rssPeakMiB: PerProcess<number> = {};
  for (const p of PROCESSES) if (peaks[p] !== undefined) rssPeakMiB[p] = Math.round(peaks[p] * 10) / 10;
  const hwm = ctx.meter.highWaterMiB();
  const rssHighWaterMiB: PerProcess<number> = {};
  for (const p of PROCESSES) if (hwm[p] !== undefined) rssHighWaterMiB[p] = Math.round(hwm[p] * 10) / 10;
  const meta: SectionMeta = {
    measuredAt,
    commit: ctx.commit,
    node: process.version,
    machine: machine(),
    servers: ctx.servers,
    loadAverage: [load0, loadavg()[0]],
    machineBusyPercent: use.machineBusyPercent,
    otherCores: use.otherMachineCpuSeconds === null || use.cpuWallSeconds === 0 ? null : use.otherMachineCpuSeconds / use.cpuWallSeconds,
    wallSeconds: use.cpuWallSeconds,
    idleCores: ctx.idleCores,
    rssPeakMiB,
    rssHighWaterMiB,
    settings,
    ...(restarted.length ? { notes: [`restarted before the section (ended from outside): ${restarted.join(', ')}`] } : {}),
  };
  return { meta, ...figures };
}
