import type { EventPublisher, OutboundMessage } from './producer';

interface Pending {
  topic: string;
  messages: OutboundMessage[];
  bytes: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export interface CoalescingLimits {
  /** Most messages in one send. */
  maxMessages: number;
  /**
   * Most key and value bytes in one send. Messages of one send that go to the same partition
   * form one record batch, which the broker refuses above its message size limit (1 MiB by
   * default), though each message alone would fit.
   */
  maxBytes: number;
}

const sizeOf = (m: OutboundMessage) => Buffer.byteLength(m.key) + (typeof m.value === 'string' ? Buffer.byteLength(m.value) : m.value.length);

/**
 * Sends the messages of concurrently finished events together. The idempotent producer has one
 * request in flight at a time, so one send per event would queue the events behind each other's
 * Kafka round trips; instead whatever arrives while a send is in flight goes out with the next
 * one. A caller's messages are never split, each caller resolves only once its own messages are
 * acknowledged, and every caller of a failed send sees the failure (and retries on its own).
 */
export class CoalescingPublisher implements EventPublisher {
  private readonly pending: Pending[] = [];
  private sending = false;

  constructor(
    private readonly inner: EventPublisher,
    private readonly limits: CoalescingLimits = { maxMessages: 500, maxBytes: 512 * 1024 },
  ) {}

  publish(topic: string, messages: OutboundMessage[]): Promise<void> {
    if (messages.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ topic, messages, bytes: messages.reduce((n, m) => n + sizeOf(m), 0), resolve, reject });
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.sending || this.pending.length === 0) return;
    this.sending = true;
    const group = this.takeGroup();
    try {
      await this.inner.publish(group[0].topic, group.flatMap((p) => p.messages));
      for (const p of group) p.resolve();
    } catch (err) {
      for (const p of group) p.reject(err);
    } finally {
      this.sending = false;
      void this.pump();
    }
  }

  /** The oldest pending publish and the later ones to the same topic that fit with it, in order. */
  private takeGroup(): Pending[] {
    const topic = this.pending[0].topic;
    const group: Pending[] = [];
    let count = 0;
    let bytes = 0;
    for (let i = 0; i < this.pending.length; ) {
      const p = this.pending[i];
      const fits = group.length === 0 || (count + p.messages.length <= this.limits.maxMessages && bytes + p.bytes <= this.limits.maxBytes);
      if (p.topic !== topic || !fits) {
        i++;
        continue;
      }
      group.push(p);
      count += p.messages.length;
      bytes += p.bytes;
      this.pending.splice(i, 1);
    }
    return group;
  }
}
