/**
 * The one place where values become SQL text. ClickHouse 18.16 has no server-side query
 * parameters, so every value that reaches a statement passes through these functions.
 *
 * Escaping keeps every string intact (tested on 18.16 and current ClickHouse), but ClickHouse
 * does not refuse every bad value: a DateTime outside 1970..2105 is silently wrapped (18.16) or
 * clamped (current releases), and a lone surrogate reaches the server as U+FFFD (the HTTP body is
 * UTF-8). Such values must be refused where they enter the pipeline (batch-ingestion's HTTP
 * contract), not here; see "Two ClickHouse versions" in docs/semantics.md.
 */

const ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  "'": "\\'",
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\0': '\\0',
  '\b': '\\b',
  '\f': '\\f',
};

export function sqlString(value: string): string {
  return `'${value.replace(/[\\'\n\r\t\0\b\f]/g, (c) => ESCAPES[c])}'`;
}

export function sqlIdentifier(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`not a safe SQL identifier: ${JSON.stringify(name)}`);
  return name;
}

/** `YYYY-MM-DD hh:mm:ss` in UTC, the text form of a ClickHouse DateTime. */
export function sqlDateTimeText(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new Error('invalid date');
  return date.toISOString().slice(0, 19).replace('T', ' ');
}

export type SqlValue = string | number | bigint | boolean | Date | null | SqlValue[];

export function sqlValue(value: SqlValue): string {
  if (value === null) return 'NULL';
  if (Array.isArray(value)) return `[${value.map(sqlValue).join(', ')}]`;
  if (value instanceof Date) return `toDateTime(${sqlString(sqlDateTimeText(value))}, 'UTC')`;
  switch (typeof value) {
    case 'string':
      return sqlString(value);
    case 'bigint':
      return value.toString();
    case 'boolean':
      return value ? '1' : '0';
    case 'number':
      if (!Number.isFinite(value)) throw new Error(`not a finite number: ${value}`);
      return String(value);
    default:
      throw new Error(`unsupported SQL value: ${typeof value}`);
  }
}
