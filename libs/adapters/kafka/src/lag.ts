import { Admin } from 'kafkajs';

export interface PartitionLag {
  topic: string;
  partition: number;
  lag: number;
}

/** Consumer lag per partition: the log end offset minus the group's committed offset. */
export async function consumerLag(admin: Admin, groupId: string, topic: string): Promise<PartitionLag[]> {
  const [ends, committed] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
  const committedByPartition = new Map<number, number>();
  for (const t of committed) {
    for (const p of t.partitions) committedByPartition.set(p.partition, Number(p.offset));
  }
  return ends.map((e) => {
    const end = Number(e.high);
    const done = committedByPartition.get(e.partition) ?? -1;
    // -1 means nothing committed yet: everything from the earliest retained offset is lag.
    const lag = done < 0 ? end - Number(e.low) : Math.max(0, end - done);
    return { topic, partition: e.partition, lag };
  });
}
