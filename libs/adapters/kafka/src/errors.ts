import { DependencyError, errorMessage } from '@pipeline/platform';

/**
 * Broker answers about the message itself: the same message is refused the same way every time,
 * so waiting cannot help. Everything else (connection loss, leader elections, timeouts, even
 * authorization, which fails every message alike) is an outage to wait out.
 */
const REFUSED_INPUT = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD', 'CORRUPT_MESSAGE', 'INVALID_TIMESTAMP']);

/** A Kafka call failed; `retryable` says whether waiting can help (see DependencyError). */
export class EventBusError extends DependencyError {
  constructor(retryable: boolean, code: string, message: string, cause?: unknown) {
    super('kafka', retryable, code, message, cause);
    this.name = 'EventBusError';
  }
}

interface KafkaJsLike {
  name?: string;
  type?: string;
  cause?: unknown;
  originalError?: unknown;
}

/** kafkajs wraps the broker's answer (retries exceeded, a failed batch): walk to the innermost cause. */
function* causes(err: unknown): Generator<KafkaJsLike> {
  const seen = new Set<unknown>();
  let current: unknown = err;
  while (current && typeof current === 'object' && !seen.has(current)) {
    seen.add(current);
    yield current as KafkaJsLike;
    const e = current as KafkaJsLike;
    current = e.cause ?? e.originalError;
  }
}

/** The one place where a kafkajs failure becomes a retry decision. */
export function toEventBusError(err: unknown, what: string): EventBusError {
  if (err instanceof EventBusError) return err;
  let code: string | undefined;
  for (const e of causes(err)) {
    if (e.type && REFUSED_INPUT.has(e.type)) return new EventBusError(false, e.type, `${what}: Kafka refused the message: ${errorMessage(e)}`, err);
    code ??= e.type;
  }
  return new EventBusError(true, code ?? 'unavailable', `${what}: ${errorMessage(err)}`, err);
}

/** kafkajs errors after which this member must rejoin the group: its work on the partition is void. */
const REJOIN = new Set(['REBALANCE_IN_PROGRESS', 'NOT_COORDINATOR_FOR_GROUP', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'FENCED_INSTANCE_ID']);

export function mustRejoin(err: unknown): boolean {
  for (const e of causes(err)) if ((e.type && REJOIN.has(e.type)) || e.name === 'KafkaJSRebalanceInProgress') return true;
  return false;
}
