import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { GiveUp, ManagedProcess, backgroundNice, freePort, isBackgroundStage, waitFor } from './process';
import { buildOnce } from './build';
import { REPO_ROOT } from './paths';
import { provisionBucket } from './run-resources';

export type AppName = 'batch-ingestion' | 'batch-summarizer' | 'window-aggregator';

/** Bundles the app once per test process, so tests always run the current sources. */
export const buildApp = (app: AppName): Promise<void> => buildOnce('build-app.js', app);

/** One service running as a real process (its own process group), as in production. */
export interface AppProcess {
  readonly url: string;
  readonly port: number;
  /** Where `/metrics` and `/health/*` answer: the ingestion's operations port, the consumers' main port. */
  readonly opsUrl: string;
  readonly pid: number | undefined;
  readonly logFile: string;
  /** Sends the signal to the process and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again with the same port and environment and waits until it is ready. */
  restart(): Promise<void>;
  /** Freezes the process (SIGSTOP) without ending it; resume() lets it go on where it stopped. */
  suspend(): void;
  resume(): void;
  stop(): Promise<void>;
  waitReady(timeoutMs?: number): Promise<void>;
}

export interface StartAppOptions {
  /** Wait for /health/ready (default) or only /health/live (for tests that start with a dependency down). */
  waitFor?: 'ready' | 'live' | 'none';
  timeoutMs?: number;
}

/** Starts `app` from its bundle with `env` on a free port (or env.PORT) and waits until ready. */
export async function startApp(app: AppName, env: Record<string, string>, options: StartAppOptions = {}): Promise<AppProcess> {
  await buildApp(app);
  if (app !== 'window-aggregator') await provisionBucket({ ...process.env, ...env });
  const main = join(REPO_ROOT, 'dist/apps', app, 'main.js');
  if (!existsSync(main)) throw new Error(`${main} missing after build`);
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const url = `http://127.0.0.1:${port}`;
  // The ingestion's operations port has a fixed default, which two test instances cannot share.
  const opsPort = env.OPS_PORT ? Number(env.OPS_PORT) : app === 'batch-ingestion' ? await freePort() : port;
  const healthUrl = `http://127.0.0.1:${opsPort}`;
  const opsEnv: Record<string, string> = opsPort === port ? {} : { OPS_PORT: String(opsPort) };
  const proc = new ManagedProcess(`${app}-${port}`, process.execPath, ['--enable-source-maps', '--max-semi-space-size=16', main], {
    cwd: join(REPO_ROOT, 'dist/apps', app),
    env: { LOG_LEVEL: 'info', ...env, ...opsEnv, PORT: String(port), HOST: '127.0.0.1' },
    // The consumers are back stages: a 202 never waits for them.
    nice: isBackgroundStage(app) ? backgroundNice() : 0,
  });
  const waitReady = async (timeoutMs = options.timeoutMs ?? 60_000, path = '/health/ready') => {
    await waitFor(`${app} ${path} on ${healthUrl}`, async () => {
      if (!proc.running) throw new GiveUp(`${app} exited; see ${proc.logFile}`);
      const res = await fetch(`${healthUrl}${path}`, { signal: AbortSignal.timeout(3_000) });
      return res.ok;
    }, timeoutMs);
  };
  const mode = options.waitFor ?? 'ready';
  const started = async () => {
    proc.start();
    if (mode !== 'none') await waitReady(undefined, mode === 'live' ? '/health/live' : '/health/ready');
  };
  await started();
  return {
    url,
    port,
    opsUrl: healthUrl,
    get pid() {
      return proc.pid;
    },
    logFile: proc.logFile,
    kill: (signal: NodeJS.Signals = 'SIGKILL') => proc.signal(signal),
    restart: started,
    suspend: () => proc.suspend(),
    resume: () => proc.resume(),
    stop: () => proc.stop(),
    waitReady: (timeoutMs?: number) => waitReady(timeoutMs),
  };
}
