import { MAX_BODY_BYTES, scenarioLargeBatches } from '../scenarios';
import { runScenario } from '../support/run';
import { Stack } from '../support/stack';
import { startStack } from '../support/start-stack';
import { printSummary } from '../support/summary';
import { EXACT, finalAnswers, SCENARIO_TIMEOUT_MS, STACK_TIMEOUT_MS, verdict } from './scenario-spec';

describe('scenario 002: batches close to 2 MiB', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ name: 's002' });
  }, STACK_TIMEOUT_MS);
  afterAll(async () => {
    await stack?.stop();
    printSummary();
  }, 120_000);

  it('accepts bodies of up to exactly 2 MiB and counts every one of their entries', async () => {
    const scenario = scenarioLargeBatches({ customerSuffix: stack.customerSuffix });
    expect(scenario.sends.filter((s) => s.body.length === MAX_BODY_BYTES)).toHaveLength(5);
    const outcome = await runScenario(stack, scenario);
    expect(finalAnswers(outcome)).toEqual({ 202: scenario.sends.length });
    expect(verdict(outcome)).toEqual(EXACT);
  }, SCENARIO_TIMEOUT_MS);
});
