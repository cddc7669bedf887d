import { OTHER_FAMILY, UserAgentClassifier, userAgentFamily } from './user-agent';

const CHROME_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
const FIREFOX_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0';
const SAFARI_MAC = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15';
const EDGE_WINDOWS =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91';
const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
const GOOGLEBOT_SMARTPHONE =
  'Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.216 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
const BINGBOT = 'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)';
const BINGBOT_CHROME =
  'Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36';

describe('userAgentFamily', () => {
  it.each([
    ['desktop Chrome', CHROME_WINDOWS, 'Chrome'],
    ['desktop Firefox', FIREFOX_LINUX, 'Firefox'],
    ['desktop Safari', SAFARI_MAC, 'Safari'],
    ['desktop Edge', EDGE_WINDOWS, 'Edge'],
    ['Googlebot', GOOGLEBOT, 'Googlebot'],
    ['Googlebot smartphone (a Chrome UA carrying the bot token)', GOOGLEBOT_SMARTPHONE, 'Googlebot'],
    // The crawler extension names the family as the agent spells itself.
    ['bingbot', BINGBOT, 'bingbot'],
    ['bingbot with a Chrome token', BINGBOT_CHROME, 'bingbot'],
    ['curl', 'curl/7.88.1', 'curl'],
    ['curl without a version', 'curl/', OTHER_FAMILY],
    ['Wget', 'Wget/1.21.4', 'Wget'],
    ['an HTTP library', 'python-requests/2.31.0', 'python-requests'],
    ['empty', '', OTHER_FAMILY],
    ['blank', '   ', OTHER_FAMILY],
    ['garbage', 'garbage !!! ###', OTHER_FAMILY],
    ['bare Mozilla token', 'Mozilla/5.0', OTHER_FAMILY],
    ['control characters', '\u0000\u0001\u0002', OTHER_FAMILY],
  ])('%s', (_label, ua, family) => {
    expect(userAgentFamily(ua)).toBe(family);
  });

  it.each([
    ['curl', ['curl/8.5.0', 'CURL/8.5.0', 'Curl/7.1']],
    ['Wget', ['Wget/1.21.4', 'WGET/1.21', 'wget/1.0']],
    ['Googlebot', ['Googlebot/2.1', 'GOOGLEBOT/2.1', 'Mozilla/5.0 (compatible; googlebot/2.1)']],
    ['Chrome', ['Chrome/120.0', 'CHROME/120.0']],
    ['python-requests', ['python-requests/2.31', 'Python-Requests/2.31']],
  ])('counts %s as one family however the agent capitalizes it', (family, agents) => {
    expect(agents.map(userAgentFamily)).toEqual(agents.map(() => family));
  });

  it('keeps the spelling of a family outside the known list', () => {
    expect(userAgentFamily('Mozilla/5.0 (compatible; BLEXBot/1.0)')).toBe('BLEXBot');
  });

  it('gives the same family every time (no state carried between calls)', () => {
    const order = [CHROME_WINDOWS, 'curl/8.0', '', GOOGLEBOT, FIREFOX_LINUX, 'garbage', EDGE_WINDOWS];
    const first = order.map(userAgentFamily);
    const reversed = [...order].reverse().map(userAgentFamily).reverse();
    expect(reversed).toEqual(first);
    expect(first).toEqual(['Chrome', 'curl', OTHER_FAMILY, 'Googlebot', 'Firefox', OTHER_FAMILY, 'Edge']);
  });
});

describe('UserAgentClassifier', () => {
  it('answers like the uncached function and counts hits and misses', () => {
    const c = new UserAgentClassifier(10);
    const uas = [CHROME_WINDOWS, CHROME_WINDOWS, 'curl/7.88.1', CHROME_WINDOWS, '', ''];
    expect(uas.map(c.familyOf)).toEqual(uas.map(userAgentFamily));
    expect(c.stats()).toEqual({ hits: 3, misses: 3, size: 3, capacity: 10 });
  });

  it('stays within its capacity and evicts the least recently used agent', () => {
    const c = new UserAgentClassifier(2);
    c.familyOf('curl/1');
    c.familyOf('curl/2');
    c.familyOf('curl/1'); // hit: curl/2 is now the least recently used
    c.familyOf('curl/3'); // evicts curl/2
    expect(c.stats().size).toBe(2);
    c.familyOf('curl/1'); // still cached
    c.familyOf('curl/2'); // was evicted
    expect(c.stats()).toEqual({ hits: 2, misses: 4, size: 2, capacity: 2 });
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new UserAgentClassifier(0)).toThrow(RangeError);
    expect(() => new UserAgentClassifier(1.5)).toThrow(RangeError);
  });
});
