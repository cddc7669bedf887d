import { expectedResults, S001, scenario001 } from '../scenarios';
import { drive } from '../support/driver';
import { formatCounts, Progress } from '../support/progress';
import { BenchContext, cpuFigures, sleep, waitQuiet } from './context';
import { pollUntilExact, stillExact } from './exact';
import { S001Run } from './results';
import { perUnitMs, summarize } from './stats';

/** CPU of the six processes per request and per distinct batch of scenario 001. */
export function s001CpuUnits(cpuTotalSeconds: number | null, requests: number, batches: number): { perRequestMs: number | null; perBatchMs: number | null } {
  return { perRequestMs: perUnitMs(cpuTotalSeconds, requests), perBatchMs: perUnitMs(cpuTotalSeconds, batches) };
}

/**
 * Scenario 001 exactly as specified (64,000 entries, 3,200 batches of 20, batches 1..2000 sent
 * twice right after their original), with `inFlight` requests in flight: the time from the first
 * send until the three views are exact, and the CPU the six processes spent over that time.
 */
export async function scenario001Run(ctx: BenchContext, inFlight: number, customerSuffix: string, label = `001 x${inFlight}`): Promise<S001Run> {
  const progress = new Progress(`bench ${label}`);
  const scenario = scenario001({ customerSuffix });
  const expected = expectedResults(scenario);
  await waitQuiet(ctx);
  progress.line(`${scenario.sends.length} sends, ${inFlight} in flight, customer ${scenario.customers[0]}`);
  const before = ctx.meter.read();
  const report = await drive(scenario.sends, { inFlight, ingestUrl: () => ctx.stack.url('batch-ingestion'), progress });
  const sent = Date.now();
  const exact = await pollUntilExact(ctx.reader, expected, scenario.customers, ctx.exactTimeoutMs);
  const after = ctx.meter.read();
  const exactSeconds = exact.at === null ? null : (exact.at - report.startedAt) / 1000;
  progress.line(exactSeconds === null ? `NOT exact within ${ctx.exactTimeoutMs / 1000} s: ${exact.problem}` : `exact ${exactSeconds.toFixed(2)} s after the first send (${((exact.at! - sent) / 1000).toFixed(2)} s after the last answer)`);
  let stayedExact: boolean | null = null;
  if (exact.at !== null) {
    await sleep(2_000);
    stayedExact = await stillExact(ctx.reader, expected, scenario.customers);
    if (!stayedExact) progress.line('the views changed after being exact: something was counted twice');
  }

  const statuses: Record<string, number> = {};
  for (const r of report.records) statuses[String(r.status)] = (statuses[String(r.status)] ?? 0) + 1;
  const latencies = (status?: number) => report.records.filter((r) => status === undefined || r.status === status).map((r) => r.latencyMs);
  const cpu = cpuFigures(before, after, ctx.idleCores);
  const units = s001CpuUnits(cpu.cpuTotalSeconds, scenario.sends.length, S001.batches);
  progress.line(`answers ${formatCounts(statuses)}; CPU of the six processes ${cpu.cpuTotalSeconds?.toFixed(2) ?? '-'} s = ${units.perRequestMs?.toFixed(2) ?? '-'} ms per request`);
  return {
    inFlight,
    requests: scenario.sends.length,
    batches: S001.batches,
    sendSeconds: (report.finishedAt - report.startedAt) / 1000,
    exactSeconds,
    stayedExact,
    ...(exact.at === null ? { problem: exact.problem } : {}),
    statuses,
    latencyMs: { all: summarize(latencies()), accepted: summarize(latencies(202)), duplicate: summarize(latencies(409)) },
    ...cpu,
    cpuPerRequestMs: units.perRequestMs,
    cpuPerBatchMs: units.perBatchMs,
  };
}

export async function s001Section(ctx: BenchContext, inFlights: number[]): Promise<{ runs: S001Run[] }> {
  const runs: S001Run[] = [];
  // The reference customer for the seed's settings; every other run a customer of its own.
  for (const inFlight of inFlights) runs.push(await scenario001Run(ctx, inFlight, `${inFlight === S001.inFlight ? '' : `-x${inFlight}`}${ctx.stack.customerSuffix}`));
  return { runs };
}
