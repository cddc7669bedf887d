import { benchmarkPanels } from './dashboard';
import { BEGIN_MARKER, compareFigures, END_MARKER, generatedMarkdown, keyFigures, mergeGenerated } from './report';
import { BenchResults, mergeResults, parseSections, S001Run, SectionMeta } from './results';
import { summarize } from './stats';
import { atLeast, atMost, evaluateTargets } from './targets';

const meta = (rss: SectionMeta['rssPeakMiB'] = {}): SectionMeta => ({
  measuredAt: '2026-01-01T10:00:00.000Z',
  commit: 'abc1234',
  node: 'v24.0.0',
  machine: { cpus: 2, model: 'CPU', memoryGiB: 24 },
  servers: 'own',
  loadAverage: [0.5, 1.5],
  machineBusyPercent: 90,
  otherCores: 0.1,
  wallSeconds: 30,
  idleCores: {},
  rssPeakMiB: rss,
  settings: {},
});

const cpu = { cpuSeconds: {}, cpuTotalSeconds: null, cpuWallSeconds: 10, loadGeneratorCpuSeconds: null, otherMachineCpuSeconds: null, machineBusyPercent: null, idleCpuSeconds: null };

const s001Run = (inFlight: number, exactSeconds: number | null, cpuPerRequestMs: number | null): S001Run => ({
  inFlight,
  requests: 5_200,
  batches: 3_200,
  sendSeconds: 5,
  exactSeconds,
  stayedExact: true,
  statuses: { '202': 3_200, '409': 2_000 },
  latencyMs: { all: summarize([1, 2]), accepted: summarize([1]), duplicate: summarize([2]) },
  ...cpu,
  cpuPerRequestMs,
  cpuPerBatchMs: cpuPerRequestMs === null ? null : (cpuPerRequestMs * 5_200) / 3_200,
});

function results(): BenchResults {
  return {
    version: 1,
    sections: {
      s001: { meta: meta({ 'batch-ingestion': 120, 'batch-summarizer': 310 }), runs: [s001Run(2, 6.5, 2.25), s001Run(8, null, 1.2)] },
      idle: {
        meta: meta({ 'batch-ingestion': 100 }),
        posts: 500,
        gapMs: 20,
        newBatch: { ...cpu, latencyMs: summarize([1.5, 1.8, 2.5]), statuses: { '202': 3 }, cpuPerRequestMs: 3 },
        duplicate: { ...cpu, latencyMs: summarize([2, 3]), statuses: { '409': 2 }, cpuPerRequestMs: 4 },
      },
    },
  };
}

describe('targets', () => {
  it('says met or missed, and by how much', () => {
    expect(atMost('x', 'x', 6.5, 7, 's')).toMatchObject({ status: 'met', measured: '6.5 s', margin: '0.5 s under' });
    expect(atMost('x', 'x', 14, 7, 's')).toMatchObject({ status: 'missed', margin: '7.0 s over (2.0× the target)' });
    expect(atLeast('x', 'x', 200_000, 250_000, 'entries/s')).toMatchObject({ status: 'missed', margin: '50,000 entries/s short (80 % of the target)' });
    expect(atLeast('x', 'x', 300_000, 250_000, 'entries/s')).toMatchObject({ status: 'met' });
    expect(atMost('x', 'x', null, 7, 's').status).toBe('not measured');
  });

  it('evaluates every target from the recorded sections', () => {
    const byId = Object.fromEntries(evaluateTargets(results()).map((t) => [t.id, t]));
    expect(byId['s001-2'].status).toBe('met');
    expect(byId['s001-8'].status).toBe('not measured'); // not exact: no time to judge
    expect(byId['cpu-2']).toMatchObject({ status: 'missed', value: 2.25 });
    expect(byId['cpu-8'].status).toBe('met');
    expect(byId['idle-p50']).toMatchObject({ status: 'met', value: 1.8 });
    expect(byId['large-1'].status).toBe('not measured');
    expect(byId.hot.status).toBe('not measured');
    // The worst service over every section: the summarizer's 310 MiB during scenario 001.
    expect(byId.rss).toMatchObject({ status: 'missed', value: 310 });
  });

  it('marks missed targets on the chart in red and met ones in green', () => {
    const panels = benchmarkPanels(results(), evaluateTargets(results()));
    const cpuPanel = panels.find((p) => p.title.startsWith('Scenario 001: CPU'));
    expect(cpuPanel?.kind === 'bar' && cpuPanel.verdicts).toEqual([
      { category: 0, ok: false, text: '2.25 ms', datasets: undefined },
      { category: 1, ok: true, text: '1.20 ms', datasets: undefined },
    ]);
    const rss = panels.find((p) => p.title.startsWith('Peak resident'));
    expect(rss?.kind === 'bar' && rss.verdicts?.map((v) => v.ok)).toEqual([true, false, true]);
    expect(panels.every((p) => p.kind !== 'bar' || p.datasets.every((d) => d.values.length === p.categories.length))).toBe(true);
  });
});

describe('docs/benchmarks.md', () => {
  it('replaces only the generated part and keeps the hand-written text', () => {
    const hand = '# Benchmarks\n\nHand-written intro.\n\n## Changes and their effect\n\n| change | before | after |\n';
    const first = mergeGenerated(hand, 'figures one');
    expect(first.startsWith(hand.trimEnd())).toBe(true);
    expect(first).toContain(`${BEGIN_MARKER}\n\nfigures one\n\n${END_MARKER}`);
    const edited = first.replace('Hand-written intro.', 'Hand-written intro, edited.') + '\nA note after the figures.\n';
    const second = mergeGenerated(edited, 'figures two');
    expect(second).toContain('Hand-written intro, edited.');
    expect(second).toContain('A note after the figures.');
    expect(second).toContain('figures two');
    expect(second).not.toContain('figures one');
    expect(mergeGenerated(undefined, 'x')).toContain(BEGIN_MARKER);
    expect(() => mergeGenerated(`a\n${BEGIN_MARKER}\nb`, 'x')).toThrow(/marker/);
  });

  it('writes the targets table and the sections recorded', () => {
    const md = generatedMarkdown(results(), 'chart.png');
    expect(md).toContain('### Targets');
    expect(md).toContain('**MISSED**');
    expect(md).toContain('### Scenario 001');
    expect(md).toContain('### Idle single POST');
    expect(md).not.toContain('### Hot window');
    expect(md).toContain('![');
  });

  it('compares the key figures of two runs', () => {
    const before = results();
    const after = results();
    after.sections.s001!.runs[0] = s001Run(2, 3.25, 1.125);
    const lines = compareFigures(before, after);
    expect(lines).toContain('001 x2 until exact: 6.50 -> 3.25 s (-50 %)');
    expect(lines).toContain('001 x2 CPU per request: 2.25 -> 1.13 ms (-50 %)');
    expect(keyFigures(after).find((f) => f.name === 'idle POST p50 (new)')?.value).toBe(1.8);
  });
});

describe('sections', () => {
  it('parses BENCH_SECTIONS', () => {
    expect(parseSections(undefined)).toEqual(['idle', 's001', 'large', 'hot', 'noisy']);
    expect(parseSections('hot, s001')).toEqual(['s001', 'hot']);
    expect(parseSections('all')).toEqual(['idle', 's001', 'large', 'hot', 'noisy', 'profile']);
    expect(() => parseSections('s001,nope')).toThrow(/nope/);
  });

  it('replaces the recorded sections a run measured and keeps the others', () => {
    const recorded = results();
    const run: BenchResults = { version: 1, sections: { s001: { meta: meta(), runs: [s001Run(2, 3, 1)] } } };
    const merged = mergeResults(recorded, run);
    expect(merged.sections.s001!.runs).toHaveLength(1);
    expect(merged.sections.idle).toBe(recorded.sections.idle);
    expect(mergeResults(undefined, run).sections).toEqual(run.sections);
  });
});

describe('recording', () => {
  it('records by default only with the default settings', () => {
    // Imported here: the module reads its settings when loaded.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { changedSettings } = require('./bench') as typeof import('./bench');
    expect(changedSettings({ BENCH_DOCS: 'x', BENCH_RECORD: '1', BENCH_SERVERS: 'shared', PATH: '/bin' })).toEqual([]);
    expect(changedSettings({ BENCH_SECTIONS: 's001', BENCH_IDLE_POSTS: '10' })).toEqual(['BENCH_SECTIONS', 'BENCH_IDLE_POSTS']);
  });
});

describe('memory', () => {
  it('takes the kernel peak when it is above the sampled one', () => {
    const r = results();
    r.sections.idle!.meta.rssHighWaterMiB = { 'window-aggregator': 333 };
    const rss = evaluateTargets(r).find((t) => t.id === 'rss');
    expect(rss).toMatchObject({ status: 'missed', value: 333 });
    expect(rss?.measured).toContain('aggregator 333');
  });
});
