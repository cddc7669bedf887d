import { kafkaEnv, loadConfig, port, positiveInt, s3Env, serviceEnv } from '@pipeline/platform';

export const ingestionEnv = {
  ...serviceEnv,
  ...kafkaEnv,
  ...s3Env,
  PORT: port(8080),
  /** Longest time a client may take to send one request body before it is answered 408. */
  HTTP_BODY_TIMEOUT_MS: positiveInt(30_000),
};

export type IngestionConfig = ReturnType<typeof loadIngestionConfig>;

export function loadIngestionConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(ingestionEnv, env);
}
