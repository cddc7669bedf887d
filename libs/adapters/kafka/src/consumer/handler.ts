import { IHeaders } from 'kafkajs';

/** One consumed message, as handlers see it. */
export interface ConsumedMessage {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders;
}

/** A message the handler refuses for good, with a reason code (a closed set: it is a metric label). */
export interface Rejection {
  message: ConsumedMessage;
  code: string;
  reason: string;
  /** Whose batch it was, when the handler could tell (headers of the dead letter). */
  batchId?: string;
  customerId?: string;
}

/** What the runtime lends a handler for one unit of work. */
export interface UnitContext {
  /** True once the work must be left unacknowledged (shutdown, rebalance, lost membership). */
  shouldStop(): boolean;
  /** Keeps the group membership alive during long calls; never throws. */
  heartbeat(): Promise<void>;
  /**
   * Work the unit started that must be done before its offsets are committed, while later units
   * go ahead (a follow-up such as refreshing what is derived from the unit's writes). A crash
   * before it is done redelivers the unit. The promise must not reject: the follow-up retries
   * until it passes and makes later units fail meanwhile, so the partition is held (see
   * PartitionWorker). A rejection stops the partition's commits until its next assignment.
   */
  commitAfter(done: Promise<void>): void;
}

/**
 * Turns messages into durable effects. Resolves once they are durable, with the messages it
 * refused as invalid (dead-lettered by the runtime). Throws when it could not finish: the runtime
 * then holds the unit while the dependency fails, or isolates and dead-letters the message the
 * failure is proven to come from (consumerAction). Handlers throw their dependencies' errors as
 * the adapters typed them. Handlers must be idempotent: anything not committed is delivered again.
 */
export interface MessageHandler {
  handle(messages: ConsumedMessage[], ctx: UnitContext): Promise<Rejection[] | void>;
  /** The member joined the group with a (possibly new) assignment: state about partitions is void. */
  onAssignment?(): void;
}
