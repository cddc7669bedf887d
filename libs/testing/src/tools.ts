import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { buildOnce } from './build';
import { REPO_ROOT } from './paths';

export type ToolName = 'send' | 'dead-letters';

/** Bundles the tool once per test process, as `npm run <tool>` does. */
export const buildTool = (tool: ToolName): Promise<void> => buildOnce('build-tool.js', tool);

export interface ToolRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs an operator tool as a process to its end, with `input` on its standard input. */
export async function runTool(tool: ToolName, args: string[], options: { env?: Record<string, string>; input?: string | Buffer; timeoutMs?: number } = {}): Promise<ToolRun> {
  await buildTool(tool);
  const child = spawn(process.execPath, [join(REPO_ROOT, 'dist/tools', tool, 'main.js'), ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  child.stdin.on('error', () => undefined); // a tool may exit before reading all its input
  child.stdin.end(options.input ?? '');
  const timeoutMs = options.timeoutMs ?? 120_000;
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}
