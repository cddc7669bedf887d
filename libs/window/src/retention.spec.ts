import { DAY_MS } from './minute';
import { closingHorizonMs, endOfMonthPartition, expiredPartitions, isExpiredWindow, monthPartition, partitionTtlDays, retentionHorizonMs } from './retention';

const at = (iso: string) => Date.parse(iso);

describe('window retention', () => {
  const now = at('2026-03-15T12:00:00Z');

  it('is off at 0 days: nothing expires, however old', () => {
    expect(retentionHorizonMs(now, 0)).toBeUndefined();
    expect(isExpiredWindow(0, now, 0)).toBe(false);
    expect(expiredPartitions([197001, 202501], now, 0)).toEqual([]);
  });

  it('refuses at the door what is older than the retention, and closes windows a delivery day later', () => {
    expect(retentionHorizonMs(now, 30)).toBe(now - 30 * DAY_MS);
    expect(closingHorizonMs(now, 30)).toBe(now - 31 * DAY_MS);
    // Accepted at the door a moment before its horizon, a window is still open a day later.
    expect(isExpiredWindow(at('2026-02-13T12:00:00Z'), now + DAY_MS - 1, 30)).toBe(false);
    expect(isExpiredWindow(at('2026-02-12T11:59:00Z'), now, 30)).toBe(true);
    expect(isExpiredWindow(at('2026-02-12T12:00:00Z'), now, 30)).toBe(false);
    expect(isExpiredWindow(at('2026-03-15T11:00:00Z'), now, 30)).toBe(false);
  });

  it('names windows by their UTC month', () => {
    expect(monthPartition(at('2025-12-31T23:59:00Z'))).toBe(202512);
    expect(monthPartition(at('2026-01-01T00:00:00Z'))).toBe(202601);
    expect(monthPartition(0)).toBe(197001);
    expect(endOfMonthPartition(202512)).toBe(at('2026-01-01T00:00:00Z'));
    expect(endOfMonthPartition(202602)).toBe(at('2026-03-01T00:00:00Z'));
    expect(() => endOfMonthPartition(202513)).toThrow(/YYYYMM/);
  });

  it('drops a month only once its last window has been closed for the grace day', () => {
    // 30 days: the closing horizon is 2026-02-12T12:00; January ends 2026-02-01, closed for 11 days.
    expect(expiredPartitions([202603, 202512, 202601, 202602], now, 30)).toEqual([202512, 202601]);
    // 41 days: the closing horizon is 2026-02-01T12:00, January's last window closed only 12 hours ago.
    expect(expiredPartitions([202601], now, 41)).toEqual([]);
    expect(expiredPartitions([202601], now, 40)).toEqual([202601]);
  });

  it('never drops a month holding a window that is still open', () => {
    for (const days of [1, 7, 30, 90, 365]) {
      for (const p of expiredPartitions([202401, 202506, 202512, 202601, 202602, 202603], now, days)) {
        const lastWindow = endOfMonthPartition(p) - 60_000;
        expect([days, p, isExpiredWindow(lastWindow, now, days)]).toEqual([days, p, true]);
      }
    }
  });

  it('gives a TTL the same rule: retention plus the delivery day and the grace day after the month ends', () => {
    expect(partitionTtlDays(30)).toBe(32);
  });
});
