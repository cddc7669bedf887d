import 'reflect-metadata';
import { createLogger, createRegistry, exitOnStartupError, runService } from '@pipeline/platform';
import { aggregatorModule } from './app.module';
import { loadAggregatorConfig } from './config';

const SERVICE = 'window-aggregator';
// kafkajs warns at every start that its v2 default partitioner changed; the window keys were
// designed with the v2 partitioner, so the warning carries no information here.
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';

const logger = createLogger(SERVICE);

// Process warnings (e.g. kafkajs scheduling a timer with a negative delay) as JSON log lines
// instead of Node's plain-text stderr output.
process.removeAllListeners('warning');
process.on('warning', (warning) => logger.warn({ warning: warning.name }, warning.message));

async function main(): Promise<void> {
  const config = loadAggregatorConfig();
  logger.level = config.LOG_LEVEL;
  const registry = createRegistry(SERVICE);
  await runService({ name: SERVICE, module: aggregatorModule(config, logger, registry), host: config.HOST, port: config.PORT, logger });
}

main().catch((err) => exitOnStartupError(logger, err));
