import { scenarioCustomerIsolation } from '../scenarios';
import { runScenario } from '../support/run';
import { Stack } from '../support/stack';
import { startStack } from '../support/start-stack';
import { printSummary } from '../support/summary';
import { EXACT, finalAnswers, SCENARIO_TIMEOUT_MS, STACK_TIMEOUT_MS, verdict } from './scenario-spec';

describe('scenario 004: many customers with the same idempotency keys', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ name: 's004' });
  }, STACK_TIMEOUT_MS);
  afterAll(async () => {
    await stack?.stop();
    printSummary();
  }, 120_000);

  it('accepts every customer its own batch-000001..., keeps their windows apart, and refuses a reused key with other content', async () => {
    const scenario = scenarioCustomerIsolation({ customerSuffix: stack.customerSuffix });
    const outcome = await runScenario(stack, scenario);
    expect(finalAnswers(outcome)).toEqual({ 202: 900, 422: 1 });
    expect(verdict(outcome)).toEqual(EXACT);
  }, SCENARIO_TIMEOUT_MS);
});
