import { classifyKafka, DependencyError, errorMessage, FailureKind, isDependencyError } from '@pipeline/platform';

/** A Kafka call failed; `kind` says where the fault lies (see FailureKind). */
export class EventBusError extends DependencyError {
  constructor(kind: FailureKind, code: string, message: string, cause?: unknown) {
    super('kafka', kind, code, message, cause);
    this.name = 'EventBusError';
  }
}

interface KafkaJsLike {
  name?: string;
  type?: string;
  retriable?: boolean;
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

/**
 * Types a kafkajs failure by the broker's answer (classifyKafka), looking through the wrappers
 * (retries exceeded, a failed batch) for the innermost typed cause: a refusal of the message
 * itself wins over the outer wrapper's state.
 */
export function toEventBusError(err: unknown, what: string): EventBusError {
  if (err instanceof EventBusError) return err;
  // A deadline of ours (withDeadline) is already typed.
  if (isDependencyError(err)) return new EventBusError(err.kind, err.code, `${what}: ${err.message}`, err.cause);
  let first: KafkaJsLike | undefined;
  for (const e of causes(err)) {
    if (!e.type) continue;
    const { kind } = classifyKafka(e.type, e.retriable);
    if (kind === 'input') return new EventBusError(kind, e.type, `${what}: Kafka refused the message: ${errorMessage(e)}`, err);
    first ??= e;
  }
  const { kind, name } = classifyKafka(first?.type, first?.retriable);
  return new EventBusError(kind, name, `${what}: ${errorMessage(err)}`, err);
}

/** kafkajs errors after which this member must rejoin the group: its work on the partition is void. */
const REJOIN = new Set(['REBALANCE_IN_PROGRESS', 'NOT_COORDINATOR_FOR_GROUP', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'FENCED_INSTANCE_ID']);

export function mustRejoin(err: unknown): boolean {
  for (const e of causes(err)) if ((e.type && REJOIN.has(e.type)) || e.name === 'KafkaJSRebalanceInProgress') return true;
  return false;
}
