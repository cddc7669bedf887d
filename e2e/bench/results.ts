import type { Summary } from './stats';

/*
 * The figures of a benchmark run, as written to docs/benchmarks.json: each section keeps when,
 * on which commit and on how busy a machine it was measured, so a section run alone (to measure
 * one change) replaces just its own figures.
 */

/** The six processes of the pipeline whose CPU the figures add up. */
export const PROCESSES = ['batch-ingestion', 'batch-summarizer', 'window-aggregator', 'kafka', 'minio', 'clickhouse'] as const;
export type ProcessName = (typeof PROCESSES)[number];
export const SERVICE_PROCESSES = ['batch-ingestion', 'batch-summarizer', 'window-aggregator'] as const;

export const LABEL: Record<ProcessName, string> = {
  'batch-ingestion': 'ingestion',
  'batch-summarizer': 'summarizer',
  'window-aggregator': 'aggregator',
  kafka: 'Kafka',
  minio: 'MinIO',
  clickhouse: 'ClickHouse',
};

/** The name the load generator (this process) is read under. */
export const LOAD_GENERATOR = 'load generator';

export type PerProcess<T> = Partial<Record<ProcessName, T>>;

export interface SectionMeta {
  /** ISO time the section started. */
  measuredAt: string;
  /** Short commit of the measured code, `-dirty` with uncommitted changes. */
  commit: string;
  node: string;
  machine: { cpus: number; model: string; memoryGiB: number };
  /** `own`: Kafka, MinIO and ClickHouse started for the run; `shared`: servers other work may use too; `external`. */
  servers: 'own' | 'shared' | 'external';
  /** One-minute load average when the section started and when it ended. */
  loadAverage: [number, number];
  /** Busy share of all cores over the section (every process on the machine). */
  machineBusyPercent: number | null;
  /** Cores' worth of CPU that processes outside the pipeline and the load generator took over the section. */
  otherCores: number | null;
  wallSeconds: number;
  /** CPU of each process at rest (cores), measured before the sections. */
  idleCores: PerProcess<number>;
  /** Peak resident memory of each process during the section (sampled every 0.5 s). */
  rssPeakMiB: PerProcess<number>;
  /** The kernel's peak (VmHWM) of each process since it started, read at the end of the section. */
  rssHighWaterMiB?: PerProcess<number>;
  settings: Record<string, string | number>;
  /** Anything that happened to the stack during the section that the figures depend on. */
  notes?: string[];
}

export interface CpuFigures {
  /** CPU seconds of each of the six processes over the interval; null when a reading was missing. */
  cpuSeconds: PerProcess<number | null>;
  /** Their sum; null when any is missing. */
  cpuTotalSeconds: number | null;
  /** The interval, seconds. */
  cpuWallSeconds: number;
  loadGeneratorCpuSeconds: number | null;
  /** CPU of every other process on the machine over the interval (shared machine). */
  otherMachineCpuSeconds: number | null;
  machineBusyPercent: number | null;
  /** What the six processes use at rest over the same time (from the idle figures): the floor under every figure. */
  idleCpuSeconds: number | null;
}

export interface S001Run extends CpuFigures {
  inFlight: number;
  /** 5,200 sends. */
  requests: number;
  /** 3,200 distinct batches. */
  batches: number;
  sendSeconds: number;
  /** Seconds from the first send until all three views were exact; null when not within the bound. */
  exactSeconds: number | null;
  /** Still exact when read again after the settle time. */
  stayedExact: boolean | null;
  problem?: string;
  statuses: Record<string, number>;
  latencyMs: { all: Summary; accepted: Summary; duplicate: Summary };
  /** Sum over the six processes divided by the requests sent (5,200): the unit of the CPU target. */
  cpuPerRequestMs: number | null;
  /** The same divided by the distinct batches (3,200). */
  cpuPerBatchMs: number | null;
}

export interface S001Section {
  meta: SectionMeta;
  runs: S001Run[];
}

export interface IdleSeries extends CpuFigures {
  latencyMs: Summary;
  statuses: Record<string, number>;
  /** Six processes' CPU per request, the consumers' work for it included. */
  cpuPerRequestMs: number | null;
}

export interface IdleSection {
  meta: SectionMeta;
  posts: number;
  gapMs: number;
  newBatch: IdleSeries;
  duplicate: IdleSeries;
}

export interface LagPoint {
  /** Seconds from the first send. */
  t: number;
  summarizer: number | null;
  aggregator: number | null;
  /** Cores each process used since the previous point. */
  cores: PerProcess<number | null>;
}

export interface LargeRun extends CpuFigures {
  clients: number;
  entriesPerBatch: number;
  /** Minute windows per batch: the partials each batch becomes. */
  partialsPerBatch: number;
  bodyBytes: number;
  sendSeconds: number;
  batches: number;
  entries: number;
  statuses: Record<string, number>;
  acceptedEntriesPerSecond: number;
  exactSeconds: number | null;
  /** Entries accepted divided by the time from the first send until exact. */
  endToEndEntriesPerSecond: number | null;
  latencyMs: Summary;
  freshnessMs: Summary;
  cpuPercent: PerProcess<number | null>;
  lag: LagPoint[];
  lagPeak: { summarizer: number | null; aggregator: number | null };
}

export interface LargeSection {
  meta: SectionMeta;
  runs: LargeRun[];
}

export interface HotRevision {
  /** Partials merged into the window up to and including this revision. */
  merged: number;
  revision: number;
  /** Ids the revision row carries. */
  ids: number;
  /** JSONEachRow bytes of the row as ClickHouse returns it. */
  bytes: number;
  /** The aggregator's own time for the insert (aggregator_write_duration_seconds). */
  writeMs: number | null;
  /** From producing the partials until the aggregator committed past them (their revision written). */
  endToEndMs: number;
  aggregatorCpuMs: number | null;
  clickhouseCpuMs: number | null;
}

export interface HotSection {
  meta: SectionMeta;
  customer: string;
  window: string;
  partialsPerRevision: number;
  partialsMerged: number;
  revisionsWritten: number;
  /** The revisions in at most 100 points, each the mean of a group of consecutive revisions, for the chart. */
  revisions: HotRevision[];
  /** first / middle / last tenth of all revisions. */
  phases: Array<{ phase: 'first' | 'middle' | 'last'; bytes: number | null; ids: number | null; writeMs: number | null; endToEndMs: number | null; aggregatorCpuMs: number | null }>;
  /** Bytes of all revision rows of the window. */
  totalRowBytes: number;
  /** What the last row would take if it carried every id merged so far (each row did, before). */
  rowWithAllIdsBytes: number | null;
  /** ClickHouseWindowStore.load of the window from a fresh store, ms (every attempt). */
  freshLoadMs: number[];
  loadedIds: number | null;
  restart: {
    /** From producing until merged: the first partial after the restart (includes joining the group). */
    firstAfterRestartMs: number | null;
    /** A partial of a new, empty window on the same partition. */
    coldWindowMs: number | null;
    /** A partial of the hot window, whose state the restarted aggregator loads. */
    hotWindowMs: number | null;
    windowsLoaded: number | null;
  } | null;
}

/** Calls of one kind between two scrapes of a latency histogram, and the shares above 100 and 250 ms. */
export interface CallTail {
  calls: number;
  over100ms: number | null;
  over250ms: number | null;
}

/** The quiet customer in one phase (alone, or under the flood). */
export interface NoisyQuiet {
  sent: number;
  statuses: Record<string, number>;
  /** Answers 429 or 503: it was held back. */
  throttled: number;
  /** Of its 202 answers. */
  latencyMs: Summary;
  /** From each 202 until its minute showed in minute_aggregates with the batch's count. */
  freshnessMs: Summary;
}

export interface LoopDelay {
  p99Ms: number;
  maxMs: number;
}

export interface NoisySection extends CpuFigures {
  meta: SectionMeta;
  seconds: number;
  baselineSeconds: number;
  flood: {
    customer: string;
    clients: number;
    bodyBytes: number;
    entriesPerBatch: number;
    pathsPerBatch: number;
    sendSeconds: number;
    statuses: Record<string, number>;
    /** Refusals by `scope limit` as the answers named them (`customer bytes`, `instance in_flight`, ...). */
    refusedBy: Record<string, number>;
    acceptedBatches: number;
    acceptedEntriesPerSecond: number;
    acceptedBytesPerSecond: number;
    latencyMs: Summary;
    /** From the end of the flood until its window held every accepted entry; null when not within the bound. */
    exactAfterSeconds: number | null;
    /** Its window at the end: total, path keys, requests under (other). */
    window: { total: number; keys: number; other: number } | null;
  };
  quiet: { customer: string; perSecond: number; entries: number; baseline: NoisyQuiet; flood: NoisyQuiet; unseen: number };
  /** CPU figures cover the flood only (from its first send to its last answer). */
  cpuPercent: PerProcess<number | null>;
  lagPeak: { summarizer: number; aggregator: number };
  /**
   * The load generator's event-loop delay during the flood, on A's thread and on B's (where B's
   * latencies are timed: a held loop there inflates them). Absent from runs before it was measured.
   */
  loadGeneratorEventLoop?: { flood: LoopDelay; quiet: LoopDelay | null };
  /** Every second from the start of the flood until A's window was exact: the consumers' lag, the cores each process used. */
  timeline: LagPoint[];
  /** The ingestion's own view of the flood (its metrics): where a request's time went. */
  ingestion: {
    s3Put: CallTail;
    kafkaPublish: CallTail;
    eventLoopDelayP99Ms: number;
    eventLoopDelayMaxMs: number;
    /** The ingestion's garbage collections during the flood (absent from runs before it was measured). */
    gc?: { collections: number; seconds: number; over100ms: number; majorCollections: number; majorSeconds: number };
  } | null;
}

export interface ProfileSection {
  meta: SectionMeta;
  workload: string;
  dir: string;
  services: Partial<Record<ProcessName, { cpuSeconds: number; byOwner: Array<{ owner: string; percent: number }>; byFunction: Array<{ fn: string; percent: number }> }>>;
}

export interface BenchResults {
  version: 1;
  sections: {
    idle?: IdleSection;
    s001?: S001Section;
    large?: LargeSection;
    hot?: HotSection;
    noisy?: NoisySection;
    profile?: ProfileSection;
  };
}

export type SectionName = keyof BenchResults['sections'];
export const SECTION_NAMES: readonly SectionName[] = ['idle', 's001', 'large', 'hot', 'noisy', 'profile'];
/** What `npm run bench` runs without BENCH_SECTIONS. */
export const DEFAULT_SECTIONS: readonly SectionName[] = ['idle', 's001', 'large', 'hot', 'noisy'];

/** A process's peak memory in a section: the higher of the sampled peak and the kernel's (VmHWM). */
export function peakMiB(meta: SectionMeta, p: ProcessName): number | undefined {
  const a = meta.rssPeakMiB[p];
  const b = meta.rssHighWaterMiB?.[p];
  return a === undefined ? b : b === undefined ? a : Math.max(a, b);
}

/** The sections of BENCH_SECTIONS (comma-separated; `all` = the default set plus the profile). */
export function parseSections(value: string | undefined): SectionName[] {
  if (value === undefined || value.trim() === '') return [...DEFAULT_SECTIONS];
  const wanted = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (wanted.includes('all')) return [...SECTION_NAMES];
  const unknown = wanted.filter((s) => !(SECTION_NAMES as readonly string[]).includes(s));
  if (unknown.length) throw new Error(`BENCH_SECTIONS: unknown ${unknown.join(', ')} (known: ${SECTION_NAMES.join(', ')}, all)`);
  return SECTION_NAMES.filter((s) => wanted.includes(s));
}

/** The recorded figures with the sections of `run` replacing theirs. */
export function mergeResults(recorded: BenchResults | undefined, run: BenchResults): BenchResults {
  return { version: 1, sections: { ...(recorded?.sections ?? {}), ...run.sections } };
}
