import { INestApplication, Module, Provider, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { z } from 'zod';
import { ConfigError, loadConfig, ServiceEnv, serviceEnv } from './config';
import { errorMessage, isDependencyError, retryUntilStopped } from './failure';
import { HealthModule, ReadinessCheck } from './health';
import { createLogger } from './logger';
import { createRegistry, MetricsModule } from './metrics';

/** What every part of a service shares: its logger, its metrics, and where it is in its life. */
export interface Runtime {
  readonly name: string;
  readonly logger: Logger;
  readonly registry: Registry;
  /** True once `provision` succeeded; work is taken only after that. */
  readonly provisioned: boolean;
  /** True once shutdown began: take no new work, finish what is in flight. */
  readonly draining: boolean;
}

/** Where a stage's work comes from: a consumer group, an HTTP route, a periodic scan. */
export interface Source {
  readonly name: string;
  /** Starts taking work; called once, after provisioning succeeded. Must return promptly. */
  start(): void | Promise<void>;
  /** Takes no new work and finishes (or leaves unacknowledged) what is in flight. */
  drain(): Promise<void>;
  readiness?: ReadinessCheck[];
}

/** A client of a dependency the stage writes to or reads from. */
export interface Sink {
  readonly name: string;
  /** Readiness probe: resolves when the dependency answers. */
  ping?(): Promise<unknown>;
  /** Releases connections; called after every source has drained. */
  close(): void | Promise<void>;
}

/** An HTTP entry point (the ingestion's `POST /logs`): Nest controllers and their providers. */
export interface HttpIntake {
  controllers: Type<unknown>[];
  providers?: Provider[];
  /** Largest request body Fastify buffers, in bytes. */
  bodyLimit?: number;
  /** false: no JSON/urlencoded body parsers, so `configure` can install its own. Default true. */
  bodyParser?: boolean;
  /** Called after the app is built and before it listens (Fastify hooks, parsers, filters). */
  configure?(app: NestFastifyApplication): void | Promise<void>;
}

/** A service: what it needs to exist (provision), where work comes from (sources), what it talks to (sinks). */
export interface Stage {
  /** Creates what the stage needs (bucket, topics, schema). Idempotent; retried with backoff until it succeeds. */
  provision?(): Promise<void>;
  sources: Source[];
  sinks: Sink[];
  http?: HttpIntake;
}

export interface ServiceDefinition<S extends z.ZodRawShape> {
  name: string;
  /** The environment variables the service reads (zod shapes; `serviceEnv` is always included). */
  env: S;
  build(config: z.infer<z.ZodObject<S>> & ServiceEnv, runtime: Runtime): Stage;
}

const PROVISION_BACKOFF = { baseMs: 250, maxMs: 5_000 };

/**
 * Runs one service, the same way for all three: parse the configuration (a bad variable stops the
 * process with a message naming it), build the stage, serve `/metrics` and `/health/*` (and the
 * intake, if any), provision with retry in the background (the service is live but not ready
 * meanwhile, so it starts even while a dependency is down), then start the sources. SIGTERM or
 * SIGINT: readiness goes false, the HTTP server stops accepting and finishes its requests while
 * the sources drain, then the sinks close; the whole shutdown is bounded by SHUTDOWN_TIMEOUT_MS,
 * after which the process exits anyway (whatever was not acknowledged is redelivered or retried).
 */
export async function runService<S extends z.ZodRawShape>(def: ServiceDefinition<S>): Promise<void> {
  const logger = createLogger(def.name);
  logProcessWarnings(logger);
  try {
    await start(def, logger);
  } catch (err) {
    exitOnStartupError(logger, err);
  }
}

async function start<S extends z.ZodRawShape>(def: ServiceDefinition<S>, logger: Logger): Promise<void> {
  const config = loadConfig({ ...serviceEnv, ...def.env }) as z.infer<z.ZodObject<S>> & ServiceEnv;
  logger.level = config.LOG_LEVEL;
  const registry = createRegistry(def.name);
  const state = { provisioned: false, draining: false };
  const runtime: Runtime = {
    name: def.name,
    logger,
    registry,
    get provisioned() {
      return state.provisioned;
    },
    get draining() {
      return state.draining;
    },
  };
  const stage = def.build(config, runtime);

  const checks: ReadinessCheck[] = [
    {
      name: 'lifecycle',
      check: async () => {
        if (state.draining) throw new Error('shutting down');
        if (!state.provisioned) throw new Error('not provisioned yet (bucket, topics, schema)');
      },
    },
    ...stage.sinks.filter((s) => s.ping).map((s) => ({ name: s.name, check: () => s.ping!() })),
    ...stage.sources.flatMap((s) => s.readiness ?? []),
  ];

  const apps = await listen(def.name, config, stage, checks, registry, logger);

  let shuttingDown: Promise<void> | undefined;
  const shutdown = (signal: string) => {
    shuttingDown ??= (async () => {
      logger.info({ signal, timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'shutting down: draining');
      state.draining = true;
      setTimeout(() => {
        logger.error({ timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'shutdown deadline passed; exiting with work unacknowledged (it is redelivered or retried)');
        process.exit(1);
      }, config.SHUTDOWN_TIMEOUT_MS).unref();
      const failed = (what: string) => (err: unknown) => logger.warn({ err: errorMessage(err) }, `${what} failed during shutdown`);
      await Promise.all([
        ...apps.map((app) => app.close().catch(failed('HTTP close'))),
        ...stage.sources.map((s) => s.drain().catch(failed(`${s.name} drain`))),
      ]);
      for (const sink of stage.sinks) await Promise.resolve(sink.close()).catch(failed(`${sink.name} close`));
      logger.info('stopped');
      process.exit(0);
    })();
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => shutdown(signal));

  void provisionThenStart(stage, state, logger);
}

async function provisionThenStart(stage: Stage, state: { provisioned: boolean; draining: boolean }, logger: Logger): Promise<void> {
  try {
    if (stage.provision) {
      await retryUntilStopped(() => stage.provision!(), {
        // Only an outage is waited out; a refused migration or a bad setting will not get better.
        shouldStop: (err) => state.draining || !(isDependencyError(err) && err.retryable),
        ...PROVISION_BACKOFF,
        onRetry: (err, attempt, delayMs) => logger.warn({ err: errorMessage(err), attempt: attempt + 1, delayMs }, 'provisioning failed; retrying'),
      });
      logger.info('provisioned');
    }
  } catch (err) {
    if (state.draining) return;
    logger.fatal({ err: errorMessage(err) }, 'provisioning failed for a reason waiting cannot fix; exiting');
    process.exit(1);
  }
  if (state.draining) return;
  state.provisioned = true;
  for (const source of stage.sources) {
    try {
      await source.start();
    } catch (err) {
      // A source that cannot even start is a defect, not an outage: let the supervisor restart the process.
      logger.fatal({ source: source.name, err: errorMessage(err) }, 'source failed to start; exiting');
      process.exit(1);
    }
  }
}

/**
 * One listener on PORT, or two when OPS_PORT is set to another port: the intake on PORT and the
 * operational endpoints (`/metrics`, `/health/*`) on OPS_PORT, so that only the intake faces clients.
 */
async function listen(name: string, config: ServiceEnv, stage: Stage, checks: ReadinessCheck[], registry: Registry, logger: Logger): Promise<INestApplication[]> {
  const http = stage.http;
  if (config.OPS_PORT === undefined || config.OPS_PORT === config.PORT) {
    return [await serve(serviceModule(name, { registry, checks, http }), { host: config.HOST, port: config.PORT, http, logger, what: 'all endpoints' })];
  }
  return [
    await serve(serviceModule(`${name}-intake`, { http }), { host: config.HOST, port: config.PORT, http, logger, what: 'intake' }),
    await serve(serviceModule(`${name}-ops`, { registry, checks }), { host: config.OPS_HOST ?? config.HOST, port: config.OPS_PORT, logger, what: 'metrics and health' }),
  ];
}

/** The Nest module of a service: `/metrics` and `/health/*` when given a registry, plus the intake's controllers. */
export function serviceModule(name: string, parts: { registry?: Registry; checks?: ReadinessCheck[]; http?: HttpIntake }): Type<unknown> {
  const imports = parts.registry ? [MetricsModule.forRegistry(parts.registry), HealthModule.forChecks({ useFactory: () => parts.checks ?? [] })] : [];
  @Module({ imports, controllers: parts.http?.controllers ?? [], providers: parts.http?.providers ?? [] })
  class ServiceModule {}
  Object.defineProperty(ServiceModule, 'name', { value: name });
  return ServiceModule;
}

async function serve(
  module: Type<unknown>,
  o: { host: string; port: number; http?: HttpIntake; logger: Logger; what: string },
): Promise<NestFastifyApplication> {
  const { logger } = o;
  const adapter = new FastifyAdapter({ bodyLimit: o.http?.bodyLimit, trustProxy: true });
  const app = await NestFactory.create<NestFastifyApplication>(module, adapter, {
    bodyParser: o.http?.bodyParser ?? true,
    logger: {
      log: (m: unknown) => logger.info({ context: 'nest' }, String(m)),
      error: (m: unknown, trace?: string) => logger.error({ context: 'nest', trace }, String(m)),
      warn: (m: unknown) => logger.warn({ context: 'nest' }, String(m)),
      debug: (m: unknown) => logger.debug({ context: 'nest' }, String(m)),
      verbose: (m: unknown) => logger.trace({ context: 'nest' }, String(m)),
    },
  });
  await o.http?.configure?.(app);
  await app.listen(o.port, o.host);
  logger.info({ host: o.host, port: o.port }, `listening (${o.what})`);
  return app;
}

/** Node's own warnings (e.g. a timer with a negative delay) as JSON lines like everything else. */
function logProcessWarnings(logger: Logger): void {
  process.removeAllListeners('warning');
  process.on('warning', (warning) => logger.warn({ warning: warning.name }, warning.message));
}

/** Turns a start-up failure into one clear log line and a non-zero exit instead of a stack dump. */
export function exitOnStartupError(logger: Logger, err: unknown): never {
  if (err instanceof ConfigError) {
    logger.fatal({ problems: err.problems }, err.message);
  } else {
    logger.fatal({ err }, `start-up failed: ${errorMessage(err)}`);
  }
  process.exit(1);
}
