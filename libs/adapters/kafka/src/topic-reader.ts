import { randomBytes } from 'node:crypto';
import { TopicMessage } from '@pipeline/contract';
import { IHeaders, Kafka } from 'kafkajs';
import { toEventBusError } from './errors';

/** A message as read, with the time the broker gave it. */
export interface TopicRecord extends TopicMessage {
  timestamp: string;
}

/** Offsets `from` (inclusive) to `to` (exclusive) of one partition. */
export interface OffsetRange {
  partition: number;
  from: bigint;
  to: bigint;
}

export interface ReadTopicOptions {
  /** What to read; default: every partition from its earliest retained offset to its end *at the start of the read*. */
  ranges?: OffsetRange[];
  /** Prefix of the throwaway consumer group's name (it is deleted afterwards). */
  groupPrefix: string;
  /** Gives up when no message arrives for this long while ranges are still unread. */
  idleTimeoutMs?: number;
}

function headerBuffers(headers: IHeaders | undefined): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const [name, raw] of Object.entries(headers ?? {})) {
    const v = Array.isArray(raw) ? raw[0] : raw;
    if (v !== undefined) out[name] = Buffer.isBuffer(v) ? v : Buffer.from(v);
  }
  return out;
}

/**
 * Reads a bounded part of a topic and returns. For tools that must look at a topic without
 * disturbing its consumers: it reads with a consumer group of its own, unique per call, commits
 * nothing, and deletes that group when done, so no service's group or offsets are touched. The
 * end is fixed when the read starts (the high watermarks then), so the read stops by itself even
 * while producers keep appending.
 */
export async function readTopic(kafka: Kafka, topic: string, options: ReadTopicOptions): Promise<TopicRecord[]> {
  const admin = kafka.admin();
  const groupId = `${options.groupPrefix}-${randomBytes(6).toString('hex')}`;
  let joined = false;
  try {
    await admin.connect();
    const existing = await admin.listTopics();
    if (!existing.includes(topic)) throw new Error(`topic ${topic} does not exist`);
    const offsets = await admin.fetchTopicOffsets(topic);
    const wanted = new Map<number, { from: bigint; to: bigint }>();
    const requested = options.ranges ?? offsets.map((o) => ({ partition: o.partition, from: BigInt(o.low), to: BigInt(o.high) }));
    for (const r of requested) {
      const bounds = offsets.find((o) => o.partition === r.partition);
      if (!bounds) continue;
      // Below `low` was deleted by retention; at or beyond `high` does not exist yet.
      const from = r.from > BigInt(bounds.low) ? r.from : BigInt(bounds.low);
      const to = r.to < BigInt(bounds.high) ? r.to : BigInt(bounds.high);
      if (from < to) wanted.set(r.partition, { from, to });
    }
    if (wanted.size === 0) return [];

    const records: TopicRecord[] = [];
    const pending = new Set(wanted.keys());
    let lastProgress = Date.now();
    // A short fetch wait: disconnecting waits for the fetch in flight, and the read ends as soon as it has its ranges.
    const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, sessionTimeout: 10_000, heartbeatInterval: 1_000, maxWaitTimeInMs: 200, retry: { retries: 5 } });
    let crashed: unknown;
    consumer.on(consumer.events.CRASH, (e) => {
      crashed = e.payload.error;
    });
    try {
      await consumer.connect();
      joined = true;
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          const range = wanted.get(batch.partition);
          if (!range) return;
          for (const m of batch.messages) {
            const offset = BigInt(m.offset);
            if (offset < range.from || offset >= range.to) continue;
            records.push({ topic, partition: batch.partition, offset: m.offset, key: m.key ?? null, value: m.value ?? null, headers: headerBuffers(m.headers), timestamp: m.timestamp });
          }
          lastProgress = Date.now();
          // lastOffset() also covers offsets without a message for us (control records, compaction).
          if (BigInt(batch.lastOffset()) >= range.to - 1n) pending.delete(batch.partition);
        },
      });
      const skip = offsets.map((o) => o.partition).filter((p) => !wanted.has(p));
      if (skip.length > 0) consumer.pause([{ topic, partitions: skip }]);
      for (const [partition, range] of wanted) {
        if (range.from > BigInt(offsets.find((o) => o.partition === partition)!.low)) consumer.seek({ topic, partition, offset: range.from.toString() });
      }
      const idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
      while (pending.size > 0) {
        if (crashed) throw crashed;
        if (Date.now() - lastProgress > idleTimeoutMs) {
          throw new Error(`reading ${topic}: nothing arrived for ${idleTimeoutMs} ms; partitions ${[...pending].join(', ')} unfinished`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await consumer.disconnect().catch(() => undefined);
    }
    return records.sort((a, b) => a.partition - b.partition || (BigInt(a.offset) < BigInt(b.offset) ? -1 : 1));
  } catch (err) {
    throw toEventBusError(err, `reading ${topic}`);
  } finally {
    // The group committed nothing; deleting it leaves the cluster as it was.
    if (joined) await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
}
