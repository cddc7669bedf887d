import { DEAD_LETTER_HEADERS, DeadLetterInfo, isCustomerId, readDeadLetterHeaders, TopicMessage } from '@pipeline/contract';

/** A message as read from a dead-letter topic, bytes untouched. */
export type DeadLetterRecord = TopicMessage;

/** A dead letter: where it is, why it is there, and whose it was. */
export interface DeadLetter {
  record: DeadLetterRecord;
  info: DeadLetterInfo;
  /** The customer of the header, else of the message key (`customerId|…` on both topics). */
  customerId?: string;
  /** The dead-letter topic refused the value (too large): it is read back at its source offset. */
  valueDropped: boolean;
}

const DLQ_HEADER_NAMES: ReadonlySet<string> = new Set(Object.values(DEAD_LETTER_HEADERS));

export function toDeadLetter(record: DeadLetterRecord): DeadLetter {
  const text = Object.fromEntries(Object.entries(record.headers).map(([k, v]) => [k, v.toString('utf8')]));
  const info = readDeadLetterHeaders(text);
  const fromKey = record.key?.toString('utf8').split('|')[0];
  const customerId = info.customerId ?? (isCustomerId(fromKey) ? fromKey : undefined);
  return { record, info, customerId, valueDropped: text[DEAD_LETTER_HEADERS.valueDropped] === 'true' };
}

/** Which dead letters to act on. Kinds of criteria combine with AND, values of one kind with OR. */
export interface Selection {
  /** Reason codes (`dlq-reason-code`), e.g. `object_missing`. */
  reasons?: string[];
  customers?: string[];
  /** Places in the dead-letter topic, as listed (`partition:offset`). */
  offsets?: { partition: number; offset: string }[];
}

/** `3:17` (partition 3, offset 17), as `list` prints a dead letter's place. */
export function parsePlace(text: string): { partition: number; offset: string } | null {
  const m = /^(\d+):(\d+)$/.exec(text.trim());
  return m ? { partition: Number(m[1]), offset: String(BigInt(m[2])) } : null;
}

export const isEmptySelection = (s: Selection) => !s.reasons?.length && !s.customers?.length && !s.offsets?.length;

export function matches(letter: DeadLetter, s: Selection): boolean {
  if (s.reasons?.length && !s.reasons.includes(letter.info.reasonCode)) return false;
  if (s.customers?.length && !(letter.customerId && s.customers.includes(letter.customerId))) return false;
  if (s.offsets?.length && !s.offsets.some((o) => o.partition === letter.record.partition && o.offset === letter.record.offset)) return false;
  return true;
}

/** Where the message came from; empty when its headers do not say. */
const sourceOf = (l: DeadLetter) => (l.info.sourceTopic && l.info.sourceOffset && l.info.sourcePartition >= 0 ? `${l.info.sourceTopic}/${l.info.sourcePartition}/${l.info.sourceOffset}` : '');

/**
 * The dead letters to replay, each source message once. Dead-lettering is at-least-once (a
 * consumer that crashes after publishing a letter and before committing publishes it again), so
 * one message may have several letters; replaying one is enough, and the others are `repeats`.
 */
export function selectForReplay(letters: DeadLetter[], s: Selection): { selected: DeadLetter[]; repeats: DeadLetter[] } {
  const selected: DeadLetter[] = [];
  const repeats: DeadLetter[] = [];
  const seen = new Set<string>();
  for (const letter of letters) {
    if (!matches(letter, s)) continue;
    const source = sourceOf(letter);
    if (source && seen.has(source)) {
      repeats.push(letter);
      continue;
    }
    if (source) seen.add(source);
    selected.push(letter);
  }
  return { selected, repeats };
}

export interface ReplayMessage {
  key: Buffer | null;
  value: Buffer;
  headers: Record<string, Buffer>;
}

/**
 * The message to publish to the source topic again: the original key, value and headers, without
 * the dead-letter headers (a replayed message is not a dead letter; should it fail again, it gets
 * fresh ones). `original` is the message read at the source offset, for a letter whose value
 * was dropped.
 */
export function replayMessage(letter: DeadLetter, original?: { key: Buffer | null; value: Buffer | null; headers: Record<string, Buffer> }): ReplayMessage {
  const from = original ?? letter.record;
  const headers: Record<string, Buffer> = {};
  for (const [name, value] of Object.entries(from.headers)) if (!DLQ_HEADER_NAMES.has(name)) headers[name] = value;
  return { key: from.key, value: from.value ?? Buffer.alloc(0), headers };
}

/** Letters per reason code, most frequent first. */
export function countByReason(letters: DeadLetter[]): [string, number][] {
  const counts = new Map<string, number>();
  for (const l of letters) counts.set(l.info.reasonCode || '(none)', (counts.get(l.info.reasonCode || '(none)') ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

/** One line per letter for people: place, reason code, customer, batch, source, time, reason. */
export function describeLetter(l: DeadLetter): string {
  const parts = [
    `${l.record.partition}:${l.record.offset}`,
    l.info.reasonCode || '(no reason code)',
    `customer=${l.customerId ?? '-'}`,
    `batch=${l.info.batchId ?? '-'}`,
    `key=${l.record.key === null ? '(none)' : JSON.stringify(l.record.key.toString('utf8').slice(0, 120))}`,
    `from=${sourceOf(l) || '-'}`,
    `at=${l.info.failedAt || '-'}`,
  ];
  if (l.valueDropped) parts.push('value-dropped');
  return `${parts.join('  ')}\n      ${l.info.reason}`;
}

/** The letter as one JSON object (`list --json`), values as text where they are UTF-8. */
export function letterJson(l: DeadLetter): Record<string, unknown> {
  return {
    topic: l.record.topic,
    partition: l.record.partition,
    offset: l.record.offset,
    key: l.record.key?.toString('utf8') ?? null,
    ...l.info,
    customerId: l.customerId ?? null,
    valueDropped: l.valueDropped,
    value: l.record.value?.toString('utf8') ?? null,
  };
}
