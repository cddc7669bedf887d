import { ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { REPO_ROOT } from './paths';

/** A free loopback TCP port, chosen by the kernel. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Thrown by a waitFor check to stop waiting at once (the thing waited for can no longer happen). */
export class GiveUp extends Error {}

/** Polls `check` until it resolves truthy; throws with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 60_000, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      if (err instanceof GiveUp) throw new Error(`gave up waiting for ${what}: ${err.message}`);
      lastError = err;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
}

export const TEST_LOG_DIR = join(REPO_ROOT, '.stack', 'test-logs');

/**
 * The processes a 202 never waits for: on one host they run at a lower CPU priority. The native
 * stack (infra/local/lib.sh, `is_background`) and the compose files (`cpu_shares`) name the same
 * ones; a test holds the three to this list.
 */
export const BACKGROUND_STAGES = ['clickhouse', 'batch-summarizer', 'window-aggregator'] as const;

export const isBackgroundStage = (name: string): boolean => (BACKGROUND_STAGES as readonly string[]).includes(name);

/**
 * The niceness of the back stages (ClickHouse, the summarizer, the aggregator), as the native stack
 * starts them (infra/local/lib.sh, BACKGROUND_NICE): on one host they yield the CPU to the front door.
 */
export function backgroundNice(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.BACKGROUND_NICE ?? 10);
  if (!Number.isInteger(n) || n < 0 || n > 19) throw new Error(`BACKGROUND_NICE must be an integer from 0 to 19, not ${env.BACKGROUND_NICE}`);
  return n;
}

/** A child process in its own process group whose output goes to a log file under .stack/. */
export class ManagedProcess {
  private child?: ChildProcess;
  private exited?: Promise<void>;

  constructor(
    readonly name: string,
    private readonly command: string,
    private readonly args: string[],
    private readonly options: { env?: NodeJS.ProcessEnv; cwd?: string; nice?: number } = {},
  ) {}

  get logFile(): string {
    return join(TEST_LOG_DIR, `${this.name}.log`);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): void {
    if (this.running) return;
    mkdirSync(TEST_LOG_DIR, { recursive: true });
    const log = createWriteStream(this.logFile, { flags: 'a' });
    const nice = this.options.nice ?? 0;
    // `nice` execs the command in place, so the pid and the process group stay the command's.
    const [command, args] = nice ? ['nice', ['-n', String(nice), this.command, ...this.args]] : [this.command, this.args];
    const child = spawn(command, args, {
      cwd: this.options.cwd ?? REPO_ROOT,
      env: { ...process.env, ...this.options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    // Its own session is a scheduling group of its own where the kernel has autogroups, weighed by
    // the group's niceness (the session exists once spawn returns: the child has called exec).
    if (nice && child.pid) {
      try {
        writeFileSync(`/proc/${child.pid}/autogroup`, String(nice));
      } catch {
        /* a kernel without autogroups: the threads' niceness is what counts */
      }
    }
    // Both streams write into one file, which is closed once both are: a pipe that ended it on its
    // own end would make the other's last chunk a write after end (a SIGKILL closes them in any order).
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    child.once('close', () => log.end());
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    this.child = child;
  }

  /** Sends `signal` to the whole process group and waits for the exit (SIGKILL after `graceMs`). */
  async signal(signal: NodeJS.Signals, graceMs = 20_000): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    this.notify(signal);
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** SIGSTOP / SIGCONT to the whole group: a process that hangs (a long GC pause, a frozen VM) and later goes on. */
  suspend(): void {
    this.notify('SIGSTOP');
  }

  resume(): void {
    this.notify('SIGCONT');
  }

  private notify(signal: NodeJS.Signals): void {
    const child = this.child;
    if (!child || !this.running) return;
    try {
      process.kill(-child.pid!, signal);
    } catch {
      child.kill(signal);
    }
  }

  stop(): Promise<void> {
    return this.signal('SIGTERM');
  }

  kill(): Promise<void> {
    return this.signal('SIGKILL');
  }
}
