import { consumerEnv } from '@pipeline/kafka';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';

/** Reading the deployment files of the repository (compose, Dockerfile, app configs). */
/** The repository root: the nearest folder upwards holding nx.json (also from a bundled copy). */
export const ROOT = (() => {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'nx.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no nx.json above ${__dirname}`);
  }
})();
export const APPS = ['batch-ingestion', 'batch-summarizer', 'window-aggregator'] as const;
export type App = (typeof APPS)[number];
export const INFRASTRUCTURE = ['kafka', 'minio', 'clickhouse'] as const;

export const readRepoFile = (path: string) => readFileSync(join(ROOT, path), 'utf8');
export const repoPathExists = (path: string) => existsSync(join(ROOT, path));

export interface ComposeService {
  image?: string;
  build?: { context?: string; dockerfile?: string; target?: string; args?: Record<string, string> };
  command?: string[] | string;
  environment?: Record<string, string | number | boolean | null>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition?: string }> | string[];
  healthcheck?: { test?: string[] | string };
  profiles?: string[];
  ulimits?: Record<string, { soft?: number | string; hard?: number | string }>;
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

export type Environment = Record<string, string | undefined>;

const VARIABLE = /\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g;

/**
 * docker-compose's substitution of variables in a value: `${NAME}`, `$NAME`, `${NAME:-default}`
 * (default when unset or empty), `${NAME-default}` (default when unset), `${NAME:?message}` and
 * `${NAME?message}` (refused with the message when unset or empty, or unset) and `$$` for a dollar.
 */
export function interpolate(value: string, env: Environment): string {
  return value.replace(VARIABLE, (whole, braced?: string, op?: string, fallback?: string, bare?: string) => {
    if (whole === '$$') return '$';
    const name = (braced ?? bare)!;
    const set = env[name];
    if (op === ':-') return set ? set : fallback!;
    if (op === '-') return set ?? fallback!;
    if ((op === ':?' && !set) || (op === '?' && set === undefined)) throw new Error(`${name}: ${fallback}`);
    return set ?? '';
  });
}

/** The variable a whole value is made of: `${KAFKA_IMAGE:-apache/kafka:4.1.1}` -> name and default. */
export function variableOf(value: string): { name: string; fallback: string } | undefined {
  const m = /^\$\{([A-Za-z_][A-Za-z0-9_]*):-([^}]*)\}$/.exec(value);
  return m ? { name: m[1], fallback: m[2] } : undefined;
}

function substitute<T>(node: T, env: Environment): T {
  if (typeof node === 'string') return interpolate(node, env) as T;
  if (Array.isArray(node)) return node.map((n) => substitute(n, env)) as T;
  if (node && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, substitute(v, env)])) as T;
  }
  return node;
}

/** docker-compose.yml as written: YAML anchors and merge keys resolved, variables left as they are. */
export function loadComposeRaw(path = 'docker-compose.yml'): ComposeFile {
  return parse(readRepoFile(path), { merge: true }) as ComposeFile;
}

/**
 * docker-compose.yml as docker-compose runs it: variables substituted from `env` (by default the
 * process environment, as docker-compose does), so unset image variables give the official images.
 */
export function loadCompose(path = 'docker-compose.yml', env: Environment = process.env): ComposeFile {
  return substitute(loadComposeRaw(path), env);
}

/** `KEY=value` lines of an env file (comments and blank lines skipped). */
export function parseEnvFile(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

/** A service's environment as strings, the way the container sees it. */
export function environmentOf(service: ComposeService): Record<string, string> {
  return Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

/** `apache/kafka:4.1.1` -> ['apache/kafka', '4.1.1']. */
export function splitImage(image: string): [name: string, tag: string] {
  const at = image.lastIndexOf(':');
  return at > image.lastIndexOf('/') ? [image.slice(0, at), image.slice(at + 1)] : [image, ''];
}

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
