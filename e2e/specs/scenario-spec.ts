import { ScenarioOutcome } from '../support/run';

/** The three things every scenario asserts, in one comparison so a failure shows them all. */
export function verdict(outcome: ScenarioOutcome) {
  return { answerProblems: outcome.answerProblems, counts: outcome.countProblem };
}

export const EXACT = { answerProblems: [], counts: null };

/** Final answers by status, e.g. { 202: 10, 409: 20 }. */
export function finalAnswers(outcome: ScenarioOutcome): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of outcome.report.records) out[String(r.status)] = (out[String(r.status)] ?? 0) + 1;
  return out;
}

export const STACK_TIMEOUT_MS = 300_000;
export const SCENARIO_TIMEOUT_MS = 600_000;
