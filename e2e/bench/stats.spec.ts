import { cpuFigures } from './context';
import { s001CpuUnits } from './section-s001';
import { cpuBetween, CpuReading, meanOfSlice, otherMachineSeconds, percentile, percentOfCore, perUnitMs, slope, summarize, sumCpu } from './stats';

const reading = (at: number, processes: Record<string, [number, number]>, machine?: [number, number]): CpuReading => ({
  at,
  processes: Object.fromEntries(Object.entries(processes).map(([name, [pid, seconds]]) => [name, { pid, seconds }])),
  machine: machine ? { busy: machine[0], total: machine[1] } : undefined,
  ticksPerSecond: 100,
});

describe('benchmark arithmetic', () => {
  it('takes percentiles by nearest rank', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNull();
  });

  it('summarizes a series', () => {
    const s = summarize([5, 1, 4, 2, 3, 10, 6, 7, 8, 9]);
    expect(s).toMatchObject({ n: 10, p50: 5, p90: 9, p95: 10, p99: 10, max: 10, mean: 5.5 });
    expect(summarize([])).toMatchObject({ n: 0, p50: null, mean: null });
  });

  it('gives the CPU each process used between two readings, and none for a restarted one', () => {
    const a = reading(1_000, { ingestion: [10, 5], aggregator: [11, 2], kafka: [12, 100] }, [1_000, 4_000]);
    const b = reading(3_000, { ingestion: [10, 6.5], aggregator: [99, 0.3], kafka: [12, 100.25] }, [1_300, 4_400]);
    const use = cpuBetween(a, b);
    expect(use.wallSeconds).toBe(2);
    expect(use.seconds.ingestion).toBeCloseTo(1.5);
    expect(use.seconds.aggregator).toBeNull();
    expect(use.seconds.kafka).toBeCloseTo(0.25);
    // 300 busy ticks of 400, at 100 ticks a second: 3 CPU seconds over both cores, 75 % busy.
    expect(use.machineBusySeconds).toBeCloseTo(3);
    expect(use.machineBusyPercent).toBeCloseTo(75);
    expect(sumCpu(use, ['ingestion', 'kafka'])).toBeCloseTo(1.75);
    expect(sumCpu(use, ['ingestion', 'aggregator'])).toBeNull();
    expect(otherMachineSeconds(use, ['ingestion', 'kafka'])).toBeCloseTo(1.25);
  });

  it('gives no machine figure without /proc/stat', () => {
    const use = cpuBetween(reading(0, {}), reading(1_000, {}));
    expect(use.machineBusySeconds).toBeNull();
    expect(otherMachineSeconds(use, [])).toBeNull();
  });

  it('divides CPU by requests and by batches as the targets count them', () => {
    // The issue's own example: 27.3 s over scenario 001's 5,200 requests is 5.25 ms per request.
    expect(s001CpuUnits(27.3, 5_200, 3_200).perRequestMs).toBeCloseTo(5.25, 2);
    expect(s001CpuUnits(27.3, 5_200, 3_200).perBatchMs).toBeCloseTo(8.53, 2);
    expect(s001CpuUnits(null, 5_200, 3_200)).toEqual({ perRequestMs: null, perBatchMs: null });
    expect(perUnitMs(1, 0)).toBeNull();
    expect(percentOfCore(0.5, 2)).toBe(25);
    expect(percentOfCore(null, 2)).toBeNull();
  });

  it('puts the six processes, the load generator and the rest of the machine apart', () => {
    const six = { 'batch-ingestion': 1, 'batch-summarizer': 2, 'window-aggregator': 0.5, kafka: 0.25, minio: 1, clickhouse: 0.25 };
    const before = reading(0, Object.fromEntries(Object.keys(six).map((k, i) => [k, [i + 1, 10] as [number, number]]).concat([['load generator', [99, 1]]])), [0, 0]);
    const after = reading(
      10_000,
      Object.fromEntries(Object.entries(six).map(([k, v], i) => [k, [i + 1, 10 + v] as [number, number]]).concat([['load generator', [99, 1.5]]])),
      [700, 2_000],
    );
    const f = cpuFigures(before, after, { 'batch-ingestion': 0.01, 'batch-summarizer': 0.01, 'window-aggregator': 0.01, kafka: 0.05, minio: 0.01, clickhouse: 0.01 });
    expect(f.cpuTotalSeconds).toBeCloseTo(5);
    expect(f.loadGeneratorCpuSeconds).toBeCloseTo(0.5);
    // 7 s busy on the machine: 5 for the six, 0.5 for the load generator, 1.5 for other work.
    expect(f.otherMachineCpuSeconds).toBeCloseTo(1.5);
    expect(f.machineBusyPercent).toBeCloseTo(35);
    expect(f.idleCpuSeconds).toBeCloseTo(0.1 * 10);
    expect(cpuFigures(before, after, {}).idleCpuSeconds).toBeNull();
  });

  it('averages slices of a series and fits a slope', () => {
    const v = Array.from({ length: 20 }, (_, i) => i);
    expect(meanOfSlice(v, 0, 0.1)).toBe(0.5);
    expect(meanOfSlice(v, 0.9, 1)).toBe(18.5);
    expect(meanOfSlice([3], 0.9, 1)).toBe(3);
    expect(meanOfSlice([], 0, 1)).toBeNull();
    expect(slope([{ x: 0, y: 1 }, { x: 1, y: 3 }, { x: 2, y: 5 }])).toBeCloseTo(2);
    expect(slope([{ x: 1, y: 1 }])).toBeNull();
  });
});
