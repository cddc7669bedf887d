import { INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'pino';
import { ConfigError } from './config';

export interface ServiceOptions {
  name: string;
  module: Type<unknown>;
  host: string;
  port: number;
  logger: Logger;
  /** Largest request body Fastify buffers, in bytes. */
  bodyLimit?: number;
  /**
   * false: Nest registers no JSON/urlencoded body parsers, so `configure` can install its own
   * (e.g. a raw, size-limited stream). Default true.
   */
  bodyParser?: boolean;
  /** Called after the app is built and before it listens (extra Fastify hooks, parsers). */
  configure?: (app: NestFastifyApplication) => void | Promise<void>;
}

/**
 * Builds and starts one service. SIGTERM/SIGINT close the HTTP server first and then run the
 * Nest shutdown hooks, so consumers finish and commit their in-flight work before the exit.
 */
export async function runService(options: ServiceOptions): Promise<INestApplication> {
  const { logger } = options;
  const adapter = new FastifyAdapter({ bodyLimit: options.bodyLimit, trustProxy: true });
  const app = await NestFactory.create<NestFastifyApplication>(options.module, adapter, {
    bodyParser: options.bodyParser ?? true,
    logger: {
      log: (m: unknown) => logger.info({ context: 'nest' }, String(m)),
      error: (m: unknown, trace?: string) => logger.error({ context: 'nest', trace }, String(m)),
      warn: (m: unknown) => logger.warn({ context: 'nest' }, String(m)),
      debug: (m: unknown) => logger.debug({ context: 'nest' }, String(m)),
      verbose: (m: unknown) => logger.trace({ context: 'nest' }, String(m)),
    },
  });
  // useProcessExit: end with process.exit(0) rather than re-raising the signal, so pino's
  // exit handler flushes the last log lines (a re-raised signal kills the process unflushed).
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  await options.configure?.(app);
  await app.listen(options.port, options.host);
  logger.info({ port: options.port, host: options.host }, `${options.name} listening`);
  return app;
}

/** Turns a start-up failure into one clear log line and a non-zero exit instead of a stack dump. */
export function exitOnStartupError(logger: Logger, err: unknown): never {
  if (err instanceof ConfigError) {
    logger.fatal({ problems: err.problems }, err.message);
  } else {
    logger.fatal({ err }, `start-up failed: ${(err as Error)?.message ?? String(err)}`);
  }
  process.exit(1);
}
