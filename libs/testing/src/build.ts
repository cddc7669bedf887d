import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './paths';

const run = promisify(execFile);
const built = new Map<string, Promise<void>>();

/**
 * Bundles an app or a tool from the current sources with its script of infra/build, once per
 * test process: every test that needs it waits for the same build.
 */
export function buildOnce(script: 'build-app.js' | 'build-tool.js', name: string): Promise<void> {
  const key = `${script} ${name}`;
  let pending = built.get(key);
  if (!pending) {
    pending = run(process.execPath, [join(REPO_ROOT, 'infra/build', script), name], { cwd: REPO_ROOT }).then(() => undefined);
    built.set(key, pending);
  }
  return pending;
}

/** Bundles one entry file to `outfile` with the workspace's esbuild setup (infra/build/bundle.js). */
export async function bundleEntry(entry: string, outfile: string): Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { bundle } = require(join(REPO_ROOT, 'infra/build/bundle.js')) as { bundle: (entry: string, outfile: string) => Promise<unknown> };
  await bundle(entry, outfile);
}
