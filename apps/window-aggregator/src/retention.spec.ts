import { supportsTableTtl, ttlDaysOf, ttlExpression } from './retention';

describe('ClickHouse retention', () => {
  it('knows which servers have table TTL (19.6 and later)', () => {
    expect(supportsTableTtl('18.16.1')).toBe(false);
    expect(supportsTableTtl('19.5.4.22')).toBe(false);
    expect(supportsTableTtl('19.6.2.11')).toBe(true);
    expect(supportsTableTtl('26.3.9.1')).toBe(true);
  });

  it('expires a month of windows retention plus the delivery and grace days after the month ends', () => {
    expect(ttlExpression(30)).toBe("toDateTime(addMonths(toStartOfMonth(window_start), 1), 'UTC') + toIntervalDay(32)");
    expect(() => ttlExpression(Number.NaN)).toThrow();
  });

  it('reads the day count of a TTL back from SHOW CREATE TABLE, in the forms servers print it', () => {
    expect(ttlDaysOf('CREATE TABLE db.t (`a` UInt8) ENGINE = MergeTree ORDER BY a SETTINGS index_granularity = 8192')).toBeNull();
    expect(ttlDaysOf("CREATE TABLE db.t (`a` UInt8) ENGINE = MergeTree ORDER BY a TTL toDateTime(addMonths(toStartOfMonth(window_start), 1), 'UTC') + toIntervalDay(31) SETTINGS index_granularity = 8192")).toBe(31);
    expect(ttlDaysOf('CREATE TABLE db.t (`a` UInt8) ENGINE = MergeTree ORDER BY a\nTTL w + INTERVAL 7 DAY')).toBe(7);
    expect(ttlDaysOf('CREATE TABLE db.t (`a` UInt8) ENGINE = MergeTree ORDER BY a TTL w + toIntervalMonth(1)')).toBeNaN();
  });
});
