// In-memory stand-ins for S3 and Kafka, shared by this service's unit tests (no IO at all).
import { EventBusError, EventPublisher, OutboundMessage } from '@pipeline/kafka';
import { ListedObject, ObjectStore, ObjectStoreError, PutOutcome, StoredObject } from '@pipeline/s3';

/** An in-memory ObjectStore whose next calls, or calls for some keys, can fail like an unreachable S3. */
export class MemoryStore implements ObjectStore {
  readonly bucket = 'mem';
  readonly objects = new Map<string, StoredObject>();
  /** The next this many calls fail. */
  failures = 0;
  /** Keys whose every call fails until they are removed from the set. */
  readonly unreachable = new Set<string>();
  puts = 0;
  gets = 0;

  private maybeFail(key: string) {
    if (this.unreachable.has(key)) throw new ObjectStoreError('unavailable', 'unavailable', `S3 request for ${key} failed: connect ECONNREFUSED`);
    if (this.failures > 0) {
      this.failures--;
      throw new ObjectStoreError('unavailable', 'unavailable', 'S3 GetObject failed: connect ECONNREFUSED');
    }
  }
  async ensureBucket() {}
  async ping() {}
  async putIfAbsent(key: string, body: Buffer, metadata: Record<string, string>): Promise<PutOutcome> {
    this.maybeFail(key);
    this.puts++;
    if (this.objects.has(key)) return { status: 'exists' };
    this.objects.set(key, { body, metadata });
    return { status: 'created' };
  }
  async get(key: string) {
    this.maybeFail(key);
    this.gets++;
    return this.objects.get(key) ?? null;
  }
  async head(key: string) {
    return this.objects.get(key)?.metadata ?? null;
  }
  async list(prefix: string, options: { startAfter?: string; maxKeys?: number } = {}): Promise<{ objects: ListedObject[]; truncated: boolean }> {
    const keys = [...this.objects.keys()].filter((k) => k.startsWith(prefix) && (options.startAfter === undefined || k > options.startAfter)).sort();
    const max = options.maxKeys ?? 1000;
    return { objects: keys.slice(0, max).map((key) => ({ key, lastModified: new Date(0), size: this.objects.get(key)!.body.length })), truncated: keys.length > max };
  }
}

export class MemoryPublisher implements EventPublisher {
  readonly sent: { topic: string; message: OutboundMessage }[] = [];
  /** Messages per publish call, in call order. */
  readonly sends: number[] = [];
  failures = 0;
  async publish(topic: string, messages: OutboundMessage[]) {
    if (this.failures > 0) {
      this.failures--;
      throw new EventBusError('unavailable', 'timeout', 'Kafka did not acknowledge within 5000 ms');
    }
    this.sends.push(messages.length);
    for (const message of messages) this.sent.push({ topic, message });
  }
  on(topic: string) {
    return this.sent.filter((s) => s.topic === topic).map((s) => s.message);
  }
}
