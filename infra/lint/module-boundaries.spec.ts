import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '../..');

// ESLint runs as its own process: its flat config is an ES module, which jest's VM cannot load.
async function problems(filePath: string, code: string): Promise<string[]> {
  const out = spawnSync(process.execPath, [join(root, 'node_modules/eslint/bin/eslint.js'), '--stdin', '--stdin-filename', join(root, filePath), '--format', 'json'], {
    cwd: root,
    input: code,
    encoding: 'utf8',
    env: { ...process.env, NX_DAEMON: 'false' },
  });
  const [result] = JSON.parse(out.stdout) as { messages: { ruleId: string; message: string }[] }[];
  return result.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

// The layering (apps -> libs, adapters -> domain, domain -> nothing) is enforced by lint;
// these cases prove the rule is active and not silently skipped for lack of a project graph.
describe('module boundaries', () => {
  beforeAll(() => {
    execFileSync(process.execPath, [join(root, 'node_modules/nx/dist/bin/nx.js'), 'show', 'projects'], { cwd: root, env: { ...process.env, NX_DAEMON: 'false' } });
  }, 60_000);
  jest.setTimeout(60_000);

  it('rejects a domain lib importing an adapter', async () => {
    const found = await problems('libs/entry/src/boundary-probe.ts', "import { sqlString } from '@pipeline/clickhouse';\nexport const x = sqlString('a');\n");
    expect(found.join('\n')).toMatch(/@nx\/enforce-module-boundaries/);
  });

  it('rejects a domain lib doing IO', async () => {
    const found = await problems('libs/window/src/boundary-probe.ts', "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n");
    expect(found.join('\n')).toMatch(/no-restricted-imports/);
  });

  it('rejects an adapter importing an app', async () => {
    const found = await problems('libs/adapters/s3/src/boundary-probe.ts', "import * as app from '../../../../apps/batch-ingestion/src/main';\nexport const x = app;\n");
    expect(found.join('\n')).toMatch(/@nx\/enforce-module-boundaries/);
  });

  it('accepts an app importing domain and adapter libs', async () => {
    const found = await problems('apps/batch-ingestion/src/boundary-probe.ts', "import { rawBatchKey } from '@pipeline/batch';\nimport { sqlString } from '@pipeline/clickhouse';\nexport const x = [rawBatchKey, sqlString];\n");
    expect(found.filter((p) => p.startsWith('@nx/'))).toEqual([]);
  });
});
