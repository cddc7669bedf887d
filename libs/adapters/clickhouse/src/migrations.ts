import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { monthRange } from '@pipeline/window';
import { sqlIdentifier, sqlValue } from './sql';

export interface MigrationStatement {
  /** The statement, with `{{database}}` standing for the target database. */
  sql: string;
  /**
   * Set for a statement run once per month partition of this table (in month order, the
   * partitions present when it starts), with `{{month_from}}` and `{{month_to}}` standing for
   * the first and the last second of the month: a backfill in steps, each one a statement.
   */
  eachMonthOf?: string;
}

export interface Migration {
  version: number;
  name: string;
  statements: MigrationStatement[];
  checksum: string;
}

const FILE = /^(\d{3,})_([a-z0-9_]+)\.sql$/;
/** A comment line just before a statement that makes it a per-month statement. */
const EACH_MONTH = /^\s*--\s*for each month of ([A-Za-z_][A-Za-z0-9_]*)\s*$/m;

/**
 * Reads `NNN_name.sql` files in version order; statements are separated by `;` at line end. A
 * statement preceded by the line `-- for each month of TABLE` runs once per month partition of
 * TABLE (see MigrationStatement).
 */
export function readMigrations(dir: string): Migration[] {
  const files = readdirSync(dir).filter((f) => FILE.test(f)).sort();
  const migrations = files.map((file) => {
    const [, version, name] = FILE.exec(file)!;
    const text = readFileSync(join(dir, file), 'utf8');
    const statements = text
      .split(/;\s*$/m)
      .map((s): MigrationStatement => {
        const eachMonthOf = EACH_MONTH.exec(s)?.[1];
        const sql = s.replace(/^\s*--.*$/gm, '').trim();
        return eachMonthOf ? { sql, eachMonthOf } : { sql };
      })
      .filter((s) => s.sql !== '');
    return { version: Number(version), name, statements, checksum: createHash('sha256').update(text).digest('hex') };
  });
  const seen = new Set<number>();
  for (const m of migrations) {
    if (seen.has(m.version)) throw new Error(`duplicate migration version ${m.version} in ${dir}`);
    seen.add(m.version);
  }
  return migrations;
}

/** A statement's text for one database and, for a per-month statement, one month partition (`YYYYMM`). */
export function statementText(statement: MigrationStatement, database: string, month?: number): string {
  const sql = statement.sql.replaceAll('{{database}}', sqlIdentifier(database));
  if (statement.eachMonthOf === undefined) return sql;
  if (month === undefined) throw new Error('a per-month statement needs its month');
  const { fromMs, toMs } = monthRange(month);
  return sql.replaceAll('{{month_from}}', sqlValue(new Date(fromMs))).replaceAll('{{month_to}}', sqlValue(new Date(toMs)));
}
