import { ClickHouseError } from '@pipeline/clickhouse';
import pino from 'pino';
import { Registry } from 'prom-client';
import { AggregatorMetrics } from './metrics';
import { RollupRefresher } from './rollup-refresher';
import { WindowRef } from './window-store';

const w = (customerId: string, windowStart: string): WindowRef => ({ customerId, windowStart });
const tick = () => new Promise((r) => setTimeout(r, 0));

/** A refresh that waits until released; records the customers of each call. */
class ScriptedRefresh {
  calls: string[][] = [];
  /** When each call started and ended (Date.now()). */
  startedAt: number[] = [];
  endedAt: number[] = [];
  failures: Array<() => Error> = [];
  private releases: Array<() => void> = [];
  readonly fn = async (windows: WindowRef[]) => {
    this.calls.push([...new Set(windows.map((x) => x.customerId))].sort());
    this.startedAt.push(Date.now());
    await new Promise<void>((resolve) => this.releases.push(resolve));
    this.endedAt.push(Date.now());
    const failure = this.failures.shift();
    if (failure) throw failure();
  };
  async release(): Promise<void> {
    this.releases.splice(0).forEach((r) => r());
    await tick();
    await tick();
  }
}

function setup(minIntervalMs = 0) {
  const registry = new Registry();
  const metrics = new AggregatorMetrics(registry, () => ({ windows: 0, bytes: 0 }));
  const refresh = new ScriptedRefresh();
  const refresher = new RollupRefresher(refresh.fn, { minIntervalMs, retry: { baseMs: 1, maxMs: 2 } }, metrics, pino({ level: 'silent' }));
  const failures = async () => (await registry.getSingleMetric('aggregator_rollup_refresh_failures_total')!.get()).values.reduce((a, v) => a + v.value, 0);
  return { refresh, refresher, failures };
}

describe('RollupRefresher', () => {
  it('runs one refresh at a time: calls made meanwhile wait and go together in the next, each answered after a refresh that started after it', async () => {
    const { refresh, refresher } = setup();
    const settled: string[] = [];
    const first = refresher.schedule([w('a', '2025-11-01T10:03Z')]).then(() => settled.push('first'));
    await tick();
    const second = refresher.schedule([w('b', '2025-11-01T11:03Z')]).then(() => settled.push('second'));
    const third = refresher.schedule([w('c', '2025-11-02T00:00Z')]).then(() => settled.push('third'));
    expect(refresh.calls).toEqual([['a']]);
    expect(refresher.delayMs()).toBeGreaterThanOrEqual(0);
    await refresh.release();
    expect(settled).toEqual(['first']);
    while (refresh.calls.length < 2) await new Promise((r) => setTimeout(r, 2));
    expect(refresh.calls).toEqual([['a'], ['b', 'c']]);
    await refresh.release();
    await Promise.all([first, second, third]);
    expect(settled).toEqual(['first', 'second', 'third']);
    expect(refresher.delayMs()).toBe(0);
  });

  it('counts the callers of the refresh in progress in its delay, until that refresh ends', async () => {
    const { refresh, refresher } = setup();
    const first = refresher.schedule([w('a', '2025-11-01T10:03Z')]);
    await tick();
    expect(refresh.calls).toEqual([['a']]);
    await new Promise((r) => setTimeout(r, 60));
    // Nobody waits any more: the only caller is in the refresh running now.
    expect(refresher.delayMs()).toBeGreaterThanOrEqual(55);
    await refresh.release();
    await first;
    expect(refresher.delayMs()).toBe(0);
  });

  it('starts refreshes at least minIntervalMs apart', async () => {
    const { refresh, refresher } = setup(300);
    const first = refresher.schedule([w('a', '2025-11-01T10:03Z')]);
    await tick();
    await refresh.release();
    await first;
    const second = refresher.schedule([w('b', '2025-11-01T10:03Z')]);
    while (refresh.calls.length < 2) await new Promise((r) => setTimeout(r, 5));
    // Timers may fire a millisecond early.
    expect(refresh.startedAt[1] - refresh.startedAt[0]).toBeGreaterThanOrEqual(298);
    await refresh.release();
    await second;
  });

  it('waits after a refresh at least as long as it took before starting the next', async () => {
    const { refresh, refresher } = setup();
    const first = refresher.schedule([w('a', '2025-11-01T10:03Z')]);
    await tick();
    await new Promise((r) => setTimeout(r, 200));
    await refresh.release();
    await first;
    const second = refresher.schedule([w('b', '2025-11-01T10:03Z')]);
    while (refresh.calls.length < 2) await new Promise((r) => setTimeout(r, 5));
    expect(refresh.endedAt[0] - refresh.startedAt[0]).toBeGreaterThanOrEqual(198);
    expect(refresh.startedAt[1] - refresh.endedAt[0]).toBeGreaterThanOrEqual(refresh.endedAt[0] - refresh.startedAt[0] - 5);
    await refresh.release();
    await second;
  });

  it('retries a failing refresh with everyone who asked, says why meanwhile as a failure of the store, and never rejects', async () => {
    const { refresh, refresher, failures } = setup();
    refresh.failures.push(() => new ClickHouseError('refusing', 'readonly', 'Code: 164. readonly'), () => new Error('Code: 999. nobody knows'));
    const first = refresher.schedule([w('a', '2025-11-01T10:03Z')]);
    await tick();
    const second = refresher.schedule([w('b', '2025-11-01T10:03Z')]);
    await refresh.release();
    expect(refresher.failing()).toMatchObject({ kind: 'refusing', code: 'readonly' });
    while (refresh.calls.length < 2) await tick();
    expect(refresh.calls[1]).toEqual(['a', 'b']);
    await refresh.release();
    // Unclassified, yet it holds: the refresh reads accepted rows, so no message is to blame.
    expect(refresher.failing()).toMatchObject({ dependency: 'clickhouse', kind: 'refusing' });
    while (refresh.calls.length < 3) await tick();
    await refresh.release();
    await Promise.all([first, second]);
    expect(refresher.failing()).toBeUndefined();
    expect(await failures()).toBe(2);
  });

  it('refuses a window that is not a minute for its caller alone, and answers no windows at once', async () => {
    const { refresh, refresher } = setup();
    expect(() => refresher.schedule([w('a', 'yesterday')])).toThrow(/not a minute window/);
    await refresher.schedule([]);
    expect(refresh.calls).toEqual([]);
  });

  it('starts nothing once closed: calls waiting stay unanswered, so their offsets are never committed', async () => {
    const { refresh, refresher } = setup();
    const first = refresher.schedule([w('a', '2025-11-01T10:03Z')]);
    await tick();
    let answered = false;
    void refresher.schedule([w('b', '2025-11-01T10:03Z')]).then(() => (answered = true));
    refresher.close();
    await refresh.release();
    await first;
    await new Promise((r) => setTimeout(r, 20));
    expect(refresh.calls).toEqual([['a']]);
    expect(answered).toBe(false);
  });
});
