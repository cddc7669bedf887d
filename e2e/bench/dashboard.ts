import { dashboardPng, Panel, TargetLine } from './chart';
import { BenchResults, LABEL, peakMiB, PROCESSES, ProcessName, SERVICE_PROCESSES } from './results';
import { TargetResult, TARGETS } from './targets';

const COLORS: Record<ProcessName, string> = {
  'batch-ingestion': '#1f77b4',
  'batch-summarizer': '#ff7f0e',
  'window-aggregator': '#2ca02c',
  kafka: '#9467bd',
  minio: '#8c564b',
  clickhouse: '#e6b800',
};
const P50 = '#64b5f6';
const P90 = '#1e88e5';
const P99 = '#0d47a1';

const short = (v: number | null | undefined, digits = 1) => (v === null || v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits));
const verdictOf = (targets: TargetResult[], id: string, category: number, datasets?: number[]) => {
  const t = targets.find((x) => x.id === id);
  return t && (t.status === 'met' || t.status === 'missed') ? [{ category, datasets, ok: t.status === 'met', text: t.measured.split(' (')[0] }] : [];
};

/** The panels of the benchmark chart, from the recorded figures; a section not recorded has no panel. */
export function benchmarkPanels(results: BenchResults, targets: TargetResult[]): Panel[] {
  const { s001, idle, large, hot } = results.sections;
  const panels: Panel[] = [];

  if (s001?.runs.length) {
    const runs = s001.runs;
    panels.push({
      kind: 'bar',
      title: 'Scenario 001: CPU per 20-entry request, by process',
      note: 'ms per request (/ 5,200), /proc of six processes, first send until exact',
      yLabel: 'ms of CPU per request',
      categories: runs.map((r) => `${r.inFlight} in flight`),
      stacked: true,
      datasets: PROCESSES.map((p) => ({ label: LABEL[p], color: COLORS[p], values: runs.map((r) => (r.cpuSeconds[p] === null || r.cpuSeconds[p] === undefined ? null : (r.cpuSeconds[p]! * 1000) / r.requests)) })),
      targets: [{ value: TARGETS.cpuPerRequestMs, label: `target ${TARGETS.cpuPerRequestMs} ms` }],
      verdicts: runs.flatMap((r, i) => verdictOf(targets, `cpu-${r.inFlight}`, i)),
    });
  }

  if (s001?.runs.length) {
    const runs = s001.runs;
    panels.push({
      kind: 'bar',
      title: 'Scenario 001: seconds from the first send until exact',
      note: '5,200 requests of 20 entries (2,000 duplicates)',
      yLabel: 'seconds',
      categories: runs.map((r) => `${r.inFlight} in flight`),
      datasets: [
        { label: 'sending', color: '#90a4ae', values: runs.map((r) => r.sendSeconds) },
        { label: 'until exact', color: '#1565c0', values: runs.map((r) => r.exactSeconds) },
      ],
      targets: runs.flatMap((r, i): TargetLine[] => (r.inFlight === 2 ? [{ value: TARGETS.s001SecondsAt2, label: `target ${TARGETS.s001SecondsAt2} s`, categories: [i] }] : r.inFlight === 8 ? [{ value: TARGETS.s001SecondsAt8, label: `target ${TARGETS.s001SecondsAt8} s`, categories: [i] }] : [])),
      verdicts: runs.flatMap((r, i) => verdictOf(targets, `s001-${r.inFlight}`, i, [1])),
    });
  }

  if (idle) {
    panels.push({
      kind: 'bar',
      title: `Idle single POST latency (${idle.posts} sequential 20-entry batches each)`,
      note: 'ms, as the client sees it',
      yLabel: 'ms',
      categories: ['new batch (202)', 'duplicate (409)'],
      datasets: [
        { label: 'p50', color: P50, values: [idle.newBatch.latencyMs.p50, idle.duplicate.latencyMs.p50] },
        { label: 'p90', color: P90, values: [idle.newBatch.latencyMs.p90, idle.duplicate.latencyMs.p90] },
        { label: 'p99', color: P99, values: [idle.newBatch.latencyMs.p99, idle.duplicate.latencyMs.p99] },
      ],
      targets: [{ value: TARGETS.idlePostP50Ms, label: `target p50 ${TARGETS.idlePostP50Ms} ms`, categories: [0] }],
      verdicts: verdictOf(targets, 'idle-p50', 0, [0]),
    });
    const net = (series: typeof idle.newBatch, p: ProcessName) => {
      const cpu = series.cpuSeconds[p];
      const rest = series.cpuWallSeconds * (idle.meta.idleCores[p] ?? 0);
      return cpu === null || cpu === undefined ? null : Math.max(0, ((cpu - rest) * 1000) / idle.posts);
    };
    panels.push({
      kind: 'bar',
      title: 'Idle single POST: CPU per request, by process',
      note: 'ms per request, net of the CPU at rest, consumers\' work included',
      yLabel: 'ms of CPU per request',
      categories: ['new batch (202)', 'duplicate (409)'],
      stacked: true,
      datasets: PROCESSES.map((p) => ({ label: LABEL[p], color: COLORS[p], values: [net(idle.newBatch, p), net(idle.duplicate, p)] })),
    });
  }

  if (s001?.runs.length) {
    const cats: string[] = [];
    const p50: Array<number | null> = [];
    const p99: Array<number | null> = [];
    for (const r of s001.runs) {
      for (const [name, s] of [['202', r.latencyMs.accepted], ['409', r.latencyMs.duplicate]] as const) {
        cats.push(`${r.inFlight} in flight, ${name}`);
        p50.push(s.p50);
        p99.push(s.p99);
      }
    }
    panels.push({
      kind: 'bar',
      title: 'Scenario 001: answer latency under load',
      note: 'ms, new batches (202) and duplicates (409) apart',
      yLabel: 'ms',
      categories: cats,
      datasets: [
        { label: 'p50', color: P50, values: p50 },
        { label: 'p99', color: P99, values: p99 },
      ],
    });
  }

  if (large?.runs.length) {
    const runs = large.runs;
    const cats = runs.map((r) => `${r.clients} client${r.clients === 1 ? '' : 's'}`);
    const one = runs.findIndex((r) => r.clients === 1);
    panels.push({
      kind: 'bar',
      title: `Large batches (${runs[0].entriesPerBatch.toLocaleString('en-US')} entries, ${short(runs[0].bodyBytes / 2 ** 20, 2)} MiB): throughput`,
      note: 'entries/s; end to end: first send until the minute view is exact',
      yLabel: 'entries/s',
      categories: cats,
      datasets: [
        { label: 'accepted', color: '#90caf9', values: runs.map((r) => r.acceptedEntriesPerSecond) },
        { label: 'end to end', color: '#1565c0', values: runs.map((r) => r.endToEndEntriesPerSecond) },
      ],
      targets: one >= 0 ? [{ value: TARGETS.largeEndToEndEntriesPerSecond, label: `target ${TARGETS.largeEndToEndEntriesPerSecond.toLocaleString('en-US')}/s`, categories: [one] }] : [],
      verdicts: one >= 0 ? verdictOf(targets, 'large-1', one, [1]) : [],
    });
    panels.push({
      kind: 'bar',
      title: 'Large batches: freshness (202 of a probe until visible)',
      note: 'ms; a single-entry probe batch a second during each run',
      yLabel: 'ms',
      categories: cats,
      datasets: [
        { label: 'p50', color: P50, values: runs.map((r) => r.freshnessMs.p50) },
        { label: 'p95', color: P99, values: runs.map((r) => r.freshnessMs.p95) },
      ],
      targets: one >= 0 ? [{ value: TARGETS.largeFreshnessP95Ms, label: `target p95 ${TARGETS.largeFreshnessP95Ms} ms`, categories: [one] }] : [],
      verdicts: one >= 0 ? verdictOf(targets, 'large-1-fresh', one, [1]) : [],
    });
    panels.push({
      kind: 'bar',
      title: 'Large batches: where the cores went',
      note: '% of one core, first send until exact; the pipeline, the client, everything else',
      yLabel: '% of one core',
      categories: cats,
      stacked: true,
      datasets: [
        ...PROCESSES.map((p) => ({ label: LABEL[p], color: COLORS[p], values: runs.map((r) => r.cpuPercent[p] ?? null) })),
        { label: 'load generator', color: '#cfd8dc', values: runs.map((r) => (r.loadGeneratorCpuSeconds === null ? null : (100 * r.loadGeneratorCpuSeconds) / r.cpuWallSeconds)) },
        { label: 'other work on the machine', color: '#eceff1', values: runs.map((r) => (r.otherMachineCpuSeconds === null ? null : (100 * r.otherMachineCpuSeconds) / r.cpuWallSeconds)) },
      ],
      targets: [{ value: 200, label: 'both cores' }],
    });
  }

  if (hot?.revisions.length) {
    const first = hot.phases.find((p) => p.phase === 'first')?.bytes;
    panels.push({
      kind: 'line',
      title: `Hot window: revisions of ${hot.partialsPerRevision} partials as the window grows`,
      note: `state load of ${hot.loadedIds?.toLocaleString('en-US') ?? '-'} ids: ${short(Math.min(...hot.freshLoadMs), 0)} ms${hot.restart?.hotWindowMs ? `; after a restart ${short(hot.restart.hotWindowMs, 0)} ms (new window ${short(hot.restart.coldWindowMs, 0)} ms)` : ''}`,
      xLabel: 'partials merged into the window',
      yLabel: 'KB per revision row',
      y2Label: 'ms',
      series: [
        { label: 'bytes of the revision row (KB)', color: '#6a1b9a', points: hot.revisions.map((r) => ({ x: r.merged, y: r.bytes / 1000 })) },
        { label: 'insert time (ms)', color: '#ef6c00', axis: 'y2', points: hot.revisions.map((r) => ({ x: r.merged, y: r.writeMs })) },
        { label: 'aggregator CPU per revision (ms)', color: '#2ca02c', axis: 'y2', dashed: true, points: hot.revisions.map((r) => ({ x: r.merged, y: r.aggregatorCpuMs })) },
      ],
      targets: first ? [{ value: (first * TARGETS.hotBytesGrowth) / 1000, label: `limit ${TARGETS.hotBytesGrowth}× the first rows` }] : [],
    });
  }

  const sections = [idle, s001, large, hot].filter((s) => s !== undefined);
  if (sections.length) {
    const peak = (p: ProcessName) => Math.max(0, ...sections.map((s) => peakMiB(s!.meta, p) ?? 0));
    const rss = targets.find((t) => t.id === 'rss');
    panels.push({
      kind: 'bar',
      title: 'Peak resident memory per service',
      note: 'MiB; sampled every 0.5 s and the kernel\'s VmHWM, over every section run',
      yLabel: 'MiB',
      categories: SERVICE_PROCESSES.map((p) => LABEL[p]),
      datasets: [{ label: 'peak RSS', color: '#546e7a', values: SERVICE_PROCESSES.map(peak) }],
      targets: [{ value: TARGETS.rssMiB, label: `target < ${TARGETS.rssMiB} MiB` }],
      verdicts: rss && rss.status !== 'not measured' ? SERVICE_PROCESSES.map((p, i) => ({ category: i, ok: peak(p) < TARGETS.rssMiB, text: `${short(peak(p), 0)} MiB` })) : [],
    });
  }
  // Pairs side by side: scenario 001 CPU and time, latencies, idle CPU and memory, large batches, the hot window.
  const order = ['Scenario 001: CPU', 'Scenario 001: seconds', 'Scenario 001: answer', 'Idle single POST latency', 'Idle single POST: CPU', 'Peak resident', 'Large batches (', 'Large batches: freshness', 'Large batches: where', 'Hot window'];
  const rank = (panel: Panel) => {
    const i = order.findIndex((prefix) => panel.title.startsWith(prefix));
    return i < 0 ? order.length : i;
  };
  return [...panels].sort((a, b) => rank(a) - rank(b));
}

export function benchmarkChartPng(results: BenchResults, targets: TargetResult[], subheading: string): Buffer {
  const missed = targets.filter((t) => t.status === 'missed').length;
  const met = targets.filter((t) => t.status === 'met').length;
  return dashboardPng(`Benchmarks: ${met} targets met, ${missed} missed`, subheading, benchmarkPanels(results, targets));
}
