import { LRUCache } from 'lru-cache';
import { UAParser } from 'ua-parser-js';
import { Bots } from 'ua-parser-js/extensions';

/** The family of a user agent nothing recognises, and of an empty one. */
export const OTHER_FAMILY = 'Other';

/**
 * Browsers plus the extensions for command-line clients (curl, Wget), crawlers (Googlebot,
 * bingbot), fetchers and HTTP libraries: `Bots` bundles the CLI and crawler sets with the other
 * two, so python-requests or Slackbot get their own family instead of `Other`.
 */
const parser = new UAParser(Bots);

/**
 * The user-agent family: the browser name ua-parser-js (with its extensions) gives, verbatim
 * (`Chrome`, `Firefox`, `Googlebot`, `bingbot`, `curl`), or `Other`. Depends on the string alone.
 */
export function userAgentFamily(userAgent: string): string {
  if (userAgent.trim() === '') return OTHER_FAMILY;
  const name = parser.setUA(userAgent).getBrowser().name;
  return typeof name === 'string' && name.trim() !== '' ? name : OTHER_FAMILY;
}

export interface UserAgentCacheStats {
  hits: number;
  misses: number;
  /** Distinct user agents currently held. */
  size: number;
  capacity: number;
}

export const DEFAULT_USER_AGENT_CACHE_SIZE = 10_000;

/**
 * userAgentFamily behind a bounded LRU cache keyed by the whole UA string. Parsing runs a long
 * list of regular expressions (tens of thousands per second) while real traffic repeats a
 * small set of agents, so most look-ups are hits. The result never depends on the cache.
 */
export class UserAgentClassifier {
  private readonly cache: LRUCache<string, string>;
  private hits = 0;
  private misses = 0;

  constructor(readonly capacity = DEFAULT_USER_AGENT_CACHE_SIZE) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`cache capacity must be a positive integer, got ${capacity}`);
    this.cache = new LRUCache<string, string>({ max: capacity });
  }

  readonly familyOf = (userAgent: string): string => {
    const cached = this.cache.get(userAgent);
    if (cached !== undefined) {
      this.hits++;
      return cached;
    }
    this.misses++;
    const family = userAgentFamily(userAgent);
    this.cache.set(userAgent, family);
    return family;
  };

  stats(): UserAgentCacheStats {
    return { hits: this.hits, misses: this.misses, size: this.cache.size, capacity: this.capacity };
  }
}
