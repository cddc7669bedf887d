import { LRUCache } from 'lru-cache';
import { AnnouncedBatches } from './ingest';

export interface RecentAnnouncementsOptions {
  /** Most bytes the remembered keys may take (estimated); the least recently used leave first. */
  maxBytes: number;
  /** A key is forgotten this long after it was announced. */
  maxAgeMs: number;
}

/** AnnouncedBatches in a bounded, expiring LRU cache. */
export class RecentAnnouncements implements AnnouncedBatches {
  private readonly cache: LRUCache<string, string>;

  constructor(options: RecentAnnouncementsOptions) {
    this.cache = new LRUCache<string, string>({
      maxSize: options.maxBytes,
      // Two bytes a character for the key and the 64-character digest, plus the entry's bookkeeping.
      sizeCalculation: (sha256, key) => 2 * (key.length + sha256.length) + 100,
      ttl: options.maxAgeMs,
      updateAgeOnGet: false,
    });
  }

  get(objectKey: string): string | undefined {
    return this.cache.get(objectKey);
  }

  set(objectKey: string, sha256: string): void {
    this.cache.set(objectKey, sha256);
  }

  get size(): number {
    return this.cache.size;
  }
}
