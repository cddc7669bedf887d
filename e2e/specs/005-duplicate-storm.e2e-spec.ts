import { scenarioDuplicateStorm } from '../scenarios';
import { runScenario } from '../support/run';
import { Stack } from '../support/stack';
import { startStack } from '../support/start-stack';
import { printSummary } from '../support/summary';
import { EXACT, finalAnswers, SCENARIO_TIMEOUT_MS, STACK_TIMEOUT_MS, verdict } from './scenario-spec';

describe('scenario 005: duplicate storm', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ name: 's005' });
  }, STACK_TIMEOUT_MS);
  afterAll(async () => {
    await stack?.stop();
    printSummary();
  }, 120_000);

  it('answers one 202 and two 409 per batch sent three times at 16 in flight, and counts each batch once', async () => {
    const scenario = scenarioDuplicateStorm({ customerSuffix: stack.customerSuffix });
    const outcome = await runScenario(stack, scenario);
    expect(finalAnswers(outcome)).toEqual({ 202: 600, 409: 1200 });
    expect(verdict(outcome)).toEqual(EXACT);
  }, SCENARIO_TIMEOUT_MS);
});
