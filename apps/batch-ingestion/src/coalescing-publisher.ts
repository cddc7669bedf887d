import { BatchEventPublisher } from '@pipeline/batch';

type Message = { key: string; value: string; headers?: Record<string, string> };

interface Pending {
  topic: string;
  messages: Message[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Sends the events of concurrent requests together. The idempotent producer has one request in
 * flight at a time, so one send per HTTP request would queue requests behind each other's Kafka
 * round trips; instead, whatever arrives while a send is in flight goes out in the next send,
 * as one produce request. Each caller still resolves only once its own messages are
 * acknowledged, and every caller of a failed send sees the failure.
 */
export class CoalescingPublisher implements BatchEventPublisher {
  private readonly pending: Pending[] = [];
  private sending = false;

  constructor(
    private readonly inner: BatchEventPublisher,
    private readonly maxMessagesPerSend = 500,
  ) {}

  publish(topic: string, messages: Message[]): Promise<void> {
    if (messages.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ topic, messages, resolve, reject });
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.sending || this.pending.length === 0) return;
    this.sending = true;
    const topic = this.pending[0].topic;
    const group: Pending[] = [];
    let count = 0;
    for (let i = 0; i < this.pending.length && count < this.maxMessagesPerSend; ) {
      const p = this.pending[i];
      if (p.topic !== topic || (group.length > 0 && count + p.messages.length > this.maxMessagesPerSend)) {
        i++;
        continue;
      }
      group.push(p);
      count += p.messages.length;
      this.pending.splice(i, 1);
    }
    try {
      await this.inner.publish(topic, group.flatMap((p) => p.messages));
      for (const p of group) p.resolve();
    } catch (err) {
      for (const p of group) p.reject(err);
    } finally {
      this.sending = false;
      void this.pump();
    }
  }
}
