import { Logger } from 'pino';
import { retryUntilStopped } from '@pipeline/platform';

/**
 * Creates what the service needs (bucket, topic) in the background, retrying with capped
 * exponential backoff until it succeeds: the service starts even while S3 or Kafka are down
 * (unready, batches answered 503) and becomes ready by itself once they are back.
 */
export class Provisioner {
  private provisioned = false;
  private stopped = false;
  private running?: Promise<void>;

  constructor(
    private readonly provision: () => Promise<void>,
    private readonly logger: Logger,
    private readonly backoff = { baseMs: 250, maxMs: 5_000 },
  ) {}

  get done(): boolean {
    return this.provisioned;
  }

  start(): Promise<void> {
    this.running ??= retryUntilStopped(() => this.provision(), {
      shouldStop: () => this.stopped,
      ...this.backoff,
      onRetry: (err, attempt, delayMs) =>
        this.logger.warn({ err: (err as Error)?.message ?? String(err), attempt, delayMs }, 'provisioning bucket and topic failed; retrying'),
    }).then(
      () => {
        this.provisioned = true;
        this.logger.info('bucket and topic provisioned');
      },
      (err) => {
        if (!this.stopped) this.logger.error({ err }, 'provisioning gave up');
      },
    );
    return this.running;
  }

  stop(): void {
    this.stopped = true;
  }
}
