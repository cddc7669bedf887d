import { consumerEnv } from '@pipeline/kafka';
import { readRepoFile } from './compose';

/** Reading the deployment files of the repository (compose, Dockerfile, app configs). */
export * from './compose';

export const APPS = ['batch-ingestion', 'batch-summarizer', 'window-aggregator'] as const;
export type App = (typeof APPS)[number];
export const INFRASTRUCTURE = ['kafka', 'minio', 'clickhouse'] as const;

export interface DockerStage {
  from: string;
  name: string;
  lines: string[];
}

/** The stages of a Dockerfile: `FROM x AS name` and the instructions under it (continuations joined). */
export function dockerStages(text: string): { args: Record<string, string>; stages: DockerStage[] } {
  const instructions = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const args: Record<string, string> = {};
  const stages: DockerStage[] = [];
  for (const line of instructions) {
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?$/i.exec(line);
    if (from) stages.push({ from: from[1], name: from[2] ?? '', lines: [] });
    else if (stages.length === 0) {
      const arg = /^ARG\s+([A-Z_]+)=(\S+)$/.exec(line);
      if (arg) args[arg[1]] = arg[2];
    } else stages[stages.length - 1].lines.push(line.replace(/\s+/g, ' '));
  }
  return { args, stages };
}

export interface AppEnvironment {
  /** Every variable the app's configuration reads. */
  known: Set<string>;
  /** Shared platform shapes the app's configuration spreads (serviceEnv, kafkaEnv, s3Env, clickhouseEnv). */
  shapes: string[];
  /** Keys the app declares itself (PORT, group ids, tuning). */
  own: string[];
}

/**
 * The variables an app reads, from the source of its configuration: the platform shapes it
 * spreads plus the keys it declares. Read as text: e2e code does not import app code.
 */
export function appEnvironment(app: App, platformShapes: Record<string, Record<string, unknown>>): AppEnvironment {
  const source = readRepoFile(`apps/${app}/src/config.ts`);
  const shapes = [...source.matchAll(/\.\.\.(\w+Env)\b/g)].map((m) => m[1]).filter((s) => s in platformShapes);
  const consumers = [...source.matchAll(/\.\.\.consumerEnv\('([A-Z]+)'/g)].map((m) => m[1]);
  const own = [
    ...[...source.matchAll(/^\s{2}([A-Z][A-Z0-9_]*)\s*:/gm)].map((m) => m[1]),
    ...consumers.flatMap((prefix) => Object.keys(consumerEnv(prefix, { groupId: 'g', partitionsConcurrently: 1, maxBytesInFlight: 1, fetchMaxWaitMs: 1, fetchMinBytes: 1, commitIntervalMs: 0 }))),
  ];
  const known = new Set([...shapes.flatMap((s) => Object.keys(platformShapes[s])), ...own]);
  return { known, shapes, own };
}
