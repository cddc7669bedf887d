import { createRegistry } from '@pipeline/platform';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from './files';

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary';

/** Every TypeScript source file under `dir` (tests included: they declare no metrics). */
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules' || name === 'dist') return [];
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') && !/\.(int\.)?spec\.ts$/.test(path) ? [path] : [];
  });
}

/**
 * The metrics the services export, by name: every prom-client metric the apps and libs declare
 * (`new Counter({ name: '...' })` and its siblings, read from the sources), plus the default
 * process metrics every service's registry collects (createRegistry, asked directly).
 */
export function exportedMetrics(): Map<string, { type: MetricType; declaredIn: string }> {
  const found = new Map<string, { type: MetricType; declaredIn: string }>();
  for (const file of [...sources(join(ROOT, 'apps')), ...sources(join(ROOT, 'libs'))]) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/new (Counter|Gauge|Histogram|Summary)(?:<[^>]*>)?\(\{\s*name:\s*'([a-zA-Z_:][a-zA-Z0-9_:]*)'/g)) {
      found.set(m[2], { type: m[1].toLowerCase() as MetricType, declaredIn: relative(ROOT, file) });
    }
  }
  for (const metric of createRegistry('metrics-inventory').getMetricsAsArray()) {
    found.set(metric.name, { type: metric.type as unknown as MetricType, declaredIn: 'prom-client default metrics' });
  }
  return found;
}

/** The series names Prometheus stores for the exported metrics (histograms as _bucket, _sum, _count). */
export function exportedSeries(): Set<string> {
  const series = new Set<string>();
  for (const [name, { type }] of exportedMetrics()) {
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) series.add(name + suffix);
    else if (type === 'summary') for (const suffix of ['', '_sum', '_count']) series.add(name + suffix);
    else series.add(name);
  }
  return series;
}

const PROMQL_WORDS = new Set([
  'sum', 'min', 'max', 'avg', 'count', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile', 'count_values', 'group',
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan',
]);

/**
 * The metric names a PromQL expression selects: identifiers that are neither functions (followed
 * by a parenthesis), aggregation keywords, label names (inside braces or a by/without list),
 * template variables, durations nor numbers.
 */
export function promqlMetricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    if (m[2] || PROMQL_WORDS.has(m[1].toLowerCase())) continue;
    names.add(m[1]);
  }
  return [...names];
}
