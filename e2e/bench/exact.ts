import type { Aggregates, Granularity } from '../scenarios';
import { AggregateReader, diffAggregates } from '../support/aggregates';
import { sleep } from './context';

export interface ExactOutcome {
  /** Epoch ms of the answer that showed every view exact; null when not within the bound. */
  at: number | null;
  problem?: string;
}

/**
 * Polls until the customers' windows are exactly as expected: the minute view every `pollMs`
 * (one cheap query: the polling is ClickHouse work on the same cores), and once it is exact the
 * hour and day views, which are computed from it. Starts only after the sending, so it weighs on
 * none of the sending time.
 */
export async function pollUntilExact(
  reader: AggregateReader,
  expected: Partial<Record<Granularity, Aggregates>> & { minute: Aggregates },
  customers: readonly string[],
  timeoutMs: number,
  pollMs = 100,
): Promise<ExactOutcome> {
  const deadline = Date.now() + timeoutMs;
  let problem = 'no answer from ClickHouse yet';
  for (;;) {
    try {
      const diff = diffAggregates(expected.minute, await reader.read('minute', customers), 3);
      if (diff.length === 0) {
        const rest: string[] = [];
        for (const g of ['hour', 'day'] as const) {
          const want = expected[g];
          if (want) rest.push(...diffAggregates(want, await reader.read(g, customers), 2, g).map((d) => `${g}: ${d}`));
        }
        if (rest.length === 0) return { at: Date.now() };
        problem = rest.join('; ');
      } else problem = diff.join('; ');
    } catch (err) {
      problem = (err as Error).message.split('\n')[0];
    }
    if (Date.now() > deadline) return { at: null, problem };
    await sleep(pollMs);
  }
}

/** Reads the views once more: nothing may change once exact (counted twice late). */
export async function stillExact(reader: AggregateReader, expected: Partial<Record<Granularity, Aggregates>>, customers: readonly string[]): Promise<boolean> {
  try {
    for (const g of ['minute', 'hour', 'day'] as const) {
      const want = expected[g];
      if (want && diffAggregates(want, await reader.read(g, customers), 1, g).length > 0) return false;
    }
    return true;
  } catch {
    return false;
  }
}
