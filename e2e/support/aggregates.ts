import { ClickHouseGateway, sqlIdentifier, sqlString } from '@pipeline/clickhouse';
import { Aggregates, describeWindow, ExpectedResults, Granularity, GRANULARITIES, WindowCounts } from '../scenarios';
import { Progress } from './progress';

export interface ClickHouseTarget {
  url: string;
  username: string;
  password: string;
  database: string;
}

/** The analyst-facing view of each granularity. */
export const VIEWS: Record<Granularity, string> = { minute: 'minute_aggregates', hour: 'hourly_aggregates', day: 'daily_aggregates' };

interface Row {
  customer_id: string;
  ts: number | string;
  total_requests: number | string;
  path_keys: string[];
  path_counts: (number | string)[];
  ua_keys: string[];
  ua_counts: (number | string)[];
}

const zip = (keys: string[], counts: (number | string)[]) => {
  const out: Record<string, number> = {};
  keys.forEach((k, i) => (out[k] = (out[k] ?? 0) + Number(counts[i])));
  return out;
};

/** Reads the views exactly as an analyst does: a plain SELECT, no FINAL. */
export class AggregateReader {
  private readonly gateway: ClickHouseGateway;

  constructor(readonly target: ClickHouseTarget) {
    this.gateway = ClickHouseGateway.fromSettings({ ...target, requestTimeoutMs: 30_000 });
  }

  async read(granularity: Granularity, customers: readonly string[]): Promise<Aggregates> {
    const db = sqlIdentifier(this.target.database);
    const rows = await this.gateway.query<Row>(
      `SELECT customer_id, toUnixTimestamp(window_start) AS ts, total_requests, path_keys, path_counts, ua_keys, ua_counts
       FROM ${db}.${VIEWS[granularity]} WHERE customer_id IN (${customers.map(sqlString).join(', ')})`,
    );
    const out: Aggregates = new Map();
    for (const row of rows) {
      const id = `${row.customer_id}|${Number(row.ts)}`;
      if (out.has(id)) throw new Error(`${VIEWS[granularity]} returned two rows for ${describeWindow(id)}: the view must give one row per window`);
      out.set(id, { total: Number(row.total_requests), paths: zip(row.path_keys, row.path_counts), uas: zip(row.ua_keys, row.ua_counts) });
    }
    return out;
  }

  close(): Promise<void> {
    return this.gateway.close();
  }
}

function mapDiff(kind: string, expected: Record<string, number>, actual: Record<string, number>): string[] {
  const out: string[] = [];
  for (const key of new Set([...Object.keys(expected), ...Object.keys(actual)])) {
    if (expected[key] !== actual[key]) out.push(`${kind} ${JSON.stringify(key)} ${actual[key] ?? 'missing'} (expected ${expected[key] ?? 'none'})`);
  }
  return out;
}

export function sameWindow(expected: WindowCounts, actual: WindowCounts | undefined): boolean {
  return !!actual && windowProblems(expected, actual).length === 0;
}

/** Where the aggregator counts the paths of a minute beyond its cap (AGGREGATOR_MAX_PATHS_PER_WINDOW). */
export const OTHER_PATH_KEY = '(other)';

/**
 * A window with more distinct paths than the aggregator keeps shows some of them and counts the
 * rest under `(other)`; which ones it keeps depends on the order of merging, which a scenario does
 * not know. What it does know: in a minute every path shown carries its exact count (a key is
 * either kept from its first request on or never), in an hour or a day at most that (a path kept in
 * one minute may be folded in another), and `(other)` holds exactly the rest.
 */
function foldedPathProblems(expected: Record<string, number>, actual: Record<string, number>, shownExact: boolean): string[] {
  const out: string[] = [];
  let shown = 0;
  let expectedSum = 0;
  for (const n of Object.values(expected)) expectedSum += n;
  for (const [key, n] of Object.entries(actual)) {
    if (key === OTHER_PATH_KEY) continue;
    shown += n;
    const want = expected[key];
    if (want === undefined || (shownExact ? n !== want : n > want)) out.push(`path ${JSON.stringify(key)} ${n} (expected ${shownExact ? '' : 'at most '}${want ?? 'none'})`);
  }
  if (actual[OTHER_PATH_KEY] !== expectedSum - shown) out.push(`path ${OTHER_PATH_KEY} ${actual[OTHER_PATH_KEY]} (expected the rest, ${expectedSum - shown})`);
  return out;
}

function windowProblems(expected: WindowCounts, actual: WindowCounts, shownPathsExact = true): string[] {
  const out = expected.total === actual.total ? [] : [`total ${actual.total} (expected ${expected.total})`];
  const folded = actual.paths[OTHER_PATH_KEY] !== undefined && expected.paths[OTHER_PATH_KEY] === undefined;
  const paths = folded ? foldedPathProblems(expected.paths, actual.paths, shownPathsExact) : mapDiff('path', expected.paths, actual.paths);
  return [...out, ...paths, ...mapDiff('family', expected.uas, actual.uas)];
}

/** Human-readable differences, one line per window; empty when `actual` is exactly `expected`. */
export function diffAggregates(expected: Aggregates, actual: Aggregates, limit = 20, granularity: Granularity = 'minute'): string[] {
  const lines: string[] = [];
  for (const [id, w] of expected) {
    const a = actual.get(id);
    if (!a) lines.push(`${describeWindow(id)}: missing (expected total ${w.total})`);
    else {
      const problems = windowProblems(w, a, granularity === 'minute');
      if (problems.length > 0) lines.push(`${describeWindow(id)}: ${problems.join('; ')}`);
    }
  }
  for (const [id, a] of actual) if (!expected.has(id)) lines.push(`${describeWindow(id)}: unexpected window (total ${a.total})`);
  return lines.length > limit ? [...lines.slice(0, limit), `... and ${lines.length - limit} more`] : lines;
}

export interface ExactResult {
  /** Milliseconds from `since` until the three views were first exact. */
  exactAfterMs: number;
  polls: number;
}

export interface WaitOptions {
  customers: readonly string[];
  progress?: Progress;
  /** Epoch ms the wait is measured from (the first send). */
  since: number;
  timeoutMs?: number;
  pollMs?: number;
  /** Once exact, wait this long and check again: nothing may be counted twice later. */
  settleMs?: number;
  signal?: AbortSignal;
}

export class NotExactError extends Error {}

/**
 * Polls the three views until every window of the scenario's customers is exactly as expected
 * (bounded by E2E_EXACT_TIMEOUT_MS, default 180 s), then re-reads after a settle period. Throws
 * a NotExactError listing the differences.
 */
export async function waitUntilExact(reader: AggregateReader, expected: ExpectedResults, options: WaitOptions): Promise<ExactResult> {
  const timeoutMs = options.timeoutMs ?? Number(process.env.E2E_EXACT_TIMEOUT_MS ?? 180_000);
  const pollMs = options.pollMs ?? 250;
  const settleMs = options.settleMs ?? Number(process.env.E2E_SETTLE_MS ?? 3_000);
  const deadline = Date.now() + timeoutMs;
  let polls = 0;
  let status = 'no answer from ClickHouse yet';
  let last: Record<Granularity, string[]> | undefined;
  const check = async () => {
    polls++;
    const diffs = {} as Record<Granularity, string[]>;
    for (const g of GRANULARITIES) diffs[g] = diffAggregates(expected[g], await reader.read(g, options.customers), 20, g);
    return diffs;
  };
  const summarize = (d: Record<Granularity, string[]>) =>
    GRANULARITIES.map((g) => `${g} ${expected[g].size - Math.min(expected[g].size, d[g].length)}/${expected[g].size} exact`).join(', ');

  options.progress?.every(() => `waiting for exact counts: ${status}`);
  try {
    for (;;) {
      try {
        last = await check();
        const waiting = last.minute.length;
        status = `${summarize(last)}${waiting ? `; e.g. ${last.minute[0].split(';')[0]}` : ''}`;
        if (GRANULARITIES.every((g) => last![g].length === 0)) break;
      } catch (err) {
        if (err instanceof Error && /returned two rows/.test(err.message)) throw err;
        status = `ClickHouse: ${(err as Error).message.split('\n')[0]}`;
      }
      if (options.signal?.aborted) throw new Error('stopped waiting: the stack was stopped');
      if (Date.now() > deadline) {
        const detail = last ? GRANULARITIES.filter((g) => last![g].length).map((g) => `${VIEWS[g]}:\n  ${last![g].join('\n  ')}`).join('\n') : status;
        throw new NotExactError(`not exact within ${timeoutMs} ms of waiting:\n${detail}`);
      }
      await new Promise((r) => setTimeout(r, pollMs));
    }
    const exactAfterMs = Date.now() - options.since;
    options.progress?.line(`exact in all three views ${(exactAfterMs / 1000).toFixed(1)} s after the first send`);
    await new Promise((r) => setTimeout(r, settleMs));
    const after = await check();
    const changed = GRANULARITIES.filter((g) => after[g].length);
    if (changed.length) {
      throw new NotExactError(`exact, then changed within ${settleMs} ms (counted twice?):\n${changed.map((g) => `${VIEWS[g]}:\n  ${after[g].join('\n  ')}`).join('\n')}`);
    }
    return { exactAfterMs, polls };
  } finally {
    options.progress?.stop();
  }
}
