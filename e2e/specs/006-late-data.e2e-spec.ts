import { expectedResults, LATE_MINUTE, scenarioLateData, windowsOf } from '../scenarios';
import { LATE_EVENTS, scrapeMetrics, sumMetric } from '../support/metrics';
import { runScenario } from '../support/run';
import { Stack } from '../support/stack';
import { startStack } from '../support/start-stack';
import { printSummary } from '../support/summary';
import { EXACT, SCENARIO_TIMEOUT_MS, STACK_TIMEOUT_MS, verdict } from './scenario-spec';

describe('scenario 006: late data', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ name: 's006' });
  }, STACK_TIMEOUT_MS);
  afterAll(async () => {
    await stack?.stop();
    printSummary();
  }, 120_000);

  // Summed over the instances of a cluster: any of them may own the late minute's partition.
  const lateEvents = async () => {
    const urls = stack.opsUrls?.('window-aggregator') ?? [stack.opsUrl('window-aggregator')];
    return (await Promise.all(urls.map(async (url) => sumMetric(await scrapeMetrics(url), LATE_EVENTS)))).reduce((a, b) => a + b, 0);
  };

  it('grows a minute that is already visible to its exact new counts and counts the late events', async () => {
    const { initial, late, all } = scenarioLateData({ customerSuffix: stack.customerSuffix });
    const customer = initial.customers[0];

    const first = await runScenario(stack, initial, { label: '006_late_data (initial)' });
    expect(verdict(first)).toEqual(EXACT);
    const visible = windowsOf(first.expected.minute, customer)[LATE_MINUTE];
    const before = await lateEvents();

    const expected = expectedResults(all);
    const second = await runScenario(stack, late, { label: '006_late_data (late)', expected });
    expect(verdict(second)).toEqual(EXACT);
    expect(windowsOf(expected.minute, customer)[LATE_MINUTE].total).toBeGreaterThan(visible.total);

    // The counter moves when the late partials are merged, before their revision is visible.
    const deadline = Date.now() + 10_000;
    let after = await lateEvents();
    while (after <= before && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      after = await lateEvents();
    }
    expect({ before, increased: after > before }).toEqual({ before, increased: true });
  }, SCENARIO_TIMEOUT_MS);
});
