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
 * ua-parser-js takes a family's name from the user agent's own text (`CURL/8` gives `CURL`), so
 * one client spelled three ways would count as three families. Known families are folded to
 * one spelling, the one the product spells itself with; a family outside this list keeps the
 * spelling the parser gives.
 */
const CANONICAL_SPELLINGS = [
  // Browsers
  'Chrome', 'Chrome Headless', 'Chrome WebView', 'Chromium', 'Firefox', 'Safari', 'Mobile Safari', 'Edge', 'Opera', 'Opera Mini',
  'Samsung Browser', 'Brave', 'Vivaldi', 'Yandex', 'UCBrowser', 'IE', 'Mobile Chrome', 'Mobile Firefox', 'Android Browser', 'WebKit',
  // Command-line clients
  'curl', 'Wget', 'Lynx', 'ELinks', 'HTTPie', 'PowerShell',
  // HTTP libraries
  'python-requests', 'python-urllib3', 'Python-urllib', 'aiohttp', 'httpx', 'Go-http-client', 'okhttp', 'axios', 'node-fetch', 'undici',
  'Java', 'Apache-HttpClient', 'PostmanRuntime', 'libwww-perl', 'Guzzle', 'Dart', 'Ruby', 'Faraday',
  // Crawlers and fetchers
  'Googlebot', 'Googlebot-Image', 'Googlebot-News', 'Googlebot-Video', 'AdsBot-Google', 'Mediapartners-Google', 'Google-InspectionTool',
  'bingbot', 'BingPreview', 'msnbot', 'Applebot', 'DuckDuckBot', 'YandexBot', 'Baiduspider', 'Sogou web spider', 'Yeti', 'SeznamBot',
  'AhrefsBot', 'SemrushBot', 'MJ12bot', 'DotBot', 'PetalBot', 'Bytespider', 'Amazonbot', 'GPTBot', 'ChatGPT-User', 'OAI-SearchBot',
  'ClaudeBot', 'Claude-Web', 'anthropic-ai', 'PerplexityBot', 'CCBot', 'facebookexternalhit', 'Facebot', 'Twitterbot', 'LinkedInBot',
  'Slackbot', 'Slack-ImgProxy', 'Discordbot', 'TelegramBot', 'WhatsApp', 'Pinterestbot', 'redditbot', 'UptimeRobot',
];
const CANONICAL = new Map(CANONICAL_SPELLINGS.map((name) => [name.toLowerCase(), name]));

/**
 * The user-agent family: the browser name ua-parser-js (with its extensions) gives (`Chrome`,
 * `Firefox`, `Googlebot`, `bingbot`, `curl`), in one spelling whatever the case the agent used,
 * or `Other`. Depends on the string alone.
 */
export function userAgentFamily(userAgent: string): string {
  if (userAgent.trim() === '') return OTHER_FAMILY;
  const name = parser.setUA(userAgent).getBrowser().name;
  if (typeof name !== 'string' || name.trim() === '') return OTHER_FAMILY;
  return CANONICAL.get(name.toLowerCase()) ?? name;
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
