import { isDependencyError } from '@pipeline/platform';
import { EventBusError } from './errors';
import { EventPublisher, OutboundMessage, sizeOfMessage } from './producer';

export interface CoalescingLimits {
  /** Most messages in one send. */
  maxMessages: number;
  /**
   * Most key and value bytes in one send. Messages of one send that go to the same partition
   * form one record batch, which the broker refuses above its message size limit (1 MiB by
   * default), though each message alone would fit: a caller's messages beyond this are sent in
   * several sends.
   */
  maxBytes: number;
  /**
   * Most bytes waiting to be sent. Beyond it a publish is refused at once with a retryable error
   * (a 503 at the ingestion, a backoff in the consumers) instead of growing the queue.
   */
  maxPendingBytes: number;
}

export const DEFAULT_COALESCING_LIMITS: CoalescingLimits = { maxMessages: 500, maxBytes: 512 * 1024, maxPendingBytes: 32 * 1024 * 1024 };

interface Call {
  chunks: number;
  failed: boolean;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface Chunk {
  topic: string;
  messages: OutboundMessage[];
  bytes: number;
  call: Call;
}

/**
 * Sends the messages of concurrent callers together. The idempotent producer has one request in
 * flight at a time, so one send per caller would queue callers behind each other's Kafka round
 * trips; instead whatever arrives while a send is in flight goes out with the next one. Each
 * caller resolves once all its own messages are acknowledged, and sees a failure of any of them.
 * When a shared send is refused for good (a message the broker will never take), every caller's
 * messages are sent again on their own, so only the caller whose message it was sees the refusal.
 */
export class CoalescingPublisher implements EventPublisher {
  private readonly queue: Chunk[] = [];
  private pendingBytes = 0;
  private sending = false;

  constructor(
    private readonly inner: EventPublisher,
    private readonly limits: CoalescingLimits = DEFAULT_COALESCING_LIMITS,
  ) {}

  /** Bytes waiting to be sent or in flight (for a gauge). */
  get queuedBytes(): number {
    return this.pendingBytes;
  }

  publish(topic: string, messages: OutboundMessage[]): Promise<void> {
    if (messages.length === 0) return Promise.resolve();
    const sizes = messages.map(sizeOfMessage);
    const total = sizes.reduce((a, b) => a + b, 0);
    if (this.pendingBytes > 0 && this.pendingBytes + total > this.limits.maxPendingBytes) {
      return Promise.reject(new EventBusError('unavailable', 'backpressure', `${this.pendingBytes} bytes already wait for Kafka; try again later`));
    }
    return new Promise<void>((resolve, reject) => {
      const call: Call = { chunks: 0, failed: false, resolve, reject };
      let current: Chunk | undefined;
      messages.forEach((m, i) => {
        if (!current || current.messages.length >= this.limits.maxMessages || current.bytes + sizes[i] > this.limits.maxBytes) {
          current = { topic, messages: [], bytes: 0, call };
          call.chunks++;
          this.queue.push(current);
        }
        current.messages.push(m);
        current.bytes += sizes[i];
      });
      this.pendingBytes += total;
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.sending || this.queue.length === 0) return;
    this.sending = true;
    const group = this.takeGroup();
    try {
      try {
        await this.inner.publish(group[0].topic, group.flatMap((c) => c.messages));
        for (const c of group) this.succeeded(c);
      } catch (err) {
        if (group.length > 1 && isDependencyError(err) && !err.retryable) {
          for (const c of group) {
            if (c.call.failed) continue;
            await this.inner.publish(c.topic, c.messages).then(
              () => this.succeeded(c),
              (e) => this.failed(c, e),
            );
          }
        } else {
          for (const c of group) this.failed(c, err);
        }
      }
    } finally {
      for (const c of group) this.pendingBytes -= c.bytes;
      this.sending = false;
      void this.pump();
    }
  }

  private succeeded(c: Chunk): void {
    if (c.call.failed) return;
    if (--c.call.chunks === 0) c.call.resolve();
  }

  private failed(c: Chunk, err: unknown): void {
    if (c.call.failed) return;
    c.call.failed = true;
    c.call.reject(err);
    // The rest of this caller's messages need not go out: the caller retries them all.
    for (let i = this.queue.length - 1; i >= 0; i--) {
      if (this.queue[i].call === c.call) {
        this.pendingBytes -= this.queue[i].bytes;
        this.queue.splice(i, 1);
      }
    }
  }

  /** The oldest chunk and the later ones to the same topic that fit with it, in order. */
  private takeGroup(): Chunk[] {
    const topic = this.queue[0].topic;
    const group: Chunk[] = [];
    const taken = new Set<Call>();
    const skipped = new Set<Call>();
    let count = 0;
    let bytes = 0;
    for (let i = 0; i < this.queue.length; ) {
      const c = this.queue[i];
      const fits = group.length === 0 || (count + c.messages.length <= this.limits.maxMessages && bytes + c.bytes <= this.limits.maxBytes);
      // A caller's chunks go out in order, one per send: once one waits, its later ones wait too.
      if (c.topic !== topic || !fits || taken.has(c.call) || skipped.has(c.call)) {
        skipped.add(c.call);
        i++;
        continue;
      }
      taken.add(c.call);
      group.push(c);
      count += c.messages.length;
      bytes += c.bytes;
      this.queue.splice(i, 1);
    }
    return group;
  }
}
