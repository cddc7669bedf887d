/**
 * Dead letters keep the original key and value; why and where from travel in these headers, so
 * they can be listed by reason and replayed to their source topic after a fix.
 */
export const DEAD_LETTER_HEADERS = {
  /** A closed set per consumer (usable as a metric label), e.g. `event_invalid`, `clickhouse_rejected`. */
  reasonCode: 'dlq-reason-code',
  /** Human-readable detail, at most 1000 characters. */
  reason: 'dlq-reason',
  sourceTopic: 'dlq-source-topic',
  sourcePartition: 'dlq-source-partition',
  sourceOffset: 'dlq-source-offset',
  /** The consumer group that gave up on the message. */
  group: 'dlq-group',
  /** ISO-8601 time it was dead-lettered. */
  failedAt: 'dlq-failed-at',
  /** `true` when the dead-letter topic refused the value itself: read it at the source offset. */
  valueDropped: 'dlq-value-dropped',
  /** When the consumer could tell them: whose batch it was. */
  batchId: 'dlq-batch-id',
  customerId: 'dlq-customer-id',
} as const;

export interface DeadLetterInfo {
  batchId?: string;
  customerId?: string;
  reasonCode: string;
  reason: string;
  sourceTopic: string;
  sourcePartition: number;
  sourceOffset: string;
  group: string;
  failedAt: string;
}

export function deadLetterHeaders(info: DeadLetterInfo): Record<string, string> {
  const h = DEAD_LETTER_HEADERS;
  return {
    ...(info.batchId ? { [h.batchId]: info.batchId } : {}),
    ...(info.customerId ? { [h.customerId]: info.customerId } : {}),
    [h.reasonCode]: info.reasonCode,
    [h.reason]: info.reason.slice(0, 1000),
    [h.sourceTopic]: info.sourceTopic,
    [h.sourcePartition]: String(info.sourcePartition),
    [h.sourceOffset]: info.sourceOffset,
    [h.group]: info.group,
    [h.failedAt]: info.failedAt,
  };
}

/** Reads the headers back (dead-letter listing and replay); absent headers come back empty. */
export function readDeadLetterHeaders(headers: Record<string, string | undefined>): DeadLetterInfo {
  const h = DEAD_LETTER_HEADERS;
  return {
    batchId: headers[h.batchId],
    customerId: headers[h.customerId],
    reasonCode: headers[h.reasonCode] ?? '',
    reason: headers[h.reason] ?? '',
    sourceTopic: headers[h.sourceTopic] ?? '',
    sourcePartition: Number(headers[h.sourcePartition] ?? -1),
    sourceOffset: headers[h.sourceOffset] ?? '',
    group: headers[h.group] ?? '',
    failedAt: headers[h.failedAt] ?? '',
  };
}
