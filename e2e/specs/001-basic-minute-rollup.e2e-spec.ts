import { expectedStatuses, scenario001, windowsOf } from '../scenarios';
import { runScenario } from '../support/run';
import { Stack } from '../support/stack';
import { startStack } from '../support/start-stack';
import { printSummary } from '../support/summary';

/** The reference scenario, exactly as specified: 5,200 sends, 2 in flight, four exact minutes. */
describe('scenario 001: basic minute rollup', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ name: 's001' });
  }, 300_000);

  afterAll(async () => {
    await stack?.stop();
    printSummary();
  }, 120_000);

  it('answers 3,200 x 202 and 2,000 x 409 and shows four exact minutes of 16,000, the hour and the day', async () => {
    const scenario = scenario001({ customerSuffix: stack.customerSuffix });
    const outcome = await runScenario(stack, scenario);

    const customer = scenario.customers[0];
    const minutes = windowsOf(outcome.expected.minute, customer);
    expect(Object.keys(minutes)).toEqual(['2025-12-28T18:03Z', '2025-12-28T18:04Z', '2025-12-28T18:05Z', '2025-12-28T18:06Z']);
    expect(Object.values(minutes).map((w) => w.total)).toEqual([16000, 16000, 16000, 16000]);
    expect(expectedStatuses(scenario.sends)).toMatchObject({ accepted: 3200, duplicates: 2000 });

    const answers = outcome.report.records.reduce<Record<string, number>>((acc, r) => ({ ...acc, [String(r.status)]: (acc[String(r.status)] ?? 0) + 1 }), {});
    expect({ answers, answerProblems: outcome.answerProblems, counts: outcome.countProblem }).toEqual({
      answers: { 202: 3200, 409: 2000 },
      answerProblems: [],
      counts: null,
    });
  }, 600_000);
});
