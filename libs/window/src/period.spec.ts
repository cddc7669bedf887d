import { coarserPeriods, monthRange, periodRanges, periodsOf } from './period';

const at = (iso: string) => Date.parse(iso);

describe('periodsOf', () => {
  it('gives each customer hour or day holding a window once, sorted by customer then start', () => {
    const windows = [
      { customerId: 'b', windowStart: '2025-11-01T10:59Z' },
      { customerId: 'a', windowStart: '2025-11-01T11:00Z' },
      { customerId: 'b', windowStart: '2025-11-01T10:00Z' },
      { customerId: 'a', windowStart: '2025-11-01T10:30Z' },
      { customerId: 'a', windowStart: '2025-11-02T00:00Z' },
    ];
    expect(periodsOf(windows, 'hour')).toEqual([
      { customerId: 'a', startMs: at('2025-11-01T10:00:00Z') },
      { customerId: 'a', startMs: at('2025-11-01T11:00:00Z') },
      { customerId: 'a', startMs: at('2025-11-02T00:00:00Z') },
      { customerId: 'b', startMs: at('2025-11-01T10:00:00Z') },
    ]);
    expect(periodsOf(windows, 'day')).toEqual([
      { customerId: 'a', startMs: at('2025-11-01T00:00:00Z') },
      { customerId: 'a', startMs: at('2025-11-02T00:00:00Z') },
      { customerId: 'b', startMs: at('2025-11-01T00:00:00Z') },
    ]);
  });

  it('refuses a window that is not a minute', () => {
    expect(() => periodsOf([{ customerId: 'a', windowStart: '2025-11-01T10:00:30Z' }], 'hour')).toThrow(/not a minute window/);
  });
});

describe('coarserPeriods', () => {
  it('gives the days of hours', () => {
    const hours = [
      { customerId: 'a', startMs: at('2025-11-01T23:00:00Z') },
      { customerId: 'a', startMs: at('2025-11-01T01:00:00Z') },
      { customerId: 'a', startMs: at('2025-11-02T00:00:00Z') },
    ];
    expect(coarserPeriods(hours, 'day')).toEqual([
      { customerId: 'a', startMs: at('2025-11-01T00:00:00Z') },
      { customerId: 'a', startMs: at('2025-11-02T00:00:00Z') },
    ]);
  });
});

describe('periodRanges', () => {
  it('joins adjacent periods and ends each span on its last second', () => {
    const starts = ['2025-11-01T10:00:00Z', '2025-11-01T12:00:00Z', '2025-11-01T11:00:00Z', '2025-11-01T15:00:00Z', '2025-11-01T10:00:00Z'].map(at);
    expect(periodRanges(starts, 'hour')).toEqual([
      { fromMs: at('2025-11-01T10:00:00Z'), toMs: at('2025-11-01T12:59:59Z') },
      { fromMs: at('2025-11-01T15:00:00Z'), toMs: at('2025-11-01T15:59:59Z') },
    ]);
  });

  it('never reaches past 2105 for the last day the pipeline stores', () => {
    expect(periodRanges([at('2105-12-31T00:00:00Z')], 'day')).toEqual([{ fromMs: at('2105-12-31T00:00:00Z'), toMs: at('2105-12-31T23:59:59Z') }]);
  });

  it('is empty for no periods', () => {
    expect(periodRanges([], 'day')).toEqual([]);
  });
});

describe('monthRange', () => {
  it('spans a month to its last second, December and February included', () => {
    expect(monthRange(202511)).toEqual({ fromMs: at('2025-11-01T00:00:00Z'), toMs: at('2025-11-30T23:59:59Z') });
    expect(monthRange(210512)).toEqual({ fromMs: at('2105-12-01T00:00:00Z'), toMs: at('2105-12-31T23:59:59Z') });
    expect(monthRange(202402)).toEqual({ fromMs: at('2024-02-01T00:00:00Z'), toMs: at('2024-02-29T23:59:59Z') });
  });

  it('refuses what is not a month', () => {
    expect(() => monthRange(202513)).toThrow(/not a month partition/);
    expect(() => monthRange(2025)).toThrow(/not a month partition/);
  });
});
