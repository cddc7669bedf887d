import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '@pipeline/testing';
import { BarPanel, dashboardPng, LinePanel, Panel } from './chart';
import { QueryBenchResult } from './queries';

/*
 * The chart of docs/benchmarks.md's query section (`npm run bench:queries-chart`), drawn from the
 * runs recorded in docs/benchmarks-queries.json: query time against the number of customers, before
 * the rollups (views computed from every revision) and after, on both engines, and rows read.
 */

export interface RecordedRun extends QueryBenchResult {
  /** `before`: migrations 001-004 (views computed when read); `after`: with the rollups. */
  phase: 'before' | 'after';
}

const COLORS = ['#1565c0', '#ef6c00', '#2e7d32', '#6a1b9a', '#c62828'];
const SHORT: Record<string, string> = {
  'minute rows, 1 customer, 1 hour': 'minutes, 1 cust., 1 h',
  'hourly_aggregates, 1 customer, 1 day': 'hourly, 1 cust., 1 day',
  'daily_aggregates, 1 customer, whole range': 'daily, 1 cust., all days',
  'hourly totals, all customers, 1 day': 'hourly totals, all cust., 1 day',
  'top 10 paths, 1 customer, 1 day (from minutes)': 'top 10 paths (minutes)',
};

const lineOf = (runs: RecordedRun[], title: string, unit: 'ms' | 's', target?: { value: number; label: string }): LinePanel => {
  const names = runs[0]?.queries.map((q) => q.name) ?? [];
  const scale = unit === 's' ? 1 / 1000 : 1;
  return {
    kind: 'line',
    title,
    xLabel: 'customers (30 days each)',
    yLabel: `p95 ${unit}`,
    series: names.map((name, i) => ({
      label: SHORT[name] ?? name,
      color: COLORS[i % COLORS.length],
      points: [...runs].sort((a, b) => a.customers - b.customers).map((r) => ({ x: r.customers, y: (r.queries.find((q) => q.name === name)?.p95Ms ?? NaN) * scale })),
    })),
    targets: target ? [target] : [],
  };
};

const rowsPanel = (runs: RecordedRun[], phase: 'before' | 'after', customers: number): BarPanel => {
  const at = runs.filter((r) => r.phase === phase && r.customers === customers);
  const names = at[0]?.queries.map((q) => q.name) ?? [];
  const divisor = phase === 'before' ? 1_000_000 : 1;
  return {
    kind: 'bar',
    title: `Rows read per query, ${phase}, ${customers} customers x 30 days`,
    yLabel: phase === 'before' ? 'million rows' : 'rows',
    categories: names.map((n) => SHORT[n] ?? n),
    datasets: at.map((r, i) => ({ label: r.engine, color: COLORS[i], values: r.queries.map((q) => (q.rowsRead === null ? null : q.rowsRead / divisor)) })),
    note: phase === 'after' ? 'target for the one-customer hour and day queries: at most 2 x the minute rows in range (2,880 a day)' : undefined,
    targets: phase === 'after' ? [{ value: 2880, label: '2 x 1,440 minute rows', categories: [1] }] : [],
  };
};

export function queriesChartPng(runs: RecordedRun[]): Buffer {
  const of = (phase: RecordedRun['phase'], line: string) => runs.filter((r) => r.phase === phase && r.engine.includes(` ${line}`));
  const largest = Math.max(...runs.map((r) => r.customers));
  const rowsAt = Math.max(...runs.filter((r) => r.phase === 'before').map((r) => r.customers), 0) || largest;
  const panels: Panel[] = [
    lineOf(of('after', '26.'), 'Current ClickHouse 26.3 (chdb), with the rollups', 'ms', { value: 100, label: '100 ms (100 customers)' }),
    lineOf(of('after', '18.'), 'ClickHouse 18.16, with the rollups', 'ms', { value: 1000, label: '1 s' }),
    lineOf(of('before', '26.'), 'Current ClickHouse 26.3 (chdb), views computed when read (before)', 's'),
    lineOf(of('before', '18.'), 'ClickHouse 18.16, views computed when read (before)', 's'),
    rowsPanel(runs, 'after', rowsAt),
    rowsPanel(runs, 'before', rowsAt),
  ];
  return dashboardPng('Analysts\' queries: p95 against customers, before and after the rollups', 'npm run bench:queries; 30 days of every minute from 2025-11-01, a third of the minutes revised; p95 of 20 runs (before: fewer)', panels);
}

export async function main(): Promise<number> {
  const runs = JSON.parse(readFileSync(join(REPO_ROOT, 'docs/benchmarks-queries.json'), 'utf8')) as RecordedRun[];
  writeFileSync(join(REPO_ROOT, 'docs/benchmarks-queries.png'), queriesChartPng(runs));
  return 0;
}
