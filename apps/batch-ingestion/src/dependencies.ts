import { BatchEventPublisher, RawBatchStore } from '@pipeline/batch';
import { Dependency, DependencyError, errorMessage } from '@pipeline/platform';
import { IngestionMetrics } from './metrics';

/**
 * Rejects with a retryable DependencyError when `promise` has not settled after `ms`; the late
 * outcome is ignored. Errors that are not typed yet (an adapter defect) count as an outage: the
 * client's retry is safe, a 500 would not be.
 */
export function withDeadline<T>(dependency: Dependency, what: string, promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DependencyError(dependency, true, 'timeout', `${what} did not answer within ${ms} ms`)), ms);
  });
  promise.catch(() => undefined);
  return Promise.race([promise, deadline])
    .catch((err) => {
      throw err instanceof DependencyError ? err : new DependencyError(dependency, true, 'unavailable', `${what} failed: ${errorMessage(err)}`, err);
    })
    .finally(() => clearTimeout(timer));
}

const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;

/** The raw batch store as the request path uses it: every call timed, counted and bounded by a deadline. */
export class MeasuredStore implements RawBatchStore {
  constructor(
    private readonly inner: RawBatchStore,
    private readonly metrics: IngestionMetrics,
    private readonly timeoutMs: number,
  ) {}

  putIfAbsent(key: string, body: Buffer, metadata: Record<string, string>, contentType?: string, payloadSha256?: string) {
    return this.call('PutObject', () => this.inner.putIfAbsent(key, body, metadata, contentType, payloadSha256));
  }

  head(key: string) {
    return this.call('HeadObject', () => this.inner.head(key));
  }

  private async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    const start = process.hrtime.bigint();
    try {
      const out = await withDeadline('s3', `S3 ${operation}`, fn(), this.timeoutMs);
      this.metrics.s3Duration.observe({ operation, result: 'ok' }, seconds(start));
      return out;
    } catch (err) {
      this.metrics.s3Duration.observe({ operation, result: 'error' }, seconds(start));
      this.metrics.s3Errors.inc({ operation });
      throw err;
    }
  }
}

/** The event publisher as the request path uses it: timed, counted and bounded by a deadline. */
export class MeasuredPublisher implements BatchEventPublisher {
  constructor(
    private readonly inner: BatchEventPublisher,
    private readonly metrics: IngestionMetrics,
    private readonly timeoutMs: number,
  ) {}

  async publish(topic: string, messages: { key: string; value: string; headers?: Record<string, string | Buffer> }[]): Promise<void> {
    const start = process.hrtime.bigint();
    try {
      await withDeadline('kafka', 'Kafka publish', this.inner.publish(topic, messages), this.timeoutMs);
      this.metrics.kafkaDuration.observe({ topic, result: 'ok' }, seconds(start));
    } catch (err) {
      this.metrics.kafkaDuration.observe({ topic, result: 'error' }, seconds(start));
      this.metrics.kafkaErrors.inc({ topic });
      throw err;
    }
  }
}
