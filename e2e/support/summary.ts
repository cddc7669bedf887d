import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { textTable } from './progress';

export interface SummaryRow {
  scenario: string;
  target: string;
  sends: number;
  answers: string;
  retries: number;
  entries: number;
  windows: string;
  sendSeconds: number;
  exactSeconds: number | null;
  result: string;
}

/*
 * jest --runInBand runs every spec file in this one process, each in a fresh module registry, so
 * the rows of the whole run are kept in a file named after the process: the table printed
 * after each file holds every scenario run so far.
 */
const FILE = join(tmpdir(), `pipeline-e2e-summary-${process.pid}-${Math.round(performance.timeOrigin)}.jsonl`);

export function recordSummary(row: SummaryRow): void {
  appendFileSync(FILE, `${JSON.stringify(row)}\n`);
}

export function summaryTable(): string {
  if (!existsSync(FILE)) return '(no scenario ran)';
  const rows = readFileSync(FILE, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as SummaryRow);
  return textTable(
    ['scenario', 'target', 'sends', 'answers', 'retries', 'entries', 'windows m/h/d', 'sending s', 'exact after s', 'result'],
    rows.map((r) => [r.scenario, r.target, r.sends, r.answers, r.retries, r.entries, r.windows, r.sendSeconds.toFixed(1), r.exactSeconds === null ? '-' : r.exactSeconds.toFixed(1), r.result]),
  );
}

export function printSummary(): void {
  process.stderr.write(`\n[e2e] summary of this run\n${summaryTable()}\n\n`);
}
