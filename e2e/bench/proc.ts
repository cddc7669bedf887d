import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/*
 * What the benchmark reads from /proc: CPU time and resident memory of a process, the busy time
 * of the whole machine, and which process listens on a port. The parsers are pure (the figures
 * depend on them, so they are unit-tested); the readers around them return undefined when a
 * process is gone or the file does not exist (not Linux).
 */

export interface CpuTicks {
  /** Clock ticks in user mode (utime) and kernel mode (stime), every thread of the process. */
  user: number;
  system: number;
}

/**
 * utime and stime (fields 14 and 15) of `/proc/<pid>/stat`. The command name (field 2) is in
 * parentheses and may itself hold spaces and parentheses, so fields are counted after the last `)`.
 */
export function parseStatCpuTicks(stat: string): CpuTicks {
  const close = stat.lastIndexOf(')');
  if (close < 0) throw new Error('not a /proc/<pid>/stat line');
  // After ") " come field 3 (state) onwards: utime is field 14, so index 11 here.
  const fields = stat.slice(close + 2).trim().split(/\s+/);
  const user = Number(fields[11]);
  const system = Number(fields[12]);
  if (!Number.isFinite(user) || !Number.isFinite(system)) throw new Error('no utime/stime in /proc/<pid>/stat');
  return { user, system };
}

/** VmRSS of `/proc/<pid>/status`, in bytes; undefined when absent (a kernel thread, a zombie). */
export function parseStatusRssBytes(status: string): number | undefined {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  return m ? Number(m[1]) * 1024 : undefined;
}

/** VmHWM of `/proc/<pid>/status`: the highest resident memory since the process started, in bytes. */
export function parseStatusHighWaterBytes(status: string): number | undefined {
  const m = /^VmHWM:\s+(\d+)\s+kB$/m.exec(status);
  return m ? Number(m[1]) * 1024 : undefined;
}

export interface MachineTicks {
  /** Ticks all cores spent on anything but idle and iowait. */
  busy: number;
  total: number;
}

/** The aggregate `cpu` line of `/proc/stat` (user nice system idle iowait irq softirq steal ...). */
export function parseMachineTicks(procStat: string): MachineTicks {
  const line = procStat.split('\n').find((l) => /^cpu\s/.test(l));
  if (!line) throw new Error('no aggregate cpu line in /proc/stat');
  const n = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = n.reduce((a, b) => a + b, 0);
  return { busy: total - n[3] - n[4], total };
}

/**
 * Inodes of the sockets listening on `port` in a `/proc/net/tcp` or `/proc/net/tcp6` table
 * (state 0A is LISTEN; the local address is hex `ADDR:PORT`).
 */
export function parseListeningInodes(table: string, port: number): string[] {
  const inodes: string[] = [];
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length > 9 && f[3] === '0A' && parseInt(f[1].split(':')[1], 16) === port) inodes.push(f[9]);
  }
  return inodes;
}

let ticksPerSecond: number | undefined;

/** USER_HZ, the unit of the tick counts in /proc (100 on every common Linux build). */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    try {
      const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
      ticksPerSecond = Number.isFinite(n) && n > 0 ? n : 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

const readOrUndefined = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

/** user + system CPU seconds of a process so far; undefined when it is gone. */
export function processCpuSeconds(pid: number): number | undefined {
  const stat = readOrUndefined(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  const t = parseStatCpuTicks(stat);
  return (t.user + t.system) / clockTicksPerSecond();
}

export function processRssBytes(pid: number): number | undefined {
  const status = readOrUndefined(`/proc/${pid}/status`);
  return status === undefined ? undefined : parseStatusRssBytes(status);
}

export function processHighWaterBytes(pid: number): number | undefined {
  const status = readOrUndefined(`/proc/${pid}/status`);
  return status === undefined ? undefined : parseStatusHighWaterBytes(status);
}

export function machineTicks(): MachineTicks | undefined {
  const stat = readOrUndefined('/proc/stat');
  return stat === undefined ? undefined : parseMachineTicks(stat);
}

/**
 * The process listening on each port (the servers of the stack), found through the inodes of
 * their listening sockets: whatever else runs on the machine on other ports is left out.
 */
export function processesListeningOn(ports: Record<string, number>): Record<string, number> {
  const wanted = new Map<string, string>();
  for (const [name, port] of Object.entries(ports)) {
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
      for (const inode of parseListeningInodes(readOrUndefined(table) ?? '', port)) wanted.set(`socket:[${inode}]`, name);
    }
  }
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
