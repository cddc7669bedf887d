import { BenchResults, LABEL, peakMiB, SERVICE_PROCESSES } from './results';

/** The performance targets, on the native stack, as `npm run bench` measures them. */
export const TARGETS = {
  s001SecondsAt2: 7,
  s001SecondsAt8: 5,
  /** CPU summed over the six processes per 20-entry request of scenario 001. */
  cpuPerRequestMs: 1.5,
  idlePostP50Ms: 2,
  largeEndToEndEntriesPerSecond: 250_000,
  largeFreshnessP95Ms: 1_000,
  /** Bytes of the last revisions of the hot window over its first (same partials per revision). */
  hotBytesGrowth: 1.25,
  rssMiB: 300,
  /** The quiet customer under a neighbour's flood (section noisy). */
  noisyQuietThrottled: 0,
  noisyQuietP99Ms: 100,
  noisyQuietFreshnessP95Ms: 2_000,
} as const;

export type TargetStatus = 'met' | 'missed' | 'not measured' | 'reported';

export interface TargetResult {
  id: string;
  target: string;
  status: TargetStatus;
  /** The figure as measured, with its unit. */
  measured: string;
  /** How far from the target: by how much it is missed, or the headroom. */
  margin: string;
  value: number | null;
  limit: number | null;
}

const fmt = (v: number, digits: number) => v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** A figure that must stay at or below `limit`. */
export function atMost(id: string, target: string, value: number | null | undefined, limit: number, unit: string, digits = 1): TargetResult {
  if (value === null || value === undefined || !Number.isFinite(value)) return { id, target, status: 'not measured', measured: '-', margin: '-', value: null, limit };
  const measured = `${fmt(value, digits)} ${unit}`;
  if (value <= limit) return { id, target, status: 'met', measured, margin: `${fmt(limit - value, digits)} ${unit} under`, value, limit };
  return { id, target, status: 'missed', measured, margin: `${fmt(value - limit, digits)} ${unit} over (${fmt(value / limit, 1)}× the target)`, value, limit };
}

/** A figure that must reach at least `limit`. */
export function atLeast(id: string, target: string, value: number | null | undefined, limit: number, unit: string, digits = 0): TargetResult {
  if (value === null || value === undefined || !Number.isFinite(value)) return { id, target, status: 'not measured', measured: '-', margin: '-', value: null, limit };
  const measured = `${fmt(value, digits)} ${unit}`;
  if (value >= limit) return { id, target, status: 'met', measured, margin: `${fmt(value - limit, digits)} ${unit} above`, value, limit };
  return { id, target, status: 'missed', measured, margin: `${fmt(limit - value, digits)} ${unit} short (${fmt((100 * value) / limit, 0)} % of the target)`, value, limit };
}

/** Every target against the recorded figures; a section not recorded leaves its targets `not measured`. */
export function evaluateTargets(results: BenchResults): TargetResult[] {
  const { s001, idle, large } = results.sections;
  const s001At = (inFlight: number) => s001?.runs.find((r) => r.inFlight === inFlight);
  const at2 = s001At(2);
  const at8 = s001At(8);
  const large1 = large?.runs.find((r) => r.clients === 1);
  const large4 = large?.runs.find((r) => r.clients === 4);
  const out: TargetResult[] = [
    atMost('s001-2', `scenario 001 at the seed's settings (20-entry batches, 2 in flight) exact in at most ${TARGETS.s001SecondsAt2} s`, at2?.exactSeconds, TARGETS.s001SecondsAt2, 's'),
    atMost('s001-8', `scenario 001 with 8 in flight exact in at most ${TARGETS.s001SecondsAt8} s`, at8?.exactSeconds, TARGETS.s001SecondsAt8, 's'),
    atMost('cpu-2', `at most ${TARGETS.cpuPerRequestMs} ms of CPU per 20-entry request, six processes summed (scenario 001, 2 in flight; 5,200 requests)`, at2?.cpuPerRequestMs, TARGETS.cpuPerRequestMs, 'ms', 2),
    atMost('cpu-8', `the same at 8 in flight`, at8?.cpuPerRequestMs, TARGETS.cpuPerRequestMs, 'ms', 2),
    atMost('idle-p50', `idle single POST (20-entry batch, new key) p50 at most ${TARGETS.idlePostP50Ms} ms`, idle?.newBatch.latencyMs.p50, TARGETS.idlePostP50Ms, 'ms', 2),
    atLeast('large-1', `large batches, 1 client: at least ${fmt(TARGETS.largeEndToEndEntriesPerSecond, 0)} entries/s end to end (first send until exact)`, large1?.endToEndEntriesPerSecond, TARGETS.largeEndToEndEntriesPerSecond, 'entries/s'),
    atMost('large-1-fresh', `large batches, 1 client: freshness p95 under ${fmt(TARGETS.largeFreshnessP95Ms, 0)} ms`, large1?.freshnessMs.p95, TARGETS.largeFreshnessP95Ms, 'ms', 0),
  ];
  out.push(
    large4
      ? {
          id: 'large-4',
          target: 'large batches, 4 clients: where freshness goes (reported, no limit)',
          status: 'reported',
          measured: `freshness p50 ${fmt(large4.freshnessMs.p50 ?? NaN, 0)} / p95 ${fmt(large4.freshnessMs.p95 ?? NaN, 0)} ms; ${large4.endToEndEntriesPerSecond === null ? 'not exact' : `${fmt(large4.endToEndEntriesPerSecond, 0)} entries/s end to end`}`,
          margin: 'see the analysis below',
          value: large4.freshnessMs.p95,
          limit: null,
        }
      : { id: 'large-4', target: 'large batches, 4 clients: where freshness goes (reported, no limit)', status: 'not measured', measured: '-', margin: '-', value: null, limit: null },
  );
  out.push(hotTarget(results));
  const quiet = results.sections.noisy?.quiet.flood;
  out.push(
    atMost('noisy-throttled', 'noisy neighbour: the quiet customer is never refused (429 or 503) while another floods', quiet?.throttled, TARGETS.noisyQuietThrottled, 'refusals', 0),
    atMost('noisy-p99', `noisy neighbour: the quiet customer's 202 p99 under ${TARGETS.noisyQuietP99Ms} ms`, quiet?.latencyMs.p99, TARGETS.noisyQuietP99Ms, 'ms', 0),
    atMost('noisy-fresh', `noisy neighbour: the quiet customer's freshness p95 (202 until its minute shows) under ${fmt(TARGETS.noisyQuietFreshnessP95Ms, 0)} ms`, quiet?.freshnessMs.p95, TARGETS.noisyQuietFreshnessP95Ms, 'ms', 0),
  );
  const metas = Object.values(results.sections)
    .filter((s) => s !== undefined && s !== results.sections.profile)
    .map((s) => s!.meta);
  const peakOf = (p: (typeof SERVICE_PROCESSES)[number]) => Math.max(0, ...metas.map((m) => peakMiB(m, p) ?? 0));
  const worst = SERVICE_PROCESSES.map((p) => ({ p, mib: peakOf(p) })).sort((a, b) => b.mib - a.mib)[0];
  const rss = atMost('rss', `each service under ${TARGETS.rssMiB} MiB resident throughout (peak over every section run)`, metas.length && worst.mib > 0 ? worst.mib : null, TARGETS.rssMiB, 'MiB', 0);
  if (rss.status !== 'not measured') rss.measured = `${rss.measured} (${LABEL[worst.p]}; ${SERVICE_PROCESSES.map((p) => `${LABEL[p]} ${fmt(peakOf(p), 0)}`).join(', ')})`;
  out.push(rss);
  return out;
}

/**
 * A hot window's revisions stay cheap when the bytes of a revision row depend on the partials
 * merged since the previous revision only: with the same number per revision, the last rows are
 * about as large as the first, however many partials the window holds by then.
 */
function hotTarget(results: BenchResults): TargetResult {
  const hot = results.sections.hot;
  const target = `hot window: bytes per revision grow with the partials merged since the previous revision, not with all merged (last tenth of the revisions at most ${TARGETS.hotBytesGrowth}× the first)`;
  const first = hot?.phases.find((p) => p.phase === 'first')?.bytes;
  const last = hot?.phases.find((p) => p.phase === 'last')?.bytes;
  if (!hot || !first || !last) return { id: 'hot', target, status: 'not measured', measured: '-', margin: '-', value: null, limit: TARGETS.hotBytesGrowth };
  const ratio = last / first;
  const r = atMost('hot', target, ratio, TARGETS.hotBytesGrowth, '×', 2);
  r.measured = `${fmt(first, 0)} B per row first, ${fmt(last, 0)} B last (${fmt(ratio, 2)}×) after ${fmt(hot.partialsMerged, 0)} partials`;
  return r;
}
