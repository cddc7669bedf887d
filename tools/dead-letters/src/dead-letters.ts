import { Kafka } from 'kafkajs';
import { TopicEnv } from '@pipeline/contract';
import { countByReason, DeadLetter, describeLetter, letterJson, matches, replayMessage, ReplayMessage, selectForReplay, Selection, toDeadLetter } from '@pipeline/dead-letters';
import { KafkaEventPublisher, readTopic, TopicRecord } from '@pipeline/kafka';

/** A dead-letter topic and the topic its letters came from (and are replayed to). */
export interface DeadLetterTopic {
  dlq: string;
  source: string;
}

/** The pairs the services use, from the same variables (TOPIC_*). */
export function deadLetterTopics(env: TopicEnv): DeadLetterTopic[] {
  return [
    { dlq: env.TOPIC_BATCH_INGESTED_DLQ, source: env.TOPIC_BATCH_INGESTED },
    { dlq: env.TOPIC_INSIGHT_EVENTS_DLQ, source: env.TOPIC_INSIGHT_EVENTS },
  ];
}

const GROUP_PREFIX = 'dead-letters-tool';

async function readLetters(kafka: Kafka, topic: string, idleTimeoutMs: number): Promise<DeadLetter[]> {
  return (await readTopic(kafka, topic, { groupPrefix: GROUP_PREFIX, idleTimeoutMs })).map(toDeadLetter);
}

export interface Out {
  write(text: string): void;
}

/** Lists the letters of each topic that match `selection` (all when it is empty), with counts by reason. */
export async function list(kafka: Kafka, topics: DeadLetterTopic[], selection: Selection, o: { json: boolean; idleTimeoutMs: number }, out: Out): Promise<number> {
  for (const { dlq } of topics) {
    const letters = (await readLetters(kafka, dlq, o.idleTimeoutMs)).filter((l) => matches(l, selection));
    if (o.json) {
      for (const l of letters) out.write(`${JSON.stringify(letterJson(l))}\n`);
      continue;
    }
    const reasons = countByReason(letters).map(([r, n]) => `${r} ${n}`).join(', ');
    out.write(`${dlq}: ${letters.length} dead letter(s)${letters.length ? ` (${reasons})` : ''}\n`);
    for (const l of letters) out.write(`  ${describeLetter(l)}\n`);
  }
  return 0;
}

/** The originals of letters whose value the dead-letter topic refused, read at their source offsets. */
async function originalsOf(kafka: Kafka, letters: DeadLetter[], idleTimeoutMs: number): Promise<Map<DeadLetter, TopicRecord>> {
  const found = new Map<DeadLetter, TopicRecord>();
  const byTopic = new Map<string, DeadLetter[]>();
  for (const l of letters) byTopic.set(l.info.sourceTopic, [...(byTopic.get(l.info.sourceTopic) ?? []), l]);
  for (const [topic, group] of byTopic) {
    const ranges = group.map((l) => ({ partition: l.info.sourcePartition, from: BigInt(l.info.sourceOffset), to: BigInt(l.info.sourceOffset) + 1n }));
    // One range per partition, spanning its letters: a single pass over each.
    const merged = new Map<number, { partition: number; from: bigint; to: bigint }>();
    for (const r of ranges) {
      const m = merged.get(r.partition);
      merged.set(r.partition, m ? { partition: r.partition, from: r.from < m.from ? r.from : m.from, to: r.to > m.to ? r.to : m.to } : r);
    }
    const records = await readTopic(kafka, topic, { groupPrefix: GROUP_PREFIX, ranges: [...merged.values()], idleTimeoutMs });
    for (const l of group) {
      const original = records.find((r) => r.partition === l.info.sourcePartition && r.offset === l.info.sourceOffset);
      if (original) found.set(l, original);
    }
  }
  return found;
}

/**
 * Publishes the selected letters to their source topics again, each source message once, with
 * its original key, value and headers (without the dead-letter ones). Safe to repeat: every hop
 * downstream recognises a batch or partial it has seen by its id.
 */
export async function replay(kafka: Kafka, topics: DeadLetterTopic[], selection: Selection, o: { dryRun: boolean; idleTimeoutMs: number; timeoutMs: number }, out: Out): Promise<number> {
  const publisher = new KafkaEventPublisher(kafka, o.timeoutMs);
  let problems = 0;
  try {
    for (const { dlq, source } of topics) {
      const letters = await readLetters(kafka, dlq, o.idleTimeoutMs);
      const { selected, repeats } = selectForReplay(letters, selection);
      // A letter names where it came from; one from another topic than this pair's is not guessed at.
      const foreign = selected.filter((l) => l.info.sourceTopic && l.info.sourceTopic !== source);
      const eligible = selected.filter((l) => !foreign.includes(l));
      const originals = await originalsOf(kafka, eligible.filter((l) => l.valueDropped), o.idleTimeoutMs);
      const messages: { letter: DeadLetter; message: ReplayMessage }[] = [];
      for (const letter of eligible) {
        if (letter.valueDropped && !originals.has(letter)) {
          problems++;
          out.write(`  not replayed ${letter.record.partition}:${letter.record.offset}: its value was dropped and ${letter.info.sourceTopic} no longer holds offset ${letter.info.sourceOffset} of partition ${letter.info.sourcePartition}\n`);
          continue;
        }
        messages.push({ letter, message: replayMessage(letter, originals.get(letter)) });
      }
      for (const l of foreign) {
        problems++;
        out.write(`  not replayed ${l.record.partition}:${l.record.offset}: it came from ${l.info.sourceTopic}, not ${source}\n`);
      }
      if (!o.dryRun && messages.length > 0) {
        // In chunks, so one publish stays well below the broker's request size.
        for (let i = 0; i < messages.length; i += 100) await publisher.publish(source, messages.slice(i, i + 100).map((m) => m.message));
      }
      const verb = o.dryRun ? 'would replay' : 'replayed';
      out.write(`${dlq} -> ${source}: ${verb} ${messages.length} of ${letters.length} dead letter(s)${repeats.length ? ` (${repeats.length} repeated letter(s) of the same source message skipped)` : ''}\n`);
      for (const { letter } of messages) out.write(`  ${verb} ${letter.record.partition}:${letter.record.offset} ${letter.info.reasonCode} customer=${letter.customerId ?? '-'} batch=${letter.info.batchId ?? '-'}\n`);
    }
  } finally {
    await publisher.disconnect().catch(() => undefined);
  }
  return problems > 0 ? 1 : 0;
}
