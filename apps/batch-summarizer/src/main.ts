import 'reflect-metadata';
import { createLogger, exitOnStartupError, runService } from '@pipeline/platform';
import { loadSummarizerConfig } from './config';
import { SERVICE_NAME, createSummarizer } from './summarizer';
import { summarizerModule } from './summarizer.module';

// kafkajs warns at every start that its v2 default partitioner changed; partial keys were
// designed with the v2 partitioner, so the warning carries no information here.
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';

const logger = createLogger(SERVICE_NAME);

async function main(): Promise<void> {
  const config = loadSummarizerConfig();
  logger.level = config.LOG_LEVEL;
  const summarizer = createSummarizer(config, logger);

  // SIGTERM: the consumer finishes the records in flight, commits them and leaves the group.
  // If that takes longer than SHUTDOWN_TIMEOUT_MS the process exits anyway: whatever was not
  // committed is delivered again, and summarizing it again sends the same partials.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      logger.info({ signal }, 'shutting down: finishing in-flight batches');
      setTimeout(() => {
        logger.error({ timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'shutdown timed out; exiting');
        process.exit(1);
      }, config.SHUTDOWN_TIMEOUT_MS).unref();
    });
  }

  await runService({ name: SERVICE_NAME, module: summarizerModule(summarizer), host: config.HOST, port: config.PORT, logger });
}

main().catch((err) => exitOnStartupError(logger, err));
