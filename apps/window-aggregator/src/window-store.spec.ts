import { AnalyticsStore } from '@pipeline/clickhouse';
import { ClickHouseWindowStore } from './window-store';

/** Records statements. */
class ScriptedStore implements AnalyticsStore {
  readonly database = 'db';
  statements: string[] = [];
  async query<T>(): Promise<T[]> {
    return [];
  }
  async command(sql: string): Promise<void> {
    this.statements.push(sql);
  }
  async insert(): Promise<void> {}
  async ping(): Promise<void> {}
}

const w = (customerId: string, windowStart: string) => ({ customerId, windowStart });
const target = (sql: string) => /^INSERT INTO db\.(\w+)/.exec(sql)![1];

describe('ClickHouseWindowStore.refreshRollups', () => {
  it('sends one statement for the hours, then one for the days, for every window given', async () => {
    const ch = new ScriptedStore();
    await new ClickHouseWindowStore(ch).refreshRollups([w('a', '2025-11-01T10:03Z'), w('b', '2025-11-01T11:03Z'), w('c', '2025-11-02T00:00Z')]);
    expect(ch.statements.map(target)).toEqual(['hourly_rollup', 'daily_rollup']);
    expect(ch.statements[0]).toContain("customer_id IN ('a', 'b', 'c')");
  });

  it('refuses a window that is not a minute, and sends nothing for no windows', async () => {
    const ch = new ScriptedStore();
    const store = new ClickHouseWindowStore(ch);
    await expect(store.refreshRollups([w('a', 'yesterday')])).rejects.toThrow(/not a minute window/);
    await store.refreshRollups([]);
    expect(ch.statements).toEqual([]);
  });
});
