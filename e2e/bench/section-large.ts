import { Aggregates, apiEntryStream, FAMILY_OF, JSON_CONTENT_TYPE, jsonBody, MAX_BODY_BYTES, minuteAggregates, Send, WindowCounts } from '../scenarios';
import { AggregateReader } from '../support/aggregates';
import { IngestClient } from '../support/http';
import { formatCounts, Progress } from '../support/progress';
import type { Stack } from '../support/stack';
import { BenchContext, cpuFigures, sleep, waitQuiet } from './context';
import { pollUntilExact } from './exact';
import { LABEL, LagPoint, LargeRun, LargeSection, PerProcess, PROCESSES, ProcessName } from './results';
import { cpuBetween, percentOfCore, slope, summarize } from './stats';

interface PoolItem {
  body: Buffer;
  entries: number;
  /** Minute windows of the body, keyed by epoch seconds. */
  minutes: Map<number, WindowCounts>;
}

/**
 * A few distinct bodies of `entries` entries (sent over and over under new keys, so the client
 * stays cheap), each under the 2 MiB limit: with bodies that would not fit, fewer entries.
 */
export function largePool(entries: number, bodies = 6): { items: PoolItem[]; entriesPerBatch: number } {
  for (let n = entries; n > 0; n = Math.floor(n * 0.97)) {
    const next = apiEntryStream(7002, '2025-06-01T10:00', 10);
    const items: PoolItem[] = [];
    for (let i = 0; i < bodies; i++) {
      const list = Array.from({ length: n }, next);
      const body = jsonBody(list);
      if (body.length > MAX_BODY_BYTES) break;
      const minutes = new Map<number, WindowCounts>();
      for (const [id, w] of minuteAggregates([{ customerId: 'x', entries: list }], FAMILY_OF)) minutes.set(Number(id.slice(2)), w);
      items.push({ body, entries: n, minutes });
    }
    if (items.length === bodies) return { items, entriesPerBatch: n };
  }
  throw new Error('no body fits the 2 MiB limit');
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

  constructor(
    private readonly stack: Stack,
    private readonly reader: AggregateReader,
    private readonly customer: string,
  ) {}

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
        // Every read costs ClickHouse work on the same cores: a few reads a second.
        await sleep(100);
      }
    };
    this.loops = [send(), poll()];
  }

  /** Stops sending and waits (bounded) for the outstanding probes to become visible. */
  async stop(maxWaitMs = 60_000): Promise<void> {
    this.running = false;
    const deadline = Date.now() + maxWaitMs;
    while (this.acceptedAt.size > 0 && Date.now() < deadline) await sleep(100);
    this.acceptedAt.clear();
    await Promise.all(this.loops);
    this.client.close();
  }
}

/** The customer of a large-batch run (the benchmark gives it limits above the defaults). */
export const largeCustomer = (clients: number, tag: string) => `bench-large-c${clients}-${tag}`;

/**
 * Large batches from `clients` clients for `seconds`: accepted entries/s, entries/s until the
 * minute view is exact, latency, freshness, and every second the consumers' lag and the cores each
 * process used: where a backlog builds.
 */
async function largeRun(ctx: BenchContext, clients: number, seconds: number, pool: PoolItem[], entriesPerBatch: number): Promise<LargeRun> {
  const label = `large x${clients}`;
  const progress = new Progress(`bench ${label}`);
  const customer = `${largeCustomer(clients, ctx.tag)}${ctx.stack.customerSuffix}`;
  const client = new IngestClient(clients);
  const expected: Aggregates = new Map();
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let entries = 0;
  let batches = 0;
  let seq = 0;
  await waitQuiet(ctx);
  const probe = new FreshnessProbe(ctx.stack, ctx.reader, `bench-probe-c${clients}-${ctx.tag}${ctx.stack.customerSuffix}`);
  const before = ctx.meter.read();
  const startedAt = Date.now();
  const t0 = performance.now();
  const end = t0 + seconds * 1000;

  const lag: LagPoint[] = [];
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
      lag.push({ t: Math.round((now.at - t0) / 100) / 10, ...l, cores });
      prev = now;
    }
  })();
  progress.every(() => {
    const last = lag[lag.length - 1];
    return `accepted ${entries} entries | answers ${formatCounts(statuses)} | ${(entries / ((performance.now() - t0) / 1000)).toFixed(0)} entries/s | lag summarizer ${last?.summarizer ?? '-'} aggregator ${last?.aggregator ?? '-'}`;
  });
  probe.start();

  const worker = async () => {
    while (performance.now() < end) {
      const item = pool[seq % pool.length];
      const send: Send = { customerId: customer, idempotencyKey: `b-${seq++}`, body: item.body, contentType: JSON_CONTENT_TYPE, entries: [], expect: { kind: 'accepted' } };
      // Retried until answered for good, as a client must (bounded past the end).
      for (let attempt = 0; performance.now() < end + 30_000; attempt++) {
        try {
          const answer = await client.post(ctx.stack.url('batch-ingestion'), send);
          statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
          if (answer.status === 503 || answer.status === 429) {
            await sleep(Math.min(2_000, (answer.retryAfter ?? 0.2) * 1000));
            continue;
          }
          if (answer.status === 202) {
            latencies.push(answer.ms);
            entries += item.entries;
            batches++;
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
  await Promise.all(Array.from({ length: clients }, worker));
  const sendSeconds = (performance.now() - t0) / 1000;
  client.close();
  progress.line(`sent for ${sendSeconds.toFixed(1)} s: ${entries} entries in ${batches} batches | answers ${formatCounts(statuses)}; waiting for exact counts`);
  const exact = await pollUntilExact(ctx.reader, { minute: expected }, [customer], ctx.exactTimeoutMs, 250);
  const after = ctx.meter.read();
  sampling = false;
  await sampler;
  progress.stop();
  await probe.stop();
  const exactSeconds = exact.at === null ? null : (exact.at - startedAt) / 1000;
  progress.line(exactSeconds === null ? `NOT exact within ${ctx.exactTimeoutMs / 1000} s: ${exact.problem}` : `exact ${exactSeconds.toFixed(1)} s after the first send`);

  const cpu = cpuFigures(before, after, ctx.idleCores);
  const cpuPercent: PerProcess<number | null> = {};
  for (const p of PROCESSES) cpuPercent[p] = percentOfCore(cpu.cpuSeconds[p] ?? null, cpu.cpuWallSeconds);
  const peak = (k: 'summarizer' | 'aggregator') => {
    const v = lag.map((l) => l[k]).filter((x): x is number => x !== null);
    return v.length ? Math.max(...v) : null;
  };
  const run: LargeRun = {
    clients,
    entriesPerBatch,
    partialsPerBatch: pool.reduce((a, p) => a + p.minutes.size, 0) / pool.length,
    bodyBytes: Math.round(pool.reduce((a, p) => a + p.body.length, 0) / pool.length),
    sendSeconds,
    batches,
    entries,
    statuses,
    acceptedEntriesPerSecond: entries / sendSeconds,
    exactSeconds,
    endToEndEntriesPerSecond: exactSeconds === null ? null : entries / exactSeconds,
    latencyMs: summarize(latencies),
    freshnessMs: summarize(probe.freshnessMs),
    ...cpu,
    cpuPercent,
    lag,
    lagPeak: { summarizer: peak('summarizer'), aggregator: peak('aggregator') },
  };
  for (const line of analyzeLargeRun(run)) progress.line(line);
  return run;
}

const f0 = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? '-' : Math.round(v).toLocaleString('en-US'));

/**
 * Where freshness goes, read off the figures of a run: which consumer's backlog grows while
 * sending (its lag trend over the sending time), how long the tail took after the last send, and
 * which processes took the cores. Plain statements of what was measured, nothing inferred
 * beyond it.
 */
export function analyzeLargeRun(run: LargeRun): string[] {
  const out: string[] = [];
  const sending = run.lag.filter((l) => l.t <= run.sendSeconds);
  const trend = (k: 'summarizer' | 'aggregator') => slope(sending.filter((l) => l[k] !== null).map((l) => ({ x: l.t, y: l[k]! })));
  const growth = { summarizer: trend('summarizer'), aggregator: trend('aggregator') };
  const batchesPerSecond = run.batches / run.sendSeconds;
  out.push(
    `Accepted ${f0(run.acceptedEntriesPerSecond)} entries/s (${batchesPerSecond.toFixed(1)} batches/s of ${f0(run.entriesPerBatch)} entries) for ${run.sendSeconds.toFixed(0)} s; ${run.exactSeconds === null ? 'not exact within the bound' : `exact ${(run.exactSeconds - run.sendSeconds).toFixed(1)} s after the last send, ${f0(run.endToEndEntriesPerSecond)} entries/s end to end`}; freshness p50 ${f0(run.freshnessMs.p50)} ms, p95 ${f0(run.freshnessMs.p95)} ms (${run.freshnessMs.n} probes).`,
  );
  const lagLine = (k: 'summarizer' | 'aggregator', unit: string) => {
    const g = growth[k];
    const peak = run.lagPeak[k];
    if (peak === null) return `${k}: no lag figures`;
    const trendText = g === null ? '' : `, ${g >= 0 ? 'growing' : 'shrinking'} ${Math.abs(g).toFixed(2)} ${unit}/s while sending`;
    return `${k} lag peaked at ${f0(peak)} ${unit}${trendText}`;
  };
  out.push(`Backlog: ${lagLine('summarizer', 'batches')}; ${lagLine('aggregator', 'partials')}.`);
  const shares = PROCESSES.map((p) => [p, run.cpuPercent[p]] as const).filter((x): x is readonly [ProcessName, number] => x[1] !== null && x[1] !== undefined);
  const total = shares.reduce((a, [, v]) => a + v, 0);
  if (shares.length) {
    out.push(
      `CPU over the run, % of one core: ${shares
        .sort((a, b) => b[1] - a[1])
        .map(([p, v]) => `${LABEL[p]} ${f0(v)}`)
        .join(', ')} (six processes ${f0(total)} %${run.loadGeneratorCpuSeconds !== null ? `, load generator ${f0((100 * run.loadGeneratorCpuSeconds) / run.cpuWallSeconds)} %` : ''}${run.otherMachineCpuSeconds !== null ? `, other work on the machine ${f0((100 * run.otherMachineCpuSeconds) / run.cpuWallSeconds)} %` : ''}); machine ${f0(run.machineBusyPercent)} % busy.`,
    );
  }
  // Growing by more than 5 % of its input rate: lag in flight (fetched, not yet committed) does not grow.
  const input = { summarizer: batchesPerSecond, aggregator: batchesPerSecond * run.partialsPerBatch };
  const behind = (['summarizer', 'aggregator'] as const).filter((k) => (growth[k] ?? 0) > 0.05 * input[k]);
  const saturated = (run.machineBusyPercent ?? 0) >= 90;
  const otherPercent = run.otherMachineCpuSeconds === null ? 0 : (100 * run.otherMachineCpuSeconds) / run.cpuWallSeconds;
  const others = otherPercent >= 25 ? ` Other work on the machine took ${f0(otherPercent)} % of a core meanwhile: on a machine of its own the pipeline would have had that too.` : '';
  const cores = saturated
    ? `the cores are saturated (machine ${f0(run.machineBusyPercent)} % busy): nothing is left for a consumer to catch up with.${others}`
    : `the machine still had ${f0(100 - (run.machineBusyPercent ?? 0))} % idle: the consumer is bound by its own pace, not by the cores.${others}`;
  if (behind.length === 2) out.push(`Freshness goes into both consumers' backlogs: each falls behind its input while sending, and a probe waits behind the queued batches, then the queued partials; ${cores}`);
  else if (behind.length === 1) out.push(`Freshness goes into the ${behind[0]}'s backlog: it falls behind its input while sending, so a probe waits behind the queued ${behind[0] === 'summarizer' ? 'batches' : 'partials'}; ${cores}`);
  else out.push('Neither consumer builds a backlog while sending: freshness is the per-batch path (S3 read, summarize, publish, fetch wait, merge, insert) plus the probe\'s own polling.');
  return out;
}

export async function largeSection(ctx: BenchContext, clients: number[], seconds: number, entries: number): Promise<Omit<LargeSection, 'meta'>> {
  const { items, entriesPerBatch } = largePool(entries);
  const log = new Progress('bench large');
  log.line(`${items.length} bodies of ${entriesPerBatch} entries, ${(items.reduce((a, p) => a + p.body.length, 0) / items.length / 2 ** 20).toFixed(2)} MiB on average${entriesPerBatch < entries ? ` (${entries} would not fit in 2 MiB)` : ''}`);
  const runs: LargeRun[] = [];
  for (const c of clients) runs.push(await largeRun(ctx, c, seconds, items, entriesPerBatch));
  return { runs };
}
