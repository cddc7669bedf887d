import type { LogEntry } from '@pipeline/entry';
import { batchIdentity, Scenario, Send } from './model';

/** Counts of one customer's window, in the shape of the ClickHouse views (maps instead of parallel arrays). */
export interface WindowCounts {
  total: number;
  paths: Record<string, number>;
  uas: Record<string, number>;
}

/** Windows by `customerId|epochSeconds` of the window start. */
export type Aggregates = Map<string, WindowCounts>;

export type Granularity = 'minute' | 'hour' | 'day';
export const GRANULARITIES: readonly Granularity[] = ['minute', 'hour', 'day'];
const SPAN_MS: Record<Granularity, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

export interface ExpectedResults {
  minute: Aggregates;
  hour: Aggregates;
  day: Aggregates;
  /** Entries counted once each (duplicates and refused sends left out). */
  entries: number;
}

export interface ExpectedStatuses {
  /** Batches the pipeline must accept exactly once: one 202 each. */
  accepted: number;
  /** Further sends of those batches: one 409 each. */
  duplicates: number;
  /** Refused sends by their status. */
  refused: Record<number, number>;
}

export const windowId = (customerId: string, startMs: number) => `${customerId}|${Math.floor(startMs / 1000)}`;

/** `cus-axon 2025-12-28T18:03Z` for messages. */
export function describeWindow(id: string): string {
  const bar = id.lastIndexOf('|');
  const iso = new Date(Number(id.slice(bar + 1)) * 1000).toISOString();
  return `${id.slice(0, bar)} ${iso.slice(0, 16)}Z`;
}

/**
 * The key a request is counted under, written from the contract independently of the
 * pipeline's code: upper-case method, a space, the path up to its query string or fragment.
 */
export function expectedPathKey(entry: LogEntry): string {
  const cut = entry.path.search(/[?#]/);
  return `${entry.method.toUpperCase()} ${cut < 0 ? entry.path : entry.path.slice(0, cut)}`;
}

function add(counts: Record<string, number>, key: string, n: number): void {
  counts[key] = (counts[key] ?? 0) + n;
}

function addWindow(into: Aggregates, id: string, w: WindowCounts): void {
  let target = into.get(id);
  if (!target) {
    target = { total: 0, paths: {}, uas: {} };
    into.set(id, target);
  }
  target.total += w.total;
  for (const [k, n] of Object.entries(w.paths)) add(target.paths, k, n);
  for (const [k, n] of Object.entries(w.uas)) add(target.uas, k, n);
}

/** The sends whose entries count: the first send of every accepted batch. */
export function countedSends(sends: readonly Send[]): Send[] {
  const seen = new Set<string>();
  const out: Send[] = [];
  for (const send of sends) {
    if (send.expect.kind !== 'accepted') continue;
    const id = batchIdentity(send);
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(send);
  }
  return out;
}

/** Minute windows counted from entries; `familyOf` maps each user agent to its expected family. */
export function minuteAggregates(
  batches: Iterable<{ customerId: string; entries: readonly LogEntry[] }>,
  familyOf: ReadonlyMap<string, string>,
): Aggregates {
  const out: Aggregates = new Map();
  for (const batch of batches) {
    for (const entry of batch.entries) {
      const at = Date.parse(entry.receivedAt);
      if (Number.isNaN(at)) throw new Error(`generator produced an invalid timestamp ${entry.receivedAt}`);
      const family = familyOf.get(entry.userAgent);
      if (family === undefined) throw new Error(`no expected family for user agent ${JSON.stringify(entry.userAgent)}`);
      const id = windowId(batch.customerId, at - (((at % 60_000) + 60_000) % 60_000));
      addWindow(out, id, { total: 1, paths: { [expectedPathKey(entry)]: 1 }, uas: { [family]: 1 } });
    }
  }
  return out;
}

/** Hour or day windows as the sums of the minute windows they hold. */
export function rollUp(minutes: Aggregates, granularity: Granularity): Aggregates {
  const span = SPAN_MS[granularity];
  const out: Aggregates = new Map();
  for (const [id, w] of minutes) {
    const bar = id.lastIndexOf('|');
    const startMs = Number(id.slice(bar + 1)) * 1000;
    addWindow(out, windowId(id.slice(0, bar), startMs - (startMs % span)), w);
  }
  return out;
}

export function expectedResults(scenario: Pick<Scenario, 'sends' | 'families'>): ExpectedResults {
  const counted = countedSends(scenario.sends);
  const minute = minuteAggregates(counted, scenario.families);
  return {
    minute,
    hour: rollUp(minute, 'hour'),
    day: rollUp(minute, 'day'),
    entries: counted.reduce((n, s) => n + s.entries.length, 0),
  };
}

export function expectedStatuses(sends: readonly Send[]): ExpectedStatuses {
  const accepted = countedSends(sends).length;
  const acceptedSends = sends.filter((s) => s.expect.kind === 'accepted').length;
  const refused: Record<number, number> = {};
  for (const s of sends) if (s.expect.kind === 'refused') refused[s.expect.status] = (refused[s.expect.status] ?? 0) + 1;
  return { accepted, duplicates: acceptedSends - accepted, refused };
}

/** One customer's windows as plain objects, for readable test assertions. */
export function windowsOf(aggregates: Aggregates, customerId: string): Record<string, WindowCounts> {
  const out: Record<string, WindowCounts> = {};
  for (const [id, w] of aggregates) if (id.startsWith(`${customerId}|`)) out[describeWindow(id).split(' ')[1]] = w;
  return out;
}
