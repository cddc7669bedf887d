import { AnalyticsStore } from '@pipeline/clickhouse';
import { ClickHouseWindowStore } from './window-store';

/** Records statements; each command waits until released, so refreshes can overlap. */
class ScriptedStore implements AnalyticsStore {
  readonly database = 'db';
  statements: string[] = [];
  private releases: Array<() => void> = [];
  failNext = false;
  async query<T>(): Promise<T[]> {
    return [];
  }
  async command(sql: string): Promise<void> {
    this.statements.push(sql);
    await new Promise<void>((resolve) => this.releases.push(resolve));
    if (this.failNext) {
      this.failNext = false;
      throw new Error('ClickHouse went away');
    }
  }
  async insert(): Promise<void> {}
  async ping(): Promise<void> {}
  /** Lets every command waiting so far finish, then lets the promises settle. */
  async release(): Promise<void> {
    const now = this.releases.splice(0);
    now.forEach((r) => r());
    await new Promise((r) => setImmediate(r));
  }
}

const w = (customerId: string, windowStart: string) => ({ customerId, windowStart });
const target = (sql: string) => /^INSERT INTO db\.(\w+)/.exec(sql)![1];

describe('ClickHouseWindowStore.refreshRollups', () => {
  it('sends the hours, then the days; calls made meanwhile wait and go together in the next refresh', async () => {
    const ch = new ScriptedStore();
    const store = new ClickHouseWindowStore(ch);
    const settled: string[] = [];
    const first = store.refreshRollups([w('a', '2025-11-01T10:03Z')]).then(() => settled.push('first'));
    const second = store.refreshRollups([w('b', '2025-11-01T11:03Z')]).then(() => settled.push('second'));
    const third = store.refreshRollups([w('c', '2025-11-02T00:00Z')]).then(() => settled.push('third'));
    await ch.release();
    expect(ch.statements.map(target)).toEqual(['hourly_rollup', 'daily_rollup']);
    expect(settled).toEqual([]);
    await ch.release();
    expect(settled).toEqual(['first']);
    // The two that waited: one statement per level for both, started after the first finished.
    expect(ch.statements.map(target)).toEqual(['hourly_rollup', 'daily_rollup', 'hourly_rollup']);
    expect(ch.statements[2]).toContain("customer_id IN ('b', 'c')");
    await ch.release();
    await ch.release();
    await Promise.all([first, second, third]);
    expect(settled).toEqual(['first', 'second', 'third']);
    expect(ch.statements.map(target)).toEqual(['hourly_rollup', 'daily_rollup', 'hourly_rollup', 'daily_rollup']);
  });

  it('fails every caller of a refresh that fails, and the next call starts a new one', async () => {
    const ch = new ScriptedStore();
    const store = new ClickHouseWindowStore(ch);
    ch.failNext = true;
    const one = expect(store.refreshRollups([w('a', '2025-11-01T10:03Z')])).rejects.toThrow(/went away/);
    await ch.release();
    await one;
    const again = store.refreshRollups([w('a', '2025-11-01T10:03Z')]);
    await ch.release();
    await ch.release();
    await expect(again).resolves.toBeUndefined();
    expect(ch.statements.map(target)).toEqual(['hourly_rollup', 'hourly_rollup', 'daily_rollup']);
  });

  it('refuses a window that is not a minute for its caller alone, and sends nothing for no windows', async () => {
    const ch = new ScriptedStore();
    const store = new ClickHouseWindowStore(ch);
    expect(() => store.refreshRollups([w('a', 'yesterday')])).toThrow(/not a minute window/);
    await store.refreshRollups([]);
    expect(ch.statements).toEqual([]);
  });
});
