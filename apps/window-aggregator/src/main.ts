import 'reflect-metadata';
import { createLogger, createRegistry, exitOnStartupError, runService } from '@pipeline/platform';
import { AppModule } from './app.module';
import { loadAggregatorConfig } from './config';

const SERVICE = 'window-aggregator';
const logger = createLogger(SERVICE);

async function main(): Promise<void> {
  const config = loadAggregatorConfig();
  logger.level = config.LOG_LEVEL;
  const registry = createRegistry(SERVICE);
  await runService({ name: SERVICE, module: AppModule.forRoot(config, logger, registry) as never, host: config.HOST, port: config.PORT, logger });
}

main().catch((err) => exitOnStartupError(logger, err));
