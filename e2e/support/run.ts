import { batchIdentity, expectedResults, ExpectedResults, expectedStatuses, Scenario, Send } from '../scenarios';
import { AggregateReader, NotExactError, waitUntilExact } from './aggregates';
import { drive, DriveReport, finalStatuses } from './driver';
import { formatCounts, Progress } from './progress';
import { Stack } from './stack';
import { recordSummary } from './summary';

export interface ScenarioOutcome {
  report: DriveReport;
  expected: ExpectedResults;
  /** Problems with the answers (empty when every send got the answer it must get). */
  answerProblems: string[];
  /** Why the views are not exact, or null when they are. */
  countProblem: string | null;
  exactSeconds: number | null;
}

export interface RunOptions {
  /** Label for progress lines and the summary (default: the scenario id). */
  label?: string;
  /** Called after each final answer (crash plans hook in here). */
  onAnswered?: (done: number, total: number) => void;
  /** Awaited after sending and before waiting for exact counts (e.g. outstanding restarts). */
  afterSending?: () => Promise<void>;
  /** The expected results to wait for (default: those of this scenario's sends alone). */
  expected?: ExpectedResults;
  /** Epoch ms to measure "exact after" from (default: this scenario's first send). */
  since?: number;
}

/**
 * The answers the sends must get. With `exact`, every accepted batch has exactly one 202 and its
 * other sends 409. A send retried after a lost connection or a 502 / 503 / 504 may find its first
 * attempt stored (409 instead of 202), so for such a batch, and without `exact`, each send needs a
 * 202 or 409 answer and the batch at most one 202.
 */
export function answerProblems(sends: readonly Send[], report: DriveReport, exact: boolean): string[] {
  const problems: string[] = [];
  const groups = new Map<string, number[]>();
  sends.forEach((send, i) => {
    const record = report.records[i];
    if (send.expect.kind === 'refused') {
      if (record.status !== send.expect.status) problems.push(`send ${i} (${send.customerId} ${send.idempotencyKey ?? 'no key'}): ${record.status ?? record.error} (expected ${send.expect.status})`);
      return;
    }
    const id = batchIdentity(send);
    groups.set(id, [...(groups.get(id) ?? []), i]);
  });
  for (const [id, indices] of groups) {
    const statuses = indices.map((i) => report.records[i].status);
    const accepted = statuses.filter((s) => s === 202).length;
    const unsettled = indices.some((i) => report.records[i].unsettled > 0);
    const ok = statuses.every((s) => s === 202 || s === 409) && (exact && !unsettled ? accepted === 1 : accepted <= 1);
    if (!ok) problems.push(`batch ${id.replace('\n', ' ')}: answers ${statuses.map((s) => s ?? 'none').join(', ')} (expected one 202, the rest 409)`);
  }
  return problems.length > 20 ? [...problems.slice(0, 20), `... and ${problems.length - 20} more`] : problems;
}

/** Sends a scenario, waits until the three views are exact (or the bounded wait ends) and records a summary row. */
export async function runScenario(stack: Stack, scenario: Scenario, options: RunOptions = {}): Promise<ScenarioOutcome> {
  const label = options.label ?? scenario.id;
  const progress = new Progress(label);
  const statuses = expectedStatuses(scenario.sends);
  progress.line(
    `${scenario.title}: ${scenario.sends.length} sends (${statuses.accepted} batches, ${statuses.duplicates} duplicates${Object.keys(statuses.refused).length ? `, refused ${formatCounts(statuses.refused)}` : ''}), ${scenario.inFlight} in flight, target ${stack.mode}`,
  );
  const report = await drive(scenario.sends, {
    inFlight: scenario.inFlight,
    ingestUrl: () => stack.url('batch-ingestion'),
    progress,
    onAnswered: options.onAnswered,
    signal: stack.signal,
  });
  await options.afterSending?.();
  const expected = options.expected ?? expectedResults(scenario);
  const reader = new AggregateReader(stack.clickhouse);
  let countProblem: string | null = null;
  let exactSeconds: number | null = null;
  try {
    const exact = await waitUntilExact(reader, expected, { customers: scenario.customers, progress, since: options.since ?? report.startedAt, signal: stack.signal });
    exactSeconds = exact.exactAfterMs / 1000;
  } catch (err) {
    if (!(err instanceof NotExactError)) throw err;
    countProblem = err.message;
    progress.line(`NOT EXACT: ${err.message}\n${stack.describe()}`);
  } finally {
    await reader.close();
  }
  const problems = answerProblems(scenario.sends, report, true);
  recordSummary({
    scenario: label,
    target: stack.mode,
    sends: scenario.sends.length,
    answers: formatCounts(finalStatuses(report)),
    retries: report.retries,
    entries: expected.entries,
    windows: `${expected.minute.size}/${expected.hour.size}/${expected.day.size}`,
    sendSeconds: (report.finishedAt - report.startedAt) / 1000,
    exactSeconds,
    result: countProblem ? 'NOT EXACT' : problems.length ? 'WRONG ANSWERS' : 'exact',
  });
  return { report, expected, answerProblems: problems, countProblem, exactSeconds };
}
