import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_ROOT } from '@pipeline/testing';
import { AggregateReader } from '../support/aggregates';
import { Progress } from '../support/progress';
import { ServiceName, SERVICES } from '../support/stack';
import { startStack } from '../support/start-stack';
import { BenchContext } from './context';
import { Meter } from './meter';
import { ProfileSection } from './results';
import { largeSection } from './section-large';
import { scenario001Run } from './section-s001';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

export interface ProfileSummary {
  cpuSeconds: number;
  /** Self time by where the code lives: a package, node internals, the app's own code, GC. */
  byOwner: Array<{ owner: string; percent: number }>;
  byFunction: Array<{ fn: string; percent: number }>;
}

export function ownerOf(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  if (url.startsWith('node:')) return 'node internals';
  if (/dist\/apps\//.test(url) || /\/(apps|libs)\//.test(url)) return 'own code (apps, libs)';
  return url.split('/').slice(-2).join('/');
}

/** Where a service spent its CPU, from a V8 .cpuprofile (self time, idle excluded). */
export function summarizeProfile(profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }, top = 10): ProfileSummary {
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
      .map(([k, us]) => [k, Math.round((1000 * us) / Math.max(1, total)) / 10] as const);
  return {
    cpuSeconds: total / 1e6,
    byOwner: rank(owners).map(([owner, percent]) => ({ owner, percent })),
    byFunction: rank(functions).map(([fn, percent]) => ({ fn, percent })),
  };
}

/** What the profiled services are given: scenario 001, or the large-batch load of one client. */
export type ProfileWorkload = { kind: 's001' } | { kind: 'large'; seconds: number; entries: number };

/**
 * V8 CPU profiles of the three services over scenario 001 (2 in flight), from a second set of
 * services started with `--cpu-prof` on the same servers: the profiler weighs on none of the
 * other figures. Where each service's CPU goes, by package and by function.
 */
export async function profileSection(ctx: BenchContext, workload: ProfileWorkload = { kind: 's001' }): Promise<Omit<ProfileSection, 'meta'>> {
  const dir = join(REPO_ROOT, 'dist', 'bench', 'profiles');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const log = new Progress('bench profile');
  const name = workload.kind === 's001' ? 'scenario 001, 2 in flight' : `large batches of ${workload.entries} entries, 1 client, ${workload.seconds} s`;
  log.line(`a second set of services with --cpu-prof; ${name}`);
  const stack = await startStack({ name: 'benchprof', env: { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${dir}` } });
  const pids = Object.fromEntries(SERVICES.map((s) => [s, stack.pid?.(s)])) as Record<ServiceName, number | undefined>;
  const reader = new AggregateReader(stack.clickhouse);
  const pidOf = { ...ctx.pidOf, ...Object.fromEntries(SERVICES.map((s) => [s, () => stack.pid?.(s)])) };
  const meter = new Meter(pidOf);
  try {
    const profiled = { ...ctx, stack, reader, meter, pidOf, lag: undefined };
    if (workload.kind === 's001') await scenario001Run(profiled, 2, `-prof${stack.customerSuffix}`, '001 profiled');
    else await largeSection(profiled, [1], workload.seconds, workload.entries);
  } finally {
    await reader.close();
    // The profiles are written when the processes exit.
    await stack.stop();
  }
  const services: ProfileSection['services'] = {};
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    // CPU.<date>.<time>.<pid>.<thread>.<sequence>.cpuprofile
    const pid = Number(/\.(\d+)\.\d+\.\d+\.cpuprofile$/.exec(file)?.[1]);
    const service = SERVICES.find((s) => pids[s] === pid);
    if (service) services[service] = summarizeProfile(JSON.parse(readFileSync(join(dir, file), 'utf8')));
  }
  return { workload: name, dir: relative(REPO_ROOT, dir), services };
}
