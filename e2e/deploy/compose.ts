import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';

/**
 * docker-compose.yml read as docker-compose reads it. No workspace imports: Jest's global set-up
 * of the e2e project loads this file outside the module mapping of the tests.
 */

/** The repository root: the nearest folder upwards holding nx.json (also from a bundled copy). */
export const ROOT = (() => {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'nx.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no nx.json above ${__dirname}`);
  }
})();

export const readRepoFile = (path: string) => readFileSync(join(ROOT, path), 'utf8');
export const repoPathExists = (path: string) => existsSync(join(ROOT, path));

export interface ComposeService {
  image?: string;
  hostname?: string;
  build?: { context?: string; dockerfile?: string; target?: string; args?: Record<string, string> };
  entrypoint?: string[] | string;
  command?: string[] | string;
  environment?: Record<string, string | number | boolean | null>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition?: string }> | string[];
  healthcheck?: { test?: string[] | string };
  profiles?: string[];
  ulimits?: Record<string, number | string | { soft?: number | string; hard?: number | string }>;
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
 * `${NAME?message}` (an error when unset or empty, or unset) and `$$` for a dollar.
 */
export function interpolate(value: string, env: Environment): string {
  return value.replace(VARIABLE, (whole, braced?: string, op?: string, fallback?: string, bare?: string) => {
    if (whole === '$$') return '$';
    const name = (braced ?? bare)!;
    const set = env[name];
    if (op === ':-') return set ? set : fallback!;
    if (op === '-') return set ?? fallback!;
    if ((op === ':?' && !set) || (op === '?' && set === undefined)) throw new Error(fallback ? `${name}: ${fallback}` : `${name} must be set`);
    return set ?? '';
  });
}

/** The variables a compose file refuses to run without (`${NAME:?message}`), in order of appearance. */
export function requiredVariables(path = 'docker-compose.yml'): string[] {
  return [...new Set([...readRepoFile(path).matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*):\?[^}]*\}/g)].map((m) => m[1]))];
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

