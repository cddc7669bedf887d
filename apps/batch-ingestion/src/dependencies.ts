import { BatchEventPublisher, RawBatchStore } from '@pipeline/batch';
import { IngestionMetrics } from './metrics';

/** S3 or Kafka failed or did not answer in time: the request is answered 503, a retry is safe. */
export class DependencyUnavailableError extends Error {
  constructor(
    readonly dependency: 's3' | 'kafka',
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'DependencyUnavailableError';
  }
}

/** Rejects with `onTimeout()` when `promise` has not settled after `ms`; the late outcome is ignored. */
export function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  promise.catch(() => undefined);
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;

/**
 * The raw batch store as the request path uses it: every call timed, counted, bounded by a
 * deadline, and any failure turned into a DependencyUnavailableError (so never a 500).
 */
export class MeasuredStore implements RawBatchStore {
  constructor(
    private readonly inner: RawBatchStore,
    private readonly metrics: IngestionMetrics,
    private readonly timeoutMs: number,
  ) {}

  putIfAbsent(key: string, body: Buffer, metadata: Record<string, string>, contentType?: string) {
    return this.call('PutObject', () => this.inner.putIfAbsent(key, body, metadata, contentType));
  }

  head(key: string) {
    return this.call('HeadObject', () => this.inner.head(key));
  }

  private async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    const start = process.hrtime.bigint();
    try {
      const out = await withDeadline(fn(), this.timeoutMs, () => new Error(`S3 ${operation} did not answer within ${this.timeoutMs} ms`));
      this.metrics.s3Duration.observe({ operation, result: 'ok' }, seconds(start));
      return out;
    } catch (err) {
      this.metrics.s3Duration.observe({ operation, result: 'error' }, seconds(start));
      this.metrics.s3Errors.inc({ operation });
      throw new DependencyUnavailableError('s3', (err as Error)?.message ?? String(err), err);
    }
  }
}

/** The event publisher as the request path uses it: timed, counted, bounded, failures made 503s. */
export class MeasuredPublisher implements BatchEventPublisher {
  constructor(
    private readonly inner: BatchEventPublisher,
    private readonly metrics: IngestionMetrics,
    private readonly timeoutMs: number,
  ) {}

  async publish(topic: string, messages: { key: string; value: string; headers?: Record<string, string> }[]): Promise<void> {
    const start = process.hrtime.bigint();
    try {
      await withDeadline(this.inner.publish(topic, messages), this.timeoutMs, () => new Error(`Kafka did not acknowledge within ${this.timeoutMs} ms`));
      this.metrics.kafkaDuration.observe({ topic, result: 'ok' }, seconds(start));
    } catch (err) {
      this.metrics.kafkaDuration.observe({ topic, result: 'error' }, seconds(start));
      this.metrics.kafkaErrors.inc({ topic });
      throw new DependencyUnavailableError('kafka', (err as Error)?.message ?? String(err), err);
    }
  }
}
