import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Migration {
  version: number;
  name: string;
  /** Statements with `{{database}}` standing for the target database. */
  statements: string[];
  checksum: string;
}

const FILE = /^(\d{3,})_([a-z0-9_]+)\.sql$/;

/** Reads `NNN_name.sql` files in version order; statements are separated by `;` at line end. */
export function readMigrations(dir: string): Migration[] {
  const files = readdirSync(dir).filter((f) => FILE.test(f)).sort();
  const migrations = files.map((file) => {
    const [, version, name] = FILE.exec(file)!;
    const text = readFileSync(join(dir, file), 'utf8');
    const statements = text
      .split(/;\s*$/m)
      .map((s) => s.replace(/^\s*--.*$/gm, '').trim())
      .filter(Boolean);
    return { version: Number(version), name, statements, checksum: createHash('sha256').update(text).digest('hex') };
  });
  const seen = new Set<number>();
  for (const m of migrations) {
    if (seen.has(m.version)) throw new Error(`duplicate migration version ${m.version} in ${dir}`);
    seen.add(m.version);
  }
  return migrations;
}
