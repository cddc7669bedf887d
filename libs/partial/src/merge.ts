import { MINUTE_MS, parseMinute, windowKey } from '@pipeline/window';
import { Partial, partialId } from '@pipeline/contract';
import { cloneWindowState, compareCodePoints, hasMerged, WindowState } from './window-state';

export type MergeOutcome = 'merged' | 'duplicate';

/** The path key under which a window counts the requests of paths beyond its cap. No real path key looks like it (they are `METHOD /...`). */
export const OTHER_PATH_KEY = '(other)';

/** Distinct path keys a window holds by default (AGGREGATOR_MAX_PATHS_PER_WINDOW). */
export const DEFAULT_MAX_PATHS_PER_WINDOW = 10_000;

/** What folding did to one partial: its path keys that found no place, and their requests. */
export interface Folded {
  paths: number;
  requests: number;
}

function addCounts(into: Map<string, number>, counts: Record<string, number>): void {
  for (const [key, n] of Object.entries(counts)) into.set(key, (into.get(key) ?? 0) + n);
}

/**
 * Adds a partial's path counts to a window of at most `maxPaths` distinct path keys: a key the
 * window holds keeps counting, a new key takes a free place, and once none is left new keys are
 * counted under OTHER_PATH_KEY. Keys never leave, so every key's count only grows from one
 * revision to the next (the hour and day rollups rely on it), and the total stays exact.
 *
 * The result depends on the state and the partial alone: a partial's new keys take the free places
 * in code-point order, not in the order its JSON happened to list them. Two writers merging the
 * same partials in offset order from the same revision (semantics.md, I5) hence write equal
 * revisions, and a redelivered partial is a duplicate that changes nothing.
 */
function addPaths(state: WindowState, counts: Record<string, number>, maxPaths: number): Folded {
  const into = state.byPath;
  const keys = Object.keys(counts);
  let held = into.size - (into.has(OTHER_PATH_KEY) ? 1 : 0);
  if (held + keys.length <= maxPaths) {
    // Room for every key whatever the order: the common case skips the sort.
    addCounts(into, counts);
    return { paths: 0, requests: 0 };
  }
  const folded: Folded = { paths: 0, requests: 0 };
  for (const key of keys.sort(compareCodePoints)) {
    const n = counts[key];
    const current = into.get(key);
    if (key === OTHER_PATH_KEY) into.set(key, (current ?? 0) + n);
    else if (current !== undefined) into.set(key, current + n);
    else if (held < maxPaths) {
      into.set(key, n);
      held++;
    } else {
      into.set(OTHER_PATH_KEY, (into.get(OTHER_PATH_KEY) ?? 0) + n);
      folded.paths++;
      folded.requests += n;
    }
  }
  return folded;
}

function applyPartial(state: WindowState, partial: Partial, maxPaths: number): Folded {
  state.newIds.add(partialId(partial));
  state.total += partial.total;
  addCounts(state.byUserAgent, partial.requestsByUserAgent);
  return addPaths(state, partial.requestsByPath, maxPaths);
}

/**
 * Adds one batch's counts to a window unless that batch is already part of it. Partials are
 * deterministic per (batch, window), so "batch id already present" means "these very counts are
 * already included": ignoring it is what makes redelivery harmless. Paths beyond `maxPaths` are
 * folded (addPaths).
 */
export function mergePartial(state: WindowState, partial: Partial, maxPaths = DEFAULT_MAX_PATHS_PER_WINDOW): MergeOutcome {
  if (partial.customerId !== state.customerId || partial.windowStart !== state.windowStart) {
    throw new Error(`partial of ${windowKey(partial.customerId, partial.windowStart)} merged into ${windowKey(state.customerId, state.windowStart)}`);
  }
  if (hasMerged(state, partialId(partial))) return 'duplicate';
  applyPartial(state, partial, maxPaths);
  return 'merged';
}

/** A partial and its position in its partition (the Kafka offset). */
export interface OffsetPartial {
  offset: number;
  partial: Partial;
}

/** A window's last durable state and where it came from: this process's memory or the store. */
export interface KnownWindow {
  state: WindowState;
  source: 'memory' | 'store';
}

export interface MergeBatchInput {
  /** Valid partials of one partition, in offset order. */
  items: OffsetPartial[];
  /** The last durable state of every window the items touch (revision 0 when never written). Not modified. */
  known: ReadonlyMap<string, KnownWindow>;
  /** The partition's event-time watermark before this batch: the latest window start seen. */
  watermarkMs?: number;
  /** How far behind the watermark a written window may still receive partials without them counting as late. */
  allowedLatenessMs: number;
  /** Distinct path keys a window may hold; beyond them paths are counted under OTHER_PATH_KEY. */
  maxPathsPerWindow?: number;
}

export interface PartialOutcome extends OffsetPartial {
  outcome: MergeOutcome;
  late: boolean;
}

export interface MergeBatchResult {
  /** New states, with their new revision, of the windows that changed: one row each to write. */
  changed: WindowState[];
  outcomes: PartialOutcome[];
  merged: number;
  duplicates: number;
  late: number;
  /** Path keys of merged partials that were counted under OTHER_PATH_KEY, and their requests. */
  folded: Folded;
  watermarkMs: number | undefined;
}

/**
 * Late: the window had already been written before this batch, and either its state had left
 * memory (reloaded from the store: it sat idle long enough to be evicted, or this instance has
 * just taken the partition over) or its end lies more than the allowed lateness behind the
 * partition's event-time watermark. Only data time is compared, never the wall clock.
 */
export function isLate(known: KnownWindow, windowStartMs: number, watermarkMs: number | undefined, allowedLatenessMs: number): boolean {
  if (known.state.revision === 0) return false;
  if (known.source === 'store') return true;
  return watermarkMs !== undefined && windowStartMs + MINUTE_MS < watermarkMs - allowedLatenessMs;
}

/**
 * Merges one fetched batch of a partition into copies of the known window states (the inputs stay
 * untouched, so an unsuccessful write leaves nothing half-applied in memory).
 *
 * The new revision of a window is `max(previous + 1, last offset of the window in this batch + 1)`.
 * While the partition count is unchanged, a row with revision R therefore holds exactly the
 * window's partials below offset R: two writers that ever race on a window (an instance that lost
 * its partition while a write was in flight, and the new owner) write equal revisions only with
 * equal contents, and a higher revision always includes a lower one.
 */
export function mergeBatch(input: MergeBatchInput): MergeBatchResult {
  const working = new Map<string, { base: KnownWindow; state: WindowState | undefined; lastOffset: number }>();
  const outcomes: PartialOutcome[] = [];
  let watermarkMs = input.watermarkMs;
  let merged = 0;
  let duplicates = 0;
  let late = 0;
  const folded: Folded = { paths: 0, requests: 0 };
  const maxPaths = input.maxPathsPerWindow ?? DEFAULT_MAX_PATHS_PER_WINDOW;

  for (const item of input.items) {
    const { partial } = item;
    const key = windowKey(partial.customerId, partial.windowStart);
    const startMs = parseMinute(partial.windowStart);
    if (startMs === null) throw new Error(`partial ${partial.batchId} has an invalid window ${partial.windowStart}`);
    watermarkMs = watermarkMs === undefined ? startMs : Math.max(watermarkMs, startMs);

    let entry = working.get(key);
    if (!entry) {
      const base = input.known.get(key);
      if (!base) throw new Error(`no known state for window ${key}`);
      entry = { base, state: undefined, lastOffset: item.offset };
      working.set(key, entry);
    }
    entry.lastOffset = Math.max(entry.lastOffset, item.offset);

    const current = entry.state ?? entry.base.state;
    if (hasMerged(current, partialId(partial))) {
      duplicates++;
      outcomes.push({ ...item, outcome: 'duplicate', late: false });
      continue;
    }
    entry.state ??= cloneWindowState(entry.base.state);
    const f = applyPartial(entry.state, partial, maxPaths);
    folded.paths += f.paths;
    folded.requests += f.requests;
    const isLatePartial = isLate(entry.base, startMs, watermarkMs, input.allowedLatenessMs);
    merged++;
    if (isLatePartial) late++;
    outcomes.push({ ...item, outcome: 'merged', late: isLatePartial });
  }

  const changed: WindowState[] = [];
  for (const entry of working.values()) {
    if (!entry.state) continue;
    entry.state.revision = Math.max(entry.base.state.revision + 1, entry.lastOffset + 1);
    changed.push(entry.state);
  }
  return { changed, outcomes, merged, duplicates, late, folded, watermarkMs };
}
