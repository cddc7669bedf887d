import { clockTicksPerSecond, machineTicks, processCpuSeconds, processHighWaterBytes, processRssBytes } from './proc';
import { CpuReading } from './stats';

interface Sample {
  reading: CpuReading;
  rssBytes: Record<string, number>;
}

/**
 * Reads CPU time and resident memory of the watched processes from /proc: on demand (exact
 * figures between two instants of a run) and every `intervalMs` in the background (peak memory,
 * CPU over time). Processes are given by a function returning their current pid, so a restarted
 * service is followed.
 */
export class Meter {
  private readonly samples: Sample[] = [];
  private timer?: NodeJS.Timeout;

  constructor(private readonly pidOf: Record<string, () => number | undefined>) {}

  get names(): string[] {
    return Object.keys(this.pidOf);
  }

  read(): CpuReading {
    const processes: CpuReading['processes'] = {};
    for (const [name, pidOf] of Object.entries(this.pidOf)) {
      const pid = pidOf();
      if (pid === undefined) continue;
      const seconds = processCpuSeconds(pid);
      if (seconds !== undefined) processes[name] = { pid, seconds };
    }
    return { at: performance.now(), processes, machine: machineTicks(), ticksPerSecond: clockTicksPerSecond() };
  }

  private sample(): void {
    const reading = this.read();
    const rssBytes: Record<string, number> = {};
    for (const [name, { pid }] of Object.entries(reading.processes)) {
      const rss = processRssBytes(pid);
      if (rss !== undefined) rssBytes[name] = rss;
    }
    this.samples.push({ reading, rssBytes });
  }

  start(intervalMs = 500): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Peak resident memory of each process, in MiB, over the samples between two performance.now() instants. */
  peakRssMiB(from = -Infinity, to = Infinity): Record<string, number> {
    const peak: Record<string, number> = {};
    for (const s of this.samples) {
      if (s.reading.at < from || s.reading.at > to) continue;
      for (const [name, bytes] of Object.entries(s.rssBytes)) peak[name] = Math.max(peak[name] ?? 0, bytes / 2 ** 20);
    }
    return peak;
  }

  /**
   * The kernel's own peak resident memory of each process since it started (VmHWM), in MiB: it
   * catches a peak between two samples. A restarted process starts again from zero.
   */
  highWaterMiB(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, pidOf] of Object.entries(this.pidOf)) {
      const pid = pidOf();
      const bytes = pid === undefined ? undefined : processHighWaterBytes(pid);
      if (bytes !== undefined) out[name] = bytes / 2 ** 20;
    }
    return out;
  }

  /** Background readings between two instants, for CPU over time. */
  readings(from: number, to: number): CpuReading[] {
    return this.samples.filter((s) => s.reading.at >= from && s.reading.at <= to).map((s) => s.reading);
  }
}
