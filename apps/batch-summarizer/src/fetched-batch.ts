import type { EachBatchPayload } from 'kafkajs';
import type { Logger } from '@pipeline/platform';
import { InboundMessage, ProcessControl, StoppedError } from './batch-processor';
import { WeightedLimiter, runOrdered } from './ordered-pool';

/** Errors after which this member must rejoin the group: its work on the partition is void. */
const REJOIN_ERRORS = new Set(['REBALANCE_IN_PROGRESS', 'NOT_COORDINATOR_FOR_GROUP', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'FENCED_INSTANCE_ID']);
export const mustRejoin = (err: unknown) => REJOIN_ERRORS.has((err as { type?: string })?.type ?? '') || (err as Error)?.name === 'KafkaJSRebalanceInProgress';

/**
 * The entry count an event announces, as its share of the in-flight budget; 1 when it has none
 * (a poison event costs next to nothing). Validating the event is the processor's job.
 */
export function announcedEntries(value: Buffer | null): number {
  if (!value || value.length === 0 || value.length > 64 * 1024) return 1;
  try {
    const entries = (JSON.parse(value.toString('utf8')) as { entries?: unknown })?.entries;
    return typeof entries === 'number' && Number.isSafeInteger(entries) && entries > 0 ? entries : 1;
  } catch {
    return 1;
  }
}

/** The part of kafkajs's eachBatch payload this uses (a plain object in unit tests). */
export type FetchedBatchPayload = Pick<EachBatchPayload, 'resolveOffset' | 'heartbeat' | 'commitOffsetsIfNecessary' | 'isRunning' | 'isStale'> & {
  batch: { topic: string; partition: number; messages: { offset: string; key: Buffer | null; value: Buffer | null }[] };
};

/** Turns one record into acknowledged side effects (BatchProcessor); rejects with StoppedError when told to stop. */
export interface EventHandler {
  process(msg: InboundMessage, ctl: ProcessControl): Promise<unknown>;
}

export interface FetchedBatchDeps {
  handler: EventHandler;
  /** Records of this batch worked on at the same time. */
  eventConcurrency: number;
  /** The instance-wide budget of entries in flight, shared by all partitions. */
  limiter: WeightedLimiter;
  /** True once the service is shutting down. */
  isStopping(): boolean;
  inFlight?: { inc(): void; dec(): void };
  logger: Logger;
}

/**
 * Works on the records of one fetched batch of one partition, up to `eventConcurrency` at a time,
 * and resolves an offset only once its record and every earlier one are done, so a commit never
 * skips a record that is unfinished (slow, retrying through an outage, or abandoned on stop):
 * at-least-once holds whatever order the records finish in. On shutdown or rebalance nothing new
 * starts, the records in flight finish (or give up, unresolved), and the done prefix is resolved
 * and committed before this returns. A record that fails beyond retrying stops the others and
 * the error is rethrown once none is in flight, so kafkajs restarts the consumer from the last
 * resolved offset.
 */
export async function processFetchedBatch(payload: FetchedBatchPayload, deps: FetchedBatchDeps): Promise<void> {
  const { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale } = payload;
  let rejoin = false;
  let aborted = false;
  const ctl: ProcessControl = {
    shouldStop: () => aborted || rejoin || deps.isStopping() || !isRunning() || isStale(),
    heartbeat: async () => {
      try {
        await heartbeat();
      } catch (err) {
        if (mustRejoin(err)) rejoin = true;
      }
    },
  };

  // Heartbeat and commit after progress, one at a time, without holding up the records.
  let upkeep: Promise<void> | undefined;
  let again = false;
  const keepUp = () => {
    if (upkeep) {
      again = true;
      return;
    }
    upkeep = (async () => {
      do {
        again = false;
        await ctl.heartbeat();
        try {
          await commitOffsetsIfNecessary();
        } catch (err) {
          // Not fatal: the resolved offset is committed with the next commit; until then a
          // restart redelivers it, which is harmless.
          if (mustRejoin(err)) rejoin = true;
          deps.logger.warn({ err: (err as Error)?.message, partition: batch.partition }, 'offset commit failed; will retry');
        }
      } while (again && !rejoin);
    })().finally(() => {
      upkeep = undefined;
    });
  };

  const { messages } = batch;
  const result = await runOrdered(messages, {
    concurrency: deps.eventConcurrency,
    shouldStop: ctl.shouldStop,
    limiter: deps.limiter,
    weightOf: (message) => announcedEntries(message.value),
    isStop: (err) => err instanceof StoppedError,
    process: async (message) => {
      deps.inFlight?.inc();
      try {
        await deps.handler.process({ topic: batch.topic, partition: batch.partition, offset: message.offset, key: message.key, value: message.value }, ctl);
      } catch (err) {
        // Beyond retrying: the others stop retrying too, and nothing new starts.
        if (!(err instanceof StoppedError)) aborted = true;
        throw err;
      } finally {
        deps.inFlight?.dec();
      }
    },
    onDonePrefix: (index) => {
      resolveOffset(messages[index].offset);
      keepUp();
    },
  });
  await upkeep;
  if ('error' in result) throw result.error;
}
