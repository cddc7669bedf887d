import { MAX_BATCH_BYTES } from '@pipeline/batch';
import { createLogger, exitOnStartupError, runService } from '@pipeline/platform';
import { Server } from 'node:http';
import { loadIngestionConfig } from './config';
import { configureHttp } from './http';
import { createIngestionService } from './service';

// kafkajs warns at every start that its v2 default partitioner changed; this service was
// written against the v2 partitioner, so the warning carries no information here.
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';

const logger = createLogger('batch-ingestion');

async function main(): Promise<void> {
  const config = loadIngestionConfig();
  logger.level = config.LOG_LEVEL;
  const service = createIngestionService(config, logger);

  // SIGTERM: Nest stops accepting connections, lets in-flight requests finish, then disconnects
  // the producer. If that takes longer than SHUTDOWN_TIMEOUT_MS the process exits anyway:
  // every batch already answered 202/409 is durable, the rest are retried by their clients.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      logger.info({ signal }, 'shutting down: draining in-flight requests');
      setTimeout(() => {
        logger.error({ timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'shutdown timed out; exiting');
        process.exit(1);
      }, config.SHUTDOWN_TIMEOUT_MS).unref();
    });
  }

  await runService({
    name: 'batch-ingestion',
    module: service.module,
    host: config.HOST,
    port: config.PORT,
    logger,
    bodyLimit: MAX_BATCH_BYTES,
    bodyParser: false,
    configure: (app) => {
      configureHttp(app, { metrics: service.metrics, logger, isDraining: service.isDraining });
      // Backstop behind the handler's own body deadline (answered 408) for requests that
      // never get that far, e.g. headers trickling in.
      (app.getHttpServer() as Server).requestTimeout = config.HTTP_BODY_TIMEOUT_MS + 10_000;
    },
  });
}

main().catch((err) => exitOnStartupError(logger, err));
