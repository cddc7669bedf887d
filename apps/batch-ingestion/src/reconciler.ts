import { BatchEventPublisher, buildBatchIngestedEvent } from '@pipeline/batch';
import { batchIngestedMessage, isBatchId, isCustomerId, RAW_METADATA, RAW_PREFIX, SUMMARY_PREFIX, summaryKeyOfRaw } from '@pipeline/contract';
import { errorMessage, LATENCY_BUCKETS, Logger, Source } from '@pipeline/platform';
import { ListedObject, ObjectStore } from '@pipeline/s3';
import { LRUCache } from 'lru-cache';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface ReconcilerOptions {
  store: Pick<ObjectStore, 'list' | 'head'>;
  publisher: BatchEventPublisher;
  topic: string;
  logger: Logger;
  registry: Registry;
  /** Raw batches younger than this are left alone: their announcement may still be under way. */
  minAgeMs: number;
  intervalMs: number;
  pagesPerScan: number;
  reannounceAfterMs: number;
  /** Keys per listing request (S3's maximum is 1,000). */
  pageSize?: number;
  now?: () => number;
}

export interface ScanResult {
  scanned: number;
  orphans: number;
  announced: number;
  /** True when the scan reached the end of the raw batches (the next one starts over). */
  wrapped: boolean;
}

/** `raw/{customerId}/{batchId}.json` -> its ids, or null for a key the ingestion never writes. */
function idsOf(rawKey: string): { customerId: string; batchId: string } | null {
  const m = /^raw\/([^/]+)\/([^/]+)\.json$/.exec(rawKey);
  return m && isCustomerId(m[1]) && isBatchId(m[2]) ? { customerId: m[1], batchId: m[2] } : null;
}

/**
 * Finds raw batches that were stored but never summarized, and announces them again. A batch is
 * stored before it is announced; if the announcement fails and the client gives up (or retries
 * with other bytes and gets 422), or the process dies between the two, nothing would ever
 * summarize it. Every hop being idempotent, announcing a batch twice is harmless, so the rule is
 * simple: a raw batch older than `minAgeMs` without a summary is announced again.
 *
 * It walks the raw batches in key order, a few pages per scan, and matches them with the summaries
 * of the same key range (both listings are sorted the same way, so no per-object request is
 * needed), continuing where the previous scan stopped and starting over at the end.
 */
export class Reconciler implements Source {
  readonly name = 'reconciler';
  private cursor?: string;
  private timer?: NodeJS.Timeout;
  private scanning?: Promise<unknown>;
  private stopped = false;
  /** Orphans announced, by key, with when: the same one is not announced again before reannounceAfterMs. */
  private readonly announced = new LRUCache<string, number>({ max: 100_000 });
  private readonly now: () => number;
  private readonly page: number;
  private readonly metrics: { scans: Counter; scanned: Counter; orphans: Counter; announced: Counter; duration: Histogram; lastScan: Gauge };

  constructor(private readonly o: ReconcilerOptions) {
    this.now = o.now ?? Date.now;
    this.page = o.pageSize ?? 1000;
    const registers = [o.registry];
    this.metrics = {
      scans: new Counter({ name: 'reconciler_scans_total', help: 'Scans of stored raw batches for ones never summarized', registers }),
      scanned: new Counter({ name: 'reconciler_batches_scanned_total', help: 'Stored raw batches looked at', registers }),
      orphans: new Counter({ name: 'reconciler_orphans_found_total', help: 'Stored raw batches older than the minimum age without a summary', registers }),
      announced: new Counter({ name: 'reconciler_orphans_announced_total', help: 'Orphans announced again on batch-ingested', registers }),
      duration: new Histogram({ name: 'reconciler_scan_duration_seconds', help: 'Duration of one scan', buckets: LATENCY_BUCKETS, registers }),
      lastScan: new Gauge({ name: 'reconciler_last_scan_timestamp_seconds', help: 'When the last scan finished (Unix time)', registers }),
    };
  }

  start(): void {
    this.schedule(Math.min(this.o.intervalMs, 5_000));
  }

  async drain(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.scanning?.catch(() => undefined);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.scanning = this.scan()
        .catch((err) => this.o.logger.warn({ err: errorMessage(err) }, 'reconciler scan failed; the next one continues from the same place'))
        .finally(() => this.schedule(this.o.intervalMs));
    }, delayMs);
    this.timer.unref();
  }

  /** One scan: at most `pagesPerScan` pages of raw batches from where the last scan stopped. */
  async scan(): Promise<ScanResult> {
    const started = performance.now();
    const result: ScanResult = { scanned: 0, orphans: 0, announced: 0, wrapped: false };
    for (let page = 0; page < this.o.pagesPerScan && !this.stopped; page++) {
      const raw = await this.o.store.list(RAW_PREFIX, { startAfter: this.cursor, maxKeys: this.page });
      if (raw.objects.length > 0) await this.reconcile(raw.objects, result);
      if (!raw.truncated || raw.objects.length === 0) {
        this.cursor = undefined;
        result.wrapped = true;
        break;
      }
      this.cursor = raw.objects[raw.objects.length - 1].key;
    }
    this.metrics.scans.inc();
    this.metrics.duration.observe((performance.now() - started) / 1000);
    this.metrics.lastScan.set(this.now() / 1000);
    if (result.orphans > 0) this.o.logger.warn(result, 'reconciler found stored batches that were never summarized');
    return result;
  }

  private async reconcile(page: ListedObject[], result: ScanResult): Promise<void> {
    result.scanned += page.length;
    this.metrics.scanned.inc(page.length);
    const now = this.now();
    const old = (o: ListedObject) => now - o.lastModified.getTime() >= this.o.minAgeMs;
    const first = page.findIndex(old);
    // Listing summaries costs the store as much as listing the raw batches; a page of batches all
    // too young to judge (a young bucket, a burst) needs none, and only the span of the old ones does.
    if (first < 0) return;
    const last = page.findLastIndex(old);
    const after = first > 0 ? page[first - 1].key : this.cursor;
    const summaries = await this.summariesBetween(summaryKeyOfRaw(after ?? '') ?? SUMMARY_PREFIX, summaryKeyOfRaw(page[last].key)!, last - first + 1);
    for (const object of page.slice(first, last + 1)) {
      if (!old(object)) continue;
      if (summaries.has(summaryKeyOfRaw(object.key)!)) continue;
      const ids = idsOf(object.key);
      if (!ids) continue;
      result.orphans++;
      this.metrics.orphans.inc();
      const previous = this.announced.get(object.key);
      if (previous !== undefined && now - previous < this.o.reannounceAfterMs) continue;
      if (await this.announce(object.key, ids)) {
        result.announced++;
        this.metrics.announced.inc();
        this.announced.set(object.key, now);
      }
    }
  }

  /** Summary keys in (after, upTo], where about `expected` are (one per raw batch of the span, one more shows the end). */
  private async summariesBetween(after: string, upTo: string, expected: number): Promise<Set<string>> {
    const found = new Set<string>();
    let cursor = after;
    for (;;) {
      const page = await this.o.store.list(SUMMARY_PREFIX, { startAfter: cursor, maxKeys: Math.min(this.page, expected + 1) });
      for (const o of page.objects) {
        if (o.key > upTo) return found;
        found.add(o.key);
      }
      if (!page.truncated || page.objects.length === 0) return found;
      cursor = page.objects[page.objects.length - 1].key;
    }
  }

  private async announce(key: string, ids: { customerId: string; batchId: string }): Promise<boolean> {
    const metadata = await this.o.store.head(key);
    if (metadata === null) return false;
    const entries = Number(metadata[RAW_METADATA.entries]);
    const sha256 = metadata[RAW_METADATA.sha256];
    const ingestedAt = metadata[RAW_METADATA.ingestedAt];
    if (!Number.isSafeInteger(entries) || entries < 1 || !/^[0-9a-f]{64}$/.test(sha256 ?? '') || Number.isNaN(Date.parse(ingestedAt ?? ''))) {
      this.o.logger.error({ key, metadata }, 'stored batch without the metadata an announcement needs; left alone');
      return false;
    }
    const event = buildBatchIngestedEvent({ ...ids, objectKey: key, entries, sha256 }, ingestedAt);
    await this.o.publisher.publish(this.o.topic, [batchIngestedMessage(event)]);
    this.o.logger.info({ ...ids, key, ingestedAt }, 'stored batch announced again: it had never been summarized');
    return true;
  }
}
