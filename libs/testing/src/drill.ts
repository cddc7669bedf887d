import { Kafka, logLevel } from 'kafkajs';
import { Pipeline } from './pipeline';
import { sleep, waitFor } from './process';
import { metricValue, scrape } from './metrics';
import { kafkaSasl } from './run-resources';

/** Something an operator would see happen to a dependency for a while, and its repair. */
export interface Fault {
  name: string;
  begin(): Promise<void>;
  end(): Promise<void>;
}

export interface DrillOptions {
  customerId: string;
  /** How long the fault lasts. */
  faultMs: number;
  /** Traffic before the fault and after its repair. */
  calmMs?: number;
  /** Pause between two batches of the sender. */
  intervalMs?: number;
  /** Checked once the fault has lasted `checkAfterMs` (readiness, metrics); its result is returned. */
  duringFault?: () => Promise<unknown>;
  checkAfterMs?: number;
  /** How long the pipeline may take to count everything once the fault is repaired. */
  settleMs?: number;
}

export interface DrillReport {
  /** Batches the sender got a final 202 or 409 for (it retries everything else until then). */
  accepted: number;
  /** Answers that asked it to come back later (503, 429, or no answer), all retried. */
  retried: number;
  /** Expected per-minute totals of the customer, from every accepted batch. */
  expected: Record<string, number>;
  /** What `duringFault` returned. */
  observed: unknown;
  /** Dead letters on both dead-letter topics at the end. */
  deadLetters: number;
}

/**
 * Traffic through the whole pipeline while a dependency fails: a gateway posts small batches
 * without pause (each retried with its idempotency key on 503 or no answer, as the contract
 * allows, until it gets 202 or 409), the fault begins, lasts, and is repaired with no other action,
 * the traffic goes on; then every batch ever accepted must come out counted exactly, with nothing
 * dead-lettered. Entries fall in three minutes per batch, so windows take many revisions.
 */
export async function runDrill(pipeline: Pipeline, fault: Fault, options: DrillOptions): Promise<DrillReport> {
  const { customerId, faultMs, calmMs = 5_000, intervalMs = 150, settleMs = 180_000 } = options;
  const expected: Record<string, number> = {};
  let accepted = 0;
  let retried = 0;
  let sending = true;
  const base = Date.parse('2025-11-03T10:00:00Z');

  const sender = (async () => {
    for (let n = 0; sending; n++) {
      const entries = Array.from({ length: 6 }, (_, i) => ({
        receivedAt: new Date(base + ((n * 7 + i * 23) % 180) * 1000).toISOString(),
        method: i % 2 ? 'GET' : 'POST',
        path: `/drill/${i % 3}`,
        userAgent: 'curl/8.5.0',
      }));
      const body = JSON.stringify(entries);
      for (;;) {
        let status = 0;
        let retryAfter = 1;
        try {
          const res = await fetch(`${pipeline.apps['batch-ingestion'].url}/logs`, {
            method: 'POST',
            headers: {
              authorization: `Bearer ${pipeline.env.GATEWAY_TOKEN}`,
              'content-type': 'application/json',
              'x-customer-id': customerId,
              'idempotency-key': `drill-${n}`,
            },
            body,
            signal: AbortSignal.timeout(15_000),
          });
          await res.text();
          status = res.status;
          retryAfter = Number(res.headers.get('retry-after') ?? 1);
        } catch {
          status = 0;
        }
        if (status === 202 || status === 409) break;
        if (status !== 0 && status !== 503 && status !== 429) throw new Error(`batch drill-${n} answered ${status}: the drill sends only valid batches`);
        retried++;
        await sleep(Math.min(retryAfter, 2) * 1000);
      }
      accepted++;
      for (const e of entries) {
        const minute = e.receivedAt.slice(0, 16) + 'Z';
        expected[minute] = (expected[minute] ?? 0) + 1;
      }
      await sleep(intervalMs);
    }
  })();

  let observed: unknown;
  try {
    await sleep(calmMs);
    await fault.begin();
    const began = Date.now();
    if (options.duringFault) {
      await sleep(options.checkAfterMs ?? faultMs / 2);
      observed = await options.duringFault();
    }
    await sleep(Math.max(0, faultMs - (Date.now() - began)));
    await fault.end();
    await sleep(calmMs);
  } finally {
    sending = false;
    await sender;
  }

  await waitFor(
    `every accepted batch of ${customerId} counted after ${fault.name}`,
    async () => {
      const rows = await pipeline.minutes(customerId);
      const got = Object.fromEntries(Object.entries(rows).map(([minute, row]) => [minute, row.total]));
      return JSON.stringify(sortKeys(got)) === JSON.stringify(sortKeys(expected));
    },
    settleMs,
    1_000,
  ).catch(async (err) => {
    const rows = await pipeline.minutes(customerId);
    const got = Object.fromEntries(Object.entries(rows).map(([minute, row]) => [minute, row.total]));
    throw new Error(`${(err as Error).message}; expected ${JSON.stringify(sortKeys(expected))}, counted ${JSON.stringify(sortKeys(got))}`);
  });

  return { accepted, retried, expected, observed, deadLetters: await deadLetters(pipeline) };
}

const sortKeys = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));

/** Messages on the run's two dead-letter topics (their end offsets: nothing is ever deleted from them). */
export async function deadLetters(pipeline: Pipeline): Promise<number> {
  const admin = new Kafka({ brokers: pipeline.env.KAFKA_BROKERS.split(','), sasl: kafkaSasl(pipeline.env), clientId: 'drill', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    let total = 0;
    for (const topic of [pipeline.env.TOPIC_BATCH_INGESTED_DLQ, pipeline.env.TOPIC_INSIGHT_EVENTS_DLQ]) {
      for (const p of await admin.fetchTopicOffsets(topic)) total += Number(p.high);
    }
    return total;
  } finally {
    await admin.disconnect();
  }
}

/** What a consumer shows an operator while a dependency fails: readiness and its reason, held partitions by kind. */
export async function consumerState(url: string): Promise<{ ready: number; reason: string; held: Record<string, number>; deadLettered: number }> {
  const res = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(5_000) });
  const reason = await res.text();
  const metrics = await scrape(url);
  const held: Record<string, number> = {};
  for (const kind of ['unavailable', 'refusing', 'unknown']) held[kind] = metricValue(metrics, 'consumer_held_partitions', { kind });
  return { ready: res.status, reason, held, deadLettered: metricValue(metrics, 'consumer_dead_letters_total') };
}
