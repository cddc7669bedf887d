/*
 * The arithmetic of the benchmark's figures: percentiles, CPU between two readings of /proc, CPU
 * per request. Pure, unit-tested.
 */

/** The p-th percentile (0..100) by nearest rank; null without samples. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export interface Summary {
  n: number;
  p50: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
  mean: number | null;
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] : null);
  return {
    n: sorted.length,
    p50: at(50),
    p90: at(90),
    p95: at(95),
    p99: at(99),
    max: sorted.length ? sorted[sorted.length - 1] : null,
    mean: sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : null,
  };
}

/** One reading of the CPU seconds of the watched processes and of the machine. */
export interface CpuReading {
  /** performance.now() of the reading, ms. */
  at: number;
  /** CPU seconds so far by process name, with the pid read (a restarted process has a new one). */
  processes: Record<string, { pid: number; seconds: number }>;
  /** Busy and total ticks of all cores (/proc/stat). */
  machine?: { busy: number; total: number };
  ticksPerSecond: number;
}

export interface CpuUse {
  wallSeconds: number;
  /** CPU seconds each process used in between; null when it was missing or restarted in between. */
  seconds: Record<string, number | null>;
  /** CPU seconds of every process on the machine (all cores), null without /proc/stat. */
  machineBusySeconds: number | null;
  /** Busy share of all cores, in %. */
  machineBusyPercent: number | null;
}

export function cpuBetween(a: CpuReading, b: CpuReading): CpuUse {
  const seconds: Record<string, number | null> = {};
  for (const name of new Set([...Object.keys(a.processes), ...Object.keys(b.processes)])) {
    const x = a.processes[name];
    const y = b.processes[name];
    seconds[name] = x && y && x.pid === y.pid && y.seconds >= x.seconds ? y.seconds - x.seconds : null;
  }
  const wallSeconds = Math.max(0, (b.at - a.at) / 1000);
  let machineBusySeconds: number | null = null;
  let machineBusyPercent: number | null = null;
  if (a.machine && b.machine && b.machine.total > a.machine.total) {
    machineBusySeconds = (b.machine.busy - a.machine.busy) / b.ticksPerSecond;
    machineBusyPercent = (100 * (b.machine.busy - a.machine.busy)) / (b.machine.total - a.machine.total);
  }
  return { wallSeconds, seconds, machineBusySeconds, machineBusyPercent };
}

/** Sum of the CPU seconds of `names`; null when any of them has no figure (a sum of some would mislead). */
export function sumCpu(use: CpuUse, names: readonly string[]): number | null {
  let total = 0;
  for (const n of names) {
    const s = use.seconds[n];
    if (s === null || s === undefined) return null;
    total += s;
  }
  return total;
}

/** Milliseconds of CPU per unit of work (request, batch, revision); null without a figure or units. */
export function perUnitMs(cpuSeconds: number | null, units: number): number | null {
  return cpuSeconds === null || !(units > 0) ? null : (cpuSeconds * 1000) / units;
}

/** Average use in % of one core. */
export function percentOfCore(cpuSeconds: number | null, wallSeconds: number): number | null {
  return cpuSeconds === null || !(wallSeconds > 0) ? null : (100 * cpuSeconds) / wallSeconds;
}

/**
 * CPU of everything else on the machine in between: the machine's busy time minus the watched
 * processes. What other work on a shared machine took from the cores during a run.
 */
export function otherMachineSeconds(use: CpuUse, watched: readonly string[]): number | null {
  if (use.machineBusySeconds === null) return null;
  const known = watched.reduce((a, n) => a + (use.seconds[n] ?? 0), 0);
  return Math.max(0, use.machineBusySeconds - known);
}

/** Mean of a slice of a series given as fractions of its length (0..1), e.g. the first and last tenth. */
export function meanOfSlice(values: readonly number[], from: number, to: number): number | null {
  const a = Math.floor(values.length * from);
  const b = Math.max(a + 1, Math.ceil(values.length * to));
  const slice = values.slice(a, Math.min(b, values.length));
  return slice.length ? slice.reduce((x, y) => x + y, 0) / slice.length : null;
}

/** Least-squares slope of y over x; null with fewer than two distinct x. */
export function slope(points: ReadonlyArray<{ x: number; y: number }>): number | null {
  if (points.length < 2) return null;
  const mx = points.reduce((a, p) => a + p.x, 0) / points.length;
  const my = points.reduce((a, p) => a + p.y, 0) / points.length;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? null : num / den;
}
