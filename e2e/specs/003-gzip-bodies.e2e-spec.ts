import { scenarioGzip } from '../scenarios';
import { runScenario } from '../support/run';
import { Stack } from '../support/stack';
import { startStack } from '../support/start-stack';
import { printSummary } from '../support/summary';
import { EXACT, finalAnswers, SCENARIO_TIMEOUT_MS, STACK_TIMEOUT_MS, verdict } from './scenario-spec';

describe('scenario 003: gzip bodies', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ name: 's003' });
  }, STACK_TIMEOUT_MS);
  afterAll(async () => {
    await stack?.stop();
    printSummary();
  }, 120_000);

  it('counts gzip batches in the UTC minute of their offsets, normalized, and refuses a body that inflates past 2 MiB', async () => {
    const scenario = scenarioGzip({ customerSuffix: stack.customerSuffix });
    const outcome = await runScenario(stack, scenario);
    expect(finalAnswers(outcome)).toEqual({ 202: 301, 409: 1, 413: 1 });
    expect(verdict(outcome)).toEqual(EXACT);
  }, SCENARIO_TIMEOUT_MS);
});
