import { sqlDateTimeText, sqlIdentifier, sqlString, sqlValue } from './sql';

describe('sql escaping', () => {
  it.each([
    ['plain', "'plain'"],
    ["it's", "'it\\'s'"],
    ['a\\b', "'a\\\\b'"],
    ['line\nbreak', "'line\\nbreak'"],
    ['tab\tcr\r', "'tab\\tcr\\r'"],
    ['nul\0', "'nul\\0'"],
  ])('quotes %j as %s', (input, expected) => {
    expect(sqlString(input)).toBe(expected);
  });

  it('never leaves an unescaped quote that could end the literal', () => {
    const hostile = "x' OR 1=1 --\\'";
    const inner = sqlString(hostile).slice(1, -1);
    expect(inner.replace(/\\./g, '')).not.toContain("'");
  });

  it('accepts plain identifiers only', () => {
    expect(sqlIdentifier('log_analytics')).toBe('log_analytics');
    expect(() => sqlIdentifier('x; DROP')).toThrow();
    expect(() => sqlIdentifier('1abc')).toThrow();
  });

  it('renders values of every supported type', () => {
    expect(sqlValue(['a', 'b'])).toBe("['a', 'b']");
    expect(sqlValue(42)).toBe('42');
    expect(sqlValue(10n)).toBe('10');
    expect(sqlValue(null)).toBe('NULL');
    expect(sqlValue(new Date('2025-12-28T18:03:00Z'))).toBe("toDateTime('2025-12-28 18:03:00', 'UTC')");
    expect(() => sqlValue(Number.NaN)).toThrow();
    expect(sqlDateTimeText(new Date('2025-01-02T03:04:05.678Z'))).toBe('2025-01-02 03:04:05');
  });
});
