import { BatchEventPublisher, RawBatchStore } from '@pipeline/batch';
import { asDependencyError, Dependency, withDeadline } from '@pipeline/platform';
import { IngestionMetrics } from './metrics';

/** A call on the request path: bounded by a deadline, and typed as a failure of its dependency whatever it throws. */
const bounded = <T>(dependency: Dependency, what: string, ms: number, fn: () => Promise<T>): Promise<T> =>
  withDeadline(dependency, what, ms, fn).catch((err) => {
    throw asDependencyError(dependency, what, err);
  });

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
      const out = await bounded('s3', `S3 ${operation}`, this.timeoutMs, fn);
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
      await bounded('kafka', 'Kafka publish', this.timeoutMs, () => this.inner.publish(topic, messages));
      this.metrics.kafkaDuration.observe({ topic, result: 'ok' }, seconds(start));
    } catch (err) {
      this.metrics.kafkaDuration.observe({ topic, result: 'error' }, seconds(start));
      this.metrics.kafkaErrors.inc({ topic });
      throw err;
    }
  }
}
