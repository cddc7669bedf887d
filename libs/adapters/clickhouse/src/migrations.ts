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

/** How the statements are made for a cluster. */
export interface MigrationOptions {
  /**
   * Tables are created replicated (CLICKHOUSE_REPLICATED): every `*MergeTree` engine of a
   * `CREATE TABLE` becomes its `Replicated*MergeTree`, on the path of that database and table under
   * the server's `{shard}` macro and as the replica its `{replica}` macro names. Views stay plain:
   * each replica has its own, made by the same migrations run against it.
   */
  replicated?: boolean;
}

const CREATE_TABLE = /^CREATE TABLE (?:IF NOT EXISTS )?([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)\b/;
const MERGE_TREE_ENGINE = /\bENGINE\s*=\s*([A-Za-z]*)MergeTree\b(?:\s*\(([^()]*)\))?/;

/**
 * A `CREATE TABLE` statement with a `*MergeTree` engine turned into its replicated form, e.g.
 * `ReplacingMergeTree(v)` into `ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db/t', '{replica}', v)`.
 * The path names the database and the table literally (18.16 expands no `{database}` macro there),
 * so two databases of one cluster never share a table's replication log. Any other statement is
 * returned as it is.
 */
export function replicatedStatement(sql: string): string {
  const table = CREATE_TABLE.exec(sql);
  if (!table) return sql;
  return sql.replace(MERGE_TREE_ENGINE, (whole, variant: string, args: string | undefined) => {
    if (variant.startsWith('Replicated')) return whole;
    const path = `'/clickhouse/tables/{shard}/${table[1]}/${table[2]}'`;
    const rest = args?.trim() ? `, ${args.trim()}` : '';
    return `ENGINE = Replicated${variant}MergeTree(${path}, '{replica}'${rest})`;
  });
}

/** A statement's text for one database and, for a per-month statement, one month partition (`YYYYMM`). */
export function statementText(statement: MigrationStatement, database: string, month?: number, options: MigrationOptions = {}): string {
  const substituted = statement.sql.replaceAll('{{database}}', sqlIdentifier(database));
  const sql = options.replicated ? replicatedStatement(substituted) : substituted;
  if (statement.eachMonthOf === undefined) return sql;
  if (month === undefined) throw new Error('a per-month statement needs its month');
  const { fromMs, toMs } = monthRange(month);
  return sql.replaceAll('{{month_from}}', sqlValue(new Date(fromMs))).replaceAll('{{month_to}}', sqlValue(new Date(toMs)));
}
