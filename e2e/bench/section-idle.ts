import { apiEntryStream, JSON_CONTENT_TYPE, jsonBody, Send } from '../scenarios';
import { IngestClient } from '../support/http';
import { formatCounts, Progress } from '../support/progress';
import { BenchContext, cpuFigures, sleep, waitQuiet } from './context';
import { IdleSection, IdleSeries } from './results';
import { perUnitMs, summarize } from './stats';

/**
 * Single POSTs on an otherwise idle stack: `posts` 20-entry batches with new keys, one at a
 * time with `gapMs` between them, then the same batches again (each answered 409). The latency
 * of each, and the CPU the six processes spent per request (the consumers' work for it included:
 * the series ends when both consumers have caught up).
 */
export async function idleSection(ctx: BenchContext, posts: number, gapMs: number): Promise<Omit<IdleSection, 'meta'>> {
  const progress = new Progress('bench idle');
  const customer = `bench-idle${ctx.stack.customerSuffix}`;
  const next = apiEntryStream(7101, '2025-06-01T10:00', 10);
  const sends: Send[] = Array.from({ length: posts }, (_, i) => {
    const entries = Array.from({ length: 20 }, next);
    return { customerId: customer, idempotencyKey: `idle-${ctx.tag}-${i}`, body: jsonBody(entries), contentType: JSON_CONTENT_TYPE, entries, expect: { kind: 'accepted' } };
  });
  const client = new IngestClient(1);
  // Warms the connection and the services' code paths; not measured.
  for (let i = 0; i < 20; i++) {
    const entries = Array.from({ length: 20 }, next);
    await client.post(ctx.stack.url('batch-ingestion'), { customerId: customer, idempotencyKey: `idle-warm-${ctx.tag}-${i}`, body: jsonBody(entries), contentType: JSON_CONTENT_TYPE, entries, expect: { kind: 'accepted' } });
  }

  const series = async (label: string): Promise<IdleSeries> => {
    await waitQuiet(ctx);
    const latencies: number[] = [];
    const statuses: Record<string, number> = {};
    const before = ctx.meter.read();
    for (const send of sends) {
      try {
        const answer = await client.post(ctx.stack.url('batch-ingestion'), send);
        statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
        latencies.push(answer.ms);
      } catch {
        statuses.network = (statuses.network ?? 0) + 1;
      }
      if (gapMs > 0) await sleep(gapMs);
    }
    // The CPU of a request includes what the consumers do for it: read once they caught up.
    await waitForConsumers(ctx, 30_000);
    const cpu = cpuFigures(before, ctx.meter.read(), ctx.idleCores);
    const latencyMs = summarize(latencies);
    const cpuPerRequestMs = perUnitMs(cpu.cpuTotalSeconds, posts);
    progress.line(`${label}: p50 ${latencyMs.p50?.toFixed(2)} ms, p90 ${latencyMs.p90?.toFixed(2)} ms, p99 ${latencyMs.p99?.toFixed(2)} ms | answers ${formatCounts(statuses)} | ${cpuPerRequestMs?.toFixed(2) ?? '-'} ms CPU per request`);
    return { latencyMs, statuses, cpuPerRequestMs, ...cpu };
  };
  try {
    const newBatch = await series(`${posts} new batches`);
    const duplicate = await series(`${posts} duplicates`);
    return { posts, gapMs, newBatch, duplicate };
  } finally {
    client.close();
  }
}

/** Until both consumers have committed everything (bounded); without lag figures, a short pause. */
async function waitForConsumers(ctx: BenchContext, maxMs: number): Promise<void> {
  if (!ctx.lag) return sleep(2_000);
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline) {
    const lag = await ctx.lag.read();
    if (lag.summarizer === 0 && lag.aggregator === 0) return;
    // Every lag reading is Kafka work too: a few a second.
    await sleep(200);
  }
}
