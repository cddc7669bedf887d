import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { scrapeMetrics, sumMetric } from '../support/metrics';
import { ServiceName, SERVICES } from '../support/stack';

/** The p-th percentile (0..100) by nearest rank; null without samples. */
export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

interface Sample {
  at: number;
  /** CPU seconds of the other processes watched (servers of the stack, the load generator). */
  otherCpuSeconds: Record<string, number>;
  cpuSeconds: Partial<Record<ServiceName, number>>;
  rssBytes: Partial<Record<ServiceName, number>>;
  machineBusy: number;
  machineTotal: number;
}

export interface ResourceUse {
  /** Average CPU of each service over the interval, in % of one core. */
  cpuPercent: Partial<Record<ServiceName, number>>;
  peakRssMiB: Partial<Record<ServiceName, number>>;
  /** Busy share of all cores of the machine (every process: servers, services, this client). */
  machineBusyPercent: number | null;
  /** CPU of the servers of the stack found on this machine and of the load generator, in % of one core. */
  otherCpuPercent: Record<string, number>;
}

const CLOCK_TICKS_PER_SECOND = 100;

/** user + system CPU seconds of a process from /proc/<pid>/stat; undefined when it is gone. */
function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

function machineTicks(): { busy: number; total: number } {
  try {
    const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
    const n = fields.map(Number);
    const total = n.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - n[3] - n[4], total };
  } catch {
    return { busy: NaN, total: NaN };
  }
}

/** Inodes of the sockets listening on `port` (IPv4 and IPv6), from /proc/net. */
function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    try {
      for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        if (f.length > 9 && f[3] === '0A' && parseInt(f[1].split(':')[1], 16) === port) inodes.add(f[9]);
      }
    } catch {
      /* not Linux */
    }
  }
  return inodes;
}

/**
 * The processes of this machine listening on the given ports (the stack's servers), by name:
 * found through their listening sockets, so private test servers on other ports are left out.
 */
export function processesListeningOn(ports: Record<string, number>): Record<string, number> {
  const wanted = new Map<string, string>();
  for (const [name, port] of Object.entries(ports)) for (const inode of listeningInodes(port)) wanted.set(`socket:[${inode}]`, name);
  const found: Record<string, number> = {};
  if (wanted.size === 0) return found;
  let pids: string[] = [];
  try {
    pids = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return found;
  }
  for (const pid of pids) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const name = wanted.get(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (name && !(name in found)) found[name] = Number(pid);
      } catch {
        /* closed meanwhile */
      }
    }
  }
  return found;
}

/**
 * CPU and memory of each service from its own /metrics (prom-client's process_cpu_seconds_total
 * and process_resident_memory_bytes: the same in every target mode), plus the machine's load
 * from /proc/stat, sampled every second.
 */
export class ResourceSampler {
  private readonly samples: Sample[] = [];
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly urlOf: (service: ServiceName) => string,
    /** Other processes to watch, by name. */
    private readonly others: Record<string, number> = {},
  ) {}

  start(): void {
    const tick = async () => {
      const machine = machineTicks();
      const otherCpuSeconds: Record<string, number> = {};
      for (const [name, pid] of Object.entries(this.others)) {
        const cpu = processCpuSeconds(pid);
        if (cpu !== undefined) otherCpuSeconds[name] = cpu;
      }
      const sample: Sample = { at: performance.now(), otherCpuSeconds, cpuSeconds: {}, rssBytes: {}, machineBusy: machine.busy, machineTotal: machine.total };
      await Promise.all(
        SERVICES.map(async (service) => {
          try {
            const text = await scrapeMetrics(this.urlOf(service));
            sample.cpuSeconds[service] = sumMetric(text, /^process_cpu_seconds_total$/);
            sample.rssBytes[service] = sumMetric(text, /^process_resident_memory_bytes$/);
          } catch {
            /* a service being restarted has no sample */
          }
        }),
      );
      this.samples.push(sample);
    };
    void tick();
    this.timer = setInterval(() => void tick(), 1_000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Use between two performance.now() instants. */
  between(from: number, to: number): ResourceUse {
    const inside = this.samples.filter((s) => s.at >= from - 1_000 && s.at <= to + 1_000);
    const cpuPercent: ResourceUse['cpuPercent'] = {};
    const peakRssMiB: ResourceUse['peakRssMiB'] = {};
    for (const service of SERVICES) {
      const withCpu = inside.filter((s) => s.cpuSeconds[service] !== undefined);
      if (withCpu.length >= 2) {
        const a = withCpu[0];
        const b = withCpu[withCpu.length - 1];
        const cpu = b.cpuSeconds[service]! - a.cpuSeconds[service]!;
        // A restart resets the counter; such an interval gives no figure rather than a wrong one.
        if (cpu >= 0 && b.at > a.at) cpuPercent[service] = (100 * cpu) / ((b.at - a.at) / 1000);
      }
      const rss = inside.map((s) => s.rssBytes[service]).filter((v): v is number => v !== undefined);
      if (rss.length) peakRssMiB[service] = Math.max(...rss) / (1024 * 1024);
    }
    const first = inside[0];
    const last = inside[inside.length - 1];
    const machineBusyPercent = first && last && last.machineTotal > first.machineTotal ? (100 * (last.machineBusy - first.machineBusy)) / (last.machineTotal - first.machineTotal) : null;
    const otherCpuPercent: Record<string, number> = {};
    if (first && last && last.at > first.at) {
      for (const name of Object.keys(this.others)) {
        const a = first.otherCpuSeconds[name];
        const b = last.otherCpuSeconds[name];
        if (a !== undefined && b !== undefined && b >= a) otherCpuPercent[name] = (100 * (b - a)) / ((last.at - first.at) / 1000);
      }
    }
    return { cpuPercent, peakRssMiB, machineBusyPercent, otherCpuPercent };
  }

  peakRssOverall(): Partial<Record<ServiceName, number>> {
    return this.between(-Infinity, Infinity).peakRssMiB;
  }
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Self time by where the code lives: a package, node internals, the app's own code, GC, idle. */
  byOwner: Array<{ owner: string; percent: number }>;
  byFunction: Array<{ fn: string; percent: number }>;
}

function ownerOf(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  if (url.startsWith('node:')) return 'node internals';
  if (/dist\/apps\//.test(url) || /\/(apps|libs)\//.test(url)) return 'own code (apps, libs)';
  return url.split('/').slice(-2).join('/');
}

/** Where a service spent its CPU, from a V8 .cpuprofile (self time, idle excluded). */
export function summarizeProfile(path: string, top = 8): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, profile.timeDeltas[i] ?? 0)));
  const owners = new Map<string, number>();
  const functions = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id) ?? 0;
    const { functionName, url, lineNumber } = node.callFrame;
    if (!us || functionName === '(idle)') continue;
    total += us;
    const owner = ownerOf(url, functionName);
    owners.set(owner, (owners.get(owner) ?? 0) + us);
    const fn = `${functionName || '(anonymous)'} ${url ? `${url.split('/').slice(-1)[0]}:${lineNumber + 1}` : ''}`.trim();
    functions.set(fn, (functions.get(fn) ?? 0) + us);
  }
  const rank = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => [k, (100 * us) / Math.max(1, total)] as const);
  return {
    totalMs: total / 1000,
    byOwner: rank(owners).map(([owner, percent]) => ({ owner, percent })),
    byFunction: rank(functions).map(([fn, percent]) => ({ fn, percent })),
  };
}
