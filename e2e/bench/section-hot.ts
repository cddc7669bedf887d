import { ClickHouseGateway, sqlString } from '@pipeline/clickhouse';
import { insightEventMessage, Partial } from '@pipeline/contract';
import { createKafka } from '@pipeline/kafka';
import { connectProducer } from '@pipeline/testing';
import type { Producer } from 'kafkajs';
// The benchmark times the aggregator's own state load (its query and its parsing), not a copy.
// eslint-disable-next-line @nx/enforce-module-boundaries
import { ClickHouseWindowStore } from '../../apps/window-aggregator/src/window-store';
import { scrapeMetrics, sumMetric } from '../support/metrics';
import { Progress } from '../support/progress';
import { BenchContext, sleep, waitQuiet } from './context';
import { HotRevision, HotSection } from './results';
import { cpuBetween, meanOfSlice } from './stats';

interface Produced {
  ms: number;
  partition: number;
  before: AggregatorCounters;
  after: AggregatorCounters;
}

interface AggregatorCounters {
  merged: number;
  duplicates: number;
  writeSeconds: number;
  writes: number;
  windowsLoaded: number;
}

async function counters(url: string): Promise<AggregatorCounters> {
  const text = await scrapeMetrics(url);
  return {
    merged: sumMetric(text, /^aggregator_partials_merged_total$/),
    duplicates: sumMetric(text, /^aggregator_partials_duplicate_total$/),
    writeSeconds: sumMetric(text, /^aggregator_write_duration_seconds_sum$/),
    writes: sumMetric(text, /^aggregator_write_duration_seconds_count$/),
    windowsLoaded: sumMetric(text, /^aggregator_windows_loaded_total$/),
  };
}

/** A revision row as the aggregator inserts it (JSONEachRow), rebuilt from what ClickHouse returns. */
export function insertedRowBytes(row: Record<string, unknown>): number {
  const num = (v: unknown) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v);
  const nums = (v: unknown) => (Array.isArray(v) ? v.map(num) : v);
  const inserted = {
    customer_id: row.customer_id,
    window_start: row.window_start,
    revision: num(row.revision),
    total_requests: num(row.total_requests),
    path_keys: row.path_keys,
    path_counts: nums(row.path_counts),
    ua_keys: row.ua_keys,
    ua_counts: nums(row.ua_counts),
    batch_ids: row.batch_ids,
    written_at: row.written_at,
  };
  return Buffer.byteLength(JSON.stringify(inserted)) + 1;
}

/** What the last row would take if every revision row carried every id merged so far (the former schema). */
export function rowWithAllIdsBytes(rows: ReadonlyArray<Record<string, unknown>>): number {
  const all = rows.flatMap((r) => (Array.isArray(r.batch_ids) ? (r.batch_ids as string[]) : []));
  return insertedRowBytes({ ...rows[rows.length - 1], batch_ids: all });
}

/**
 * At most `n` points: consecutive revisions averaged in equal groups (CPU is read in 10 ms clock
 * ticks, so one revision's figure is coarse), each point at the last revision of its group.
 */
export function bucketMeans(revisions: readonly HotRevision[], n: number): HotRevision[] {
  if (revisions.length <= n) return [...revisions];
  const out: HotRevision[] = [];
  const mean = (group: HotRevision[], pick: (r: HotRevision) => number | null) => {
    const v = group.map(pick).filter((x): x is number => x !== null && Number.isFinite(x));
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
  };
  for (let i = 0; i < n; i++) {
    const group = revisions.slice(Math.floor((i * revisions.length) / n), Math.floor(((i + 1) * revisions.length) / n));
    const last = group[group.length - 1];
    out.push({
      merged: last.merged,
      revision: last.revision,
      ids: mean(group, (r) => r.ids)!,
      bytes: mean(group, (r) => r.bytes)!,
      writeMs: mean(group, (r) => r.writeMs),
      endToEndMs: mean(group, (r) => r.endToEndMs) ?? NaN,
      aggregatorCpuMs: mean(group, (r) => r.aggregatorCpuMs),
      clickhouseCpuMs: mean(group, (r) => r.clickhouseCpuMs),
    });
  }
  return out;
}

/**
 * One window fed by `total` partials, `perRevision` at a time, through the running aggregator:
 * each group is produced to insight-events in one request (one fetched batch, one revision), and
 * the next goes once the aggregator counted it merged. Per revision: the bytes of its row, the
 * aggregator's insert time, production-to-merged time and CPU; then the window's state load, from a
 * fresh ClickHouseWindowStore and in the aggregator after a restart.
 */
export async function hotSection(ctx: BenchContext, total: number, perRevision: number): Promise<Omit<HotSection, 'meta'>> {
  const wire = ctx.stack.wire;
  if (!wire) throw new Error('the hot window section needs the stack\'s Kafka (E2E_KAFKA_BROKERS for an external stack)');
  const progress = new Progress('bench hot');
  const customer = `bench-hot-${ctx.tag}${ctx.stack.customerSuffix}`;
  const window = '2024-06-01T12:00Z';
  const aggregatorUrl = () => ctx.stack.opsUrl('window-aggregator');
  const kafka = createKafka({ brokers: wire.kafkaBrokers, sasl: wire.kafkaSasl, clientId: 'bench-hot', requestTimeoutMs: 10_000 });
  const producer: Producer = await connectProducer(kafka);
  const partial = (batchId: string, windowStart = window): Partial => ({
    v: 1,
    batchId,
    customerId: customer,
    windowStart,
    windowSize: 'minute',
    total: 5,
    requestsByPath: { 'GET /': 2, 'GET /about': 3 },
    requestsByUserAgent: { Chrome: 4, curl: 1 },
  });
  /**
   * Produces, then waits until the aggregator committed past the partials (it commits only after
   * their revision is written) and counted them: ms from producing until the commit was seen. The
   * commit is watched through Kafka, so the waiting adds no work to the aggregator or ClickHouse,
   * whose CPU per revision is measured.
   */
  const lag = ctx.lag;
  if (!lag) throw new Error('the hot window section needs the consumer groups of the stack');
  const produceAndWait = async (partials: Partial[], partition?: number): Promise<Produced> => {
    const before = await counters(aggregatorUrl());
    const t0 = performance.now();
    const [meta] = await producer.send({ topic: wire.topics.insightEvents, messages: partials.map((p) => ({ ...insightEventMessage(p), ...(partition === undefined ? {} : { partition }) })) });
    const end = Number(meta.baseOffset ?? meta.offset) + partials.length;
    if (!Number.isSafeInteger(end)) throw new Error('the produce answer carries no offset');
    const deadline = Date.now() + 60_000;
    let ms: number | undefined;
    for (;;) {
      if (ms === undefined && (await lag.aggregatorCommitted(meta.partition).catch(() => -1)) >= end) ms = performance.now() - t0;
      if (ms !== undefined) {
        const after = await counters(aggregatorUrl()).catch(() => undefined);
        if (after && after.merged + after.duplicates - before.merged - before.duplicates >= partials.length) return { ms, partition: meta.partition, before, after };
      }
      if (Date.now() > deadline) throw new Error(`the aggregator did not merge ${partials.length} partials within 60 s`);
      await sleep(10);
    }
  };

  const rounds = Math.ceil(total / perRevision);
  const timings: Array<Omit<HotRevision, 'revision' | 'ids' | 'bytes'> & { writes: number }> = [];
  let partition = 0;
  let merged = 0;
  try {
    await waitQuiet(ctx);
    progress.line(`${rounds} revisions of ${perRevision} partials into ${customer} ${window}`);
    progress.every(() => `${timings.length}/${rounds} revisions, ${merged} partials merged; last: ${timings[timings.length - 1]?.endToEndMs.toFixed(0) ?? '-'} ms from producing to merged`);
    for (let r = 0; r < rounds; r++) {
      const n = Math.min(perRevision, total - merged);
      const partials = Array.from({ length: n }, (_, i) => partial(`hot-${ctx.tag}-${String(merged + i).padStart(6, '0')}`));
      const a = ctx.meter.read();
      const done = await produceAndWait(partials);
      const b = ctx.meter.read();
      partition = done.partition;
      merged += n;
      const use = cpuBetween(a, b);
      const writes = done.after.writes - done.before.writes;
      timings.push({
        merged,
        writeMs: writes > 0 ? ((done.after.writeSeconds - done.before.writeSeconds) * 1000) / writes : null,
        endToEndMs: done.ms,
        aggregatorCpuMs: use.seconds['window-aggregator'] === null || use.seconds['window-aggregator'] === undefined ? null : use.seconds['window-aggregator']! * 1000,
        clickhouseCpuMs: use.seconds.clickhouse === null || use.seconds.clickhouse === undefined ? null : use.seconds.clickhouse! * 1000,
        writes,
      });
    }
    progress.stop();

    // The rows as stored: the bytes each revision wrote, and the ids it carries.
    const clickhouse = ClickHouseGateway.fromSettings({ ...ctx.stack.clickhouse, requestTimeoutMs: 120_000 });
    let rows: Array<Record<string, unknown>> = [];
    const freshLoadMs: number[] = [];
    let loadedIds: number | null = null;
    try {
      rows = await clickhouse.query<Record<string, unknown>>(`SELECT * FROM ${clickhouse.database}.window_revisions WHERE customer_id = ${sqlString(customer)} ORDER BY revision`);
      for (let i = 0; i < 5; i++) {
        const store = new ClickHouseWindowStore(clickhouse);
        const t0 = performance.now();
        const states = await store.load([{ customerId: customer, windowStart: window }]);
        freshLoadMs.push(performance.now() - t0);
        loadedIds = states.get(`${customer}|${window}`)?.mergedIds.size ?? null;
      }
    } finally {
      await clickhouse.close();
    }
    progress.line(`${rows.length} revision rows; a fresh ClickHouseWindowStore.load of the window (${loadedIds} ids): ${freshLoadMs.map((ms) => ms.toFixed(0)).join(', ')} ms`);

    // One round, one fetched batch, one revision: pair them when that held for every round.
    const oneEach = rows.length === timings.length && timings.every((t) => t.writes === 1);
    let cumulative = 0;
    const revisions: HotRevision[] = rows.map((row, i) => {
      const ids = Array.isArray(row.batch_ids) ? row.batch_ids.length : 0;
      cumulative += ids;
      const t = oneEach ? timings[i] : undefined;
      return {
        merged: cumulative,
        revision: Number(row.revision),
        ids,
        bytes: insertedRowBytes(row),
        writeMs: t?.writeMs ?? null,
        endToEndMs: t?.endToEndMs ?? NaN,
        aggregatorCpuMs: t?.aggregatorCpuMs ?? null,
        clickhouseCpuMs: t?.clickhouseCpuMs ?? null,
      };
    });
    if (!oneEach) progress.line(`${timings.length} rounds gave ${rows.length} revisions: timings are reported per round, not per revision`);
    const phase = (from: number, to: number) => {
      const pick = (values: Array<number | null>) => meanOfSlice(values.filter((v): v is number => v !== null), from, to);
      return {
        bytes: meanOfSlice(revisions.map((r) => r.bytes), from, to),
        ids: meanOfSlice(revisions.map((r) => r.ids), from, to),
        writeMs: pick(timings.map((t) => t.writeMs)),
        endToEndMs: meanOfSlice(timings.map((t) => t.endToEndMs), from, to),
        aggregatorCpuMs: pick(timings.map((t) => t.aggregatorCpuMs)),
      };
    };

    const restart = ctx.stack.control ? await restartAndLoad(ctx, progress, produceAndWait, partial, partition) : null;
    return {
      customer,
      window,
      partialsPerRevision: perRevision,
      partialsMerged: merged,
      revisionsWritten: rows.length,
      revisions: bucketMeans(revisions, 100),
      phases: [
        { phase: 'first', ...phase(0, 0.1) },
        { phase: 'middle', ...phase(0.45, 0.55) },
        { phase: 'last', ...phase(0.9, 1) },
      ],
      totalRowBytes: revisions.reduce((a, r) => a + r.bytes, 0),
      rowWithAllIdsBytes: rows.length ? rowWithAllIdsBytes(rows) : null,
      freshLoadMs,
      loadedIds,
      restart,
    };
  } finally {
    progress.stop();
    await producer.disconnect().catch(() => undefined);
  }
}

/**
 * The state load as the aggregator does it after a restart: stop it (SIGTERM) and start it
 * again; a partial of a new window on the hot window's partition shows the group joined and
 * gives the time of a partial whose state is empty; a partial of the hot window then makes the
 * aggregator load its state (every id of every revision) from ClickHouse.
 */
async function restartAndLoad(
  ctx: BenchContext,
  progress: Progress,
  produceAndWait: (partials: Partial[], partition?: number) => Promise<Produced>,
  partial: (batchId: string, windowStart?: string) => Partial,
  partition: number,
): Promise<HotSection['restart']> {
  const control = ctx.stack.control!;
  await control.kill('window-aggregator', 'SIGTERM');
  await control.restart('window-aggregator');
  // Earlier minutes than the hot window, so the hot window's partial is not late for the watermark.
  const first = await produceAndWait([partial(`cold-${ctx.tag}-1`, '2024-06-01T11:00Z')], partition);
  const cold = await produceAndWait([partial(`cold-${ctx.tag}-2`, '2024-06-01T11:01Z')], partition);
  const hot = await produceAndWait([partial(`hot-${ctx.tag}-after-restart`)], partition);
  const windowsLoaded = hot.after.windowsLoaded - hot.before.windowsLoaded;
  progress.line(`after a restart: first partial ${first.ms.toFixed(0)} ms (joining the group), a new window ${cold.ms.toFixed(0)} ms, the hot window ${hot.ms.toFixed(0)} ms (${windowsLoaded} window state loaded)`);
  return { firstAfterRestartMs: first.ms, coldWindowMs: cold.ms, hotWindowMs: hot.ms, windowsLoaded };
}
