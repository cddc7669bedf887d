import { ClickHouseClient, ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { classifyClickHouse, ClickHouseEnv, DependencyError, errorMessage, FailureKind } from '@pipeline/platform';
import { Migration, MigrationOptions, statementText } from './migrations';
import { sqlIdentifier, sqlString, sqlValue } from './sql';

export interface ClickHouseSettings {
  url: string;
  username: string;
  password: string;
  database: string;
  requestTimeoutMs: number;
}

/** The client settings the shared CLICKHOUSE_* variables describe. */
export function clickHouseSettingsFromEnv(env: ClickHouseEnv): ClickHouseSettings {
  return {
    url: env.CLICKHOUSE_URL,
    username: env.CLICKHOUSE_USER,
    password: env.CLICKHOUSE_PASSWORD,
    database: env.CLICKHOUSE_DATABASE,
    requestTimeoutMs: env.CLICKHOUSE_REQUEST_TIMEOUT_MS,
  };
}

/** A ClickHouse call failed; `kind` says where the fault lies (see FailureKind). */
export class ClickHouseError extends DependencyError {
  constructor(kind: FailureKind, code: string, message: string, cause?: unknown) {
    super('clickhouse', kind, code, message, cause);
    this.name = 'ClickHouseError';
  }
}

/**
 * The server's error code of a failed call: parsed by the client from current servers' answers,
 * read from the text of 2018 servers' (which lack the `(TYPE)` the client's parser needs).
 * Undefined when there was no answer (connection refused, a timeout).
 */
export function clickHouseCodeOf(err: unknown): number | undefined {
  const parsed = (err as { code?: unknown })?.code;
  const coded = typeof parsed === 'string' && /^\d+$/.test(parsed) ? parsed : /Code: (\d+)/.exec(errorMessage(err))?.[1];
  return coded !== undefined ? Number(coded) : undefined;
}

/** Types a ClickHouse failure by the server's code (classifyClickHouse). */
export function toClickHouseError(err: unknown, what: string): ClickHouseError {
  if (err instanceof ClickHouseError) return err;
  const { kind, name } = classifyClickHouse(clickHouseCodeOf(err));
  return new ClickHouseError(kind, name.toLowerCase(), `${what}: ${errorMessage(err)}`, err);
}

/** One month of a per-month migration statement done. */
export interface MigrationProgress {
  version: number;
  name: string;
  /** The table whose month partitions the statement steps through. */
  table: string;
  month: number;
  done: number;
  months: number;
  ms: number;
}

/** The statements the pipeline runs against ClickHouse; everything else stays inside. */
export interface AnalyticsStore {
  readonly database: string;
  query<T>(sql: string): Promise<T[]>;
  command(sql: string): Promise<void>;
  insert(table: string, rows: Record<string, unknown>[]): Promise<void>;
  ping(): Promise<void>;
}

export class ClickHouseGateway implements AnalyticsStore {
  readonly database: string;

  constructor(
    private readonly client: ClickHouseClient,
    database: string,
  ) {
    this.database = sqlIdentifier(database);
  }

  static fromSettings(s: ClickHouseSettings): ClickHouseGateway {
    // No default database on the connection: the database may not exist before migrations.
    const client = createClient({
      url: s.url,
      username: s.username,
      password: s.password,
      request_timeout: s.requestTimeoutMs,
      max_open_connections: 16,
      keep_alive: { enabled: true },
      // The client's own log lines are plain text with stack traces; every failure reaches the
      // caller as a ClickHouseError instead, which services log as JSON.
      log: { level: ClickHouseLogLevel.OFF },
    });
    return new ClickHouseGateway(client, s.database);
  }

  async query<T>(sql: string): Promise<T[]> {
    try {
      const rs = await this.client.query({ query: sql, format: 'JSONEachRow' });
      return await rs.json<T>();
    } catch (err) {
      throw toClickHouseError(err, 'ClickHouse query failed');
    }
  }

  async command(sql: string): Promise<void> {
    try {
      await this.client.command({ query: sql });
    } catch (err) {
      throw toClickHouseError(err, 'ClickHouse command failed');
    }
  }

  async insert(table: string, rows: Record<string, unknown>[]): Promise<void> {
    if (rows.length === 0) return;
    try {
      await this.client.insert({ table: `${this.database}.${sqlIdentifier(table)}`, values: rows, format: 'JSONEachRow' });
    } catch (err) {
      throw toClickHouseError(err, `ClickHouse insert into ${table} failed`);
    }
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1 AS ok');
  }

  /**
   * Applies migrations not yet recorded in `schema_migrations`, in version order. Statements
   * are written to be idempotent (IF NOT EXISTS; backfills whose rows may be written any number
   * of times), so two instances racing at start is harmless, and a migration interrupted half way
   * is applied whole again at the next start: it is recorded only once all its statements ran.
   * A per-month statement reports each month done to `progress`. Returns the versions applied.
   *
   * With `replicated` the tables are made replicated (MigrationOptions). `schema_migrations` stays a
   * table of this server alone: every replica gets the whole schema (its views included) from the
   * instance that migrates it, so each must record for itself what it has.
   */
  async migrate(migrations: Migration[], progress?: (step: MigrationProgress) => void, options: MigrationOptions = {}): Promise<number[]> {
    const db = this.database;
    await this.command(`CREATE DATABASE IF NOT EXISTS ${db}`);
    await this.command(
      `CREATE TABLE IF NOT EXISTS ${db}.schema_migrations (version UInt32, name String, checksum String, applied_at DateTime) ENGINE = MergeTree ORDER BY version`,
    );
    const rows = await this.query<{ version: number; checksum: string }>(`SELECT version, checksum FROM ${db}.schema_migrations`);
    const applied = new Map(rows.map((r) => [Number(r.version), r.checksum]));
    const done: number[] = [];
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      const previous = applied.get(m.version);
      if (previous !== undefined) {
        if (previous !== m.checksum) throw new Error(`migration ${m.version}_${m.name} changed after it was applied; add a new migration instead`);
        continue;
      }
      for (const statement of m.statements) {
        if (statement.eachMonthOf === undefined) {
          await this.command(statementText(statement, db, undefined, options));
          continue;
        }
        const table = sqlIdentifier(statement.eachMonthOf);
        const months = (
          await this.query<{ partition: string }>(
            `SELECT DISTINCT partition FROM system.parts WHERE database = ${sqlString(db)} AND table = ${sqlString(table)} AND active ORDER BY partition`,
          )
        ).map((r) => Number(r.partition));
        for (const [i, month] of months.entries()) {
          const started = Date.now();
          await this.command(statementText(statement, db, month, options));
          progress?.({ version: m.version, name: m.name, table, month, done: i + 1, months: months.length, ms: Date.now() - started });
        }
      }
      await this.command(
        `INSERT INTO ${db}.schema_migrations (version, name, checksum, applied_at) VALUES (${sqlValue(m.version)}, ${sqlString(m.name)}, ${sqlString(m.checksum)}, now())`,
      );
      done.push(m.version);
    }
    return done;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
